"""Damaged weight files are one clear error naming the file; ``hake models`` and ``hake --version``."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from hake import hub
from hake.cli import app
from hake.errors import HakeError
from hake.models.a2v_predictor import A2VPredictor, save_model
from hake.models.activity2vec import A2VSpec, Activity2Vec
from hake.models.weights_io import read_weights, save_weights

SPEC = A2VSpec(backbone="tiny", pretrained=False, language=False, neck=16, hidden=16, image_size=128)


@pytest.fixture(scope="module")
def a2v_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "a2v.safetensors"
    save_model(path, Activity2Vec(SPEC), None)
    return path


def _rewrite(src, dst, edit_tensors=None, edit_meta=None):
    tensors, meta = read_weights(src)
    if edit_tensors:
        edit_tensors(tensors)
    if edit_meta:
        edit_meta(meta)
    save_weights(dst, tensors, meta)
    return dst


def test_a_good_file_loads(a2v_file) -> None:
    assert isinstance(A2VPredictor.load(a2v_file), A2VPredictor)


@pytest.mark.parametrize("damage, message", [
    ("extra", "Unexpected key"), ("missing", "Missing key"), ("shape", "size mismatch"),
    ("huge_spec", "field 'neck': expected an integer in 1..4096"), ("bad_spec", "spec is not JSON"),
    ("label_space", "unknown label space"), ("truncated", "not a readable safetensors file"),
])
def test_damaged_activity2vec_files_name_the_file_and_the_problem(a2v_file, tmp_path, damage, message) -> None:
    dst = tmp_path / f"{damage}.safetensors"
    first = next(k for k in read_weights(a2v_file)[0] if k.endswith("weight"))
    if damage == "extra":
        _rewrite(a2v_file, dst, lambda t: t.update({"a2v.ghost": torch.zeros(2)}))
    elif damage == "missing":
        _rewrite(a2v_file, dst, lambda t: t.pop(first))
    elif damage == "shape":
        _rewrite(a2v_file, dst, lambda t: t.update({first: torch.zeros(3, 3, 3)}))
    elif damage == "huge_spec":  # 10^6 channels would ask for far more memory than exists
        _rewrite(a2v_file, dst, edit_meta=lambda m: m.update(spec=json.dumps({**json.loads(m["spec"]), "neck": 10**6})))
    elif damage == "bad_spec":
        _rewrite(a2v_file, dst, edit_meta=lambda m: m.update(spec="{not json"))
    elif damage == "label_space":
        _rewrite(a2v_file, dst, edit_meta=lambda m: m.update(spec=json.dumps({**json.loads(m["spec"]), "pasta": "x"})))
    else:
        raw = a2v_file.read_bytes()
        dst.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(HakeError, match=message) as info:
        A2VPredictor.load(dst)
    assert str(dst) in str(info.value)


def test_hake_models_lists_the_zoo_and_version_prints() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["models", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == hub.names()
    for r in rows:
        entry = hub.manifest()[r["name"]]
        assert r["sha256"] == entry["sha256"] and r["licence"] == entry["licence"] and r["source"] == entry["source"]
        assert r["bytes"] == (hub.model_dir() / entry["file"]).stat().st_size
    res = runner.invoke(app, ["models"], env={"COLUMNS": "80"})
    assert res.exit_code == 0 and all(len(line) <= 80 for line in res.stdout.splitlines())
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip().startswith("hake 0.")


def test_the_shipped_weights_sit_inside_the_package_unless_overridden(monkeypatch, tmp_path) -> None:
    from pathlib import Path

    import hake

    monkeypatch.delenv("HAKE_MODEL_DIR", raising=False)
    packaged = Path(hake.__file__).resolve().parent / "weights"
    assert hub.model_dir() == packaged
    assert all((packaged / e["file"]).is_file() for e in hub.manifest().values())
    monkeypatch.setenv("HAKE_MODEL_DIR", str(tmp_path))
    assert hub.model_dir() == tmp_path
