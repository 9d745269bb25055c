"""The rules of the house: small rooms, documented imports, one way to build a model."""

from __future__ import annotations

import ast

import pytest
import tomllib

from conftest import REPO
from hake import hub, zoo
from hake.errors import HakeError

SRC = REPO / "src" / "hake"


def _packages():
    return sorted(p for p in SRC.rglob("__init__.py"))


def test_no_folder_holds_more_than_twelve_modules() -> None:
    for init in _packages():
        modules = [p for p in init.parent.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 12, f"{init.parent.relative_to(SRC)} has {len(modules)} modules"


def test_every_folder_of_modules_is_a_package() -> None:
    folders = {p.parent for p in SRC.rglob("*.py")}
    missing = sorted(f.relative_to(SRC).as_posix() for f in folders if not (f / "__init__.py").is_file())
    assert not missing, f"folders without __init__.py (no docstring, unchecked by these tests): {missing}"


def test_every_package_says_what_it_may_import() -> None:
    for init in _packages():
        if init.parent == SRC:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "may import" in doc.lower(), f"{init.relative_to(SRC)}: docstring lacks 'May import'"


def test_the_torch_rule_covers_every_numpy_only_dataset_module() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    rule = next(c for c in contracts if "torch outside" in c["name"])
    numpy_only = [p for p in (SRC / "datasets").rglob("*.py") if p.stem not in ("__init__", "torch")]
    modules = {"hake." + ".".join(p.relative_to(SRC).with_suffix("").parts) for p in numpy_only}
    assert set(rule["source_modules"]) == modules


def test_one_table_of_coco17_and_of_label_sizes() -> None:
    hits = {}
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        needles = ('"left_shoulder"', "NUM_HOIS = ", "(15, 13), (13, 11)", '= "spatial_pasta.hake_hicodet"',
                   '= "pose_pasta.coco_mini"')
        for needle in needles:
            if needle in text:
                hits.setdefault(needle, []).append(path.relative_to(SRC).as_posix())
    assert hits['"left_shoulder"'] == ["vocab/coco.py"]
    assert hits["(15, 13), (13, 11)"] == ["vocab/coco.py"]
    assert hits["NUM_HOIS = "] == ["vocab/sizes.py"]
    assert hits['= "spatial_pasta.hake_hicodet"'] == ["hub.py"]
    assert hits['= "pose_pasta.coco_mini"'] == ["hub.py"]


def test_create_model_builds_every_family_from_a_name_a_short_name_or_a_file() -> None:
    from hake.models.pasta_r import PastaR
    from hake.models.spatial import SpatialPasta
    from hake.perception import MoveNetSingle, NanoDet

    assert isinstance(zoo.create_model("spatial_pasta.hake_hicodet"), SpatialPasta)
    assert isinstance(zoo.create_model(hub.weight_path("spatial_pasta.hake_hicodet")), SpatialPasta)
    assert isinstance(zoo.create_model(hub.weight_path("pasta_r.hake_hico")), PastaR)
    assert isinstance(zoo.create_model("movenet_thunder", family="pose"), MoveNetSingle)
    assert isinstance(zoo.create_model("nanodet_m", family="detector"), NanoDet)
    with pytest.raises(HakeError, match="is a pasta_r model, expected a spatial_pasta model"):
        zoo.create_model("pasta_r.hake_hico", family="spatial_pasta")
    with pytest.raises(HakeError, match="unknown model"):
        zoo.create_model("no_such_model")


def test_a_device_this_machine_lacks_is_refused_for_torch_models_too() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(HakeError, match="no CUDA GPU"):
        zoo.create_model("spatial_pasta.hake_hicodet", device="cuda")
    with pytest.raises(HakeError, match="unknown device"):
        zoo.check_device("tpu")


def test_the_pipeline_refuses_a_model_that_cannot_predict_pasta() -> None:
    from hake.engine.infer.pipeline import load_pasta_model

    with pytest.raises(HakeError, match="not a PaSta model"):
        load_pasta_model("pasta_r.hake_hico")


def test_shipped_files_name_no_machine_or_data_paths() -> None:
    """What ships in the package (manifest, model files, tables, and the README as its long description)
    must not point at this checkout's data; nor may the code, benchmarks and tools (they name ``DATA/``)."""
    shipped = [SRC / "manifest.json", *sorted((REPO / "models").glob("*.json")), *sorted(SRC.rglob("*.json")),
               REPO / "README.md", REPO / "MODELS.md", *sorted(SRC.rglob("*.py")),
               *sorted((REPO / "benchmarks").glob("*.py")), *sorted((REPO / "tools").glob("*.py"))]
    for path in shipped:
        text = path.read_text(encoding="utf-8")
        for needle in ("../shared", "/work/", "/tmp/", "/home/", "/root/"):
            assert needle not in text, f"{path.relative_to(REPO)} names {needle!r}"
