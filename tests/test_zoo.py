"""The model zoo: every shipped name loads in a fresh interpreter, and a tampered file is refused."""

import json
import shutil
import subprocess
import sys

import pytest

from hake import hub, zoo
from hake.errors import HakeError


def test_every_manifest_entry_loads_by_name_without_prior_imports():
    names = sorted(hub.manifest())
    assert {"detector.nanodet_m", "spatial_pasta.hake_hicodet", "pasta_r.hake_hico"} <= set(names)
    code = (
        "import json, sys\n"
        "from hake.zoo import create_model\n"
        "print(json.dumps({n: type(create_model(n)).__name__ for n in sys.argv[1:]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    built = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(built) == set(names)


def test_tampered_weight_file_is_refused(tmp_path, monkeypatch):
    name = "pasta_r.hake_hico"
    entry = hub.manifest()[name]
    copy = tmp_path / entry["file"]
    shutil.copy(hub.model_dir() / entry["file"], copy)
    with open(copy, "r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 0xFF]))
    monkeypatch.setenv("HAKE_MODEL_DIR", str(tmp_path))
    with pytest.raises(HakeError, match="sha256 mismatch"):
        hub.weight_path(name)


def test_unknown_name_lists_known_ones():
    with pytest.raises(HakeError, match="known:"):
        zoo.create_model("pasta_r.does_not_exist")
