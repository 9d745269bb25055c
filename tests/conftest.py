"""Shared test fixtures: where the real data is, and one thread for torch."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # numpy loads its BLAS threads when imported: after the thread settings below
    import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The real HAKE / HICO-DET data lives beside the checkout; tests that need it skip without it.
SHARED_DATA = Path(os.environ.get("HAKE_SHARED_DATA", REPO.parent / "shared" / "data"))

try:  # keep torch on one thread: the CI machine has 2 shared cores
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a hard dependency
    pass


def shared_file(*parts: str) -> Path:
    """Path of a file under the shared data folder, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture
def hake_image_level() -> Path:
    return shared_file("hake", "annotations", "hico-image-level.tar.gz")


@pytest.fixture
def hake_instance_level() -> Path:
    return shared_file("hake", "annotations", "hico-det-instance-level.tar.gz")


@pytest.fixture
def hicodet_test_gt() -> Path:
    return shared_file("hicodet", "instances_test2015.json")


def large_gt_persons(image_id: int) -> np.ndarray:
    """(K, 4) x1, y1, x2, y2 pixels of the COCO persons larger than 96² px of one committed coco-mini photo."""
    import numpy as np

    inst = json.loads((FIXTURES / "coco_mini" / "instances.json").read_text())
    rows = [a["bbox"] for a in inst["annotations"]
            if a["image_id"] == image_id and a["category_id"] == 1 and a["area"] > 96 ** 2]
    return np.array([[x, y, x + w, y + h] for x, y, w, h in rows])


def write_tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    """Write a ``.tar.gz`` holding ``members`` (name -> bytes) at ``path``; names are not checked."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def readme_python_block(section: str) -> str:
    """The first ``python`` code block of the README section ``## <section>``, as written."""
    import re

    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert found, f"README has no '## {section}' section"
    block = re.search(r"```python\n(.*?)```", found.group(1), re.S)
    assert block, f"the {section} section has no python example"
    return block.group(1)


# The `standin` fixture (the deterministic stand-in PaSta model served to `hake infer`) for every test file.
from pipeline_standin import standin  # noqa: E402,F401
