"""``hake train pasta-r``, ``hake benchmark pasta-r`` and ``hake explain`` on the committed excerpts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES
from hake.cli import app
from hake.datasets.builders.gt_hake import load_gt_hake

IMAGE_FIX = FIXTURES / "gt_hake" / "hico_image_level_600.tar.gz"
INSTANCE_FIX = FIXTURES / "gt_hake" / "hico_det_instance_level_200.tar.gz"
MODES = ("default", "known_object")


def _train(out, *extra: str) -> None:
    res = CliRunner().invoke(app, ["train", "pasta-r", "--data", str(IMAGE_FIX), "--out", str(out),
                                   "--epochs", "2", *extra])
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("pasta_r") / "run"
    _train(out, "--reasoner", "linear", "--seed", "3")
    return out


def test_train_writes_model_config_metrics(trained) -> None:
    assert (trained / "model.safetensors").stat().st_size > 0
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["train"]["kind"] == "linear" and cfg["train"]["seed"] == 3 and cfg["train"]["epochs"] == 2
    assert cfg["model"]["in_spec"]["n_objects"] == 80 and "sha1" in cfg["split"]
    m = json.loads((trained / "metrics.json").read_text())
    for mode in MODES:
        assert set(m[mode]) == {"mAP", "few@1", "few@5", "few@10"}
        assert all(0.0 <= v <= 1.0 for v in m[mode].values() if v == v)  # few@k may be NaN (no class)
    train, test = load_gt_hake(IMAGE_FIX, "image").split()
    assert (m["n_train"], m["n_heldout"]) == (len(train), len(test)) == (cfg["n_train"], cfg["n_heldout"])


def test_training_is_deterministic_under_a_seed(trained, tmp_path) -> None:
    _train(tmp_path / "same", "--reasoner", "linear", "--seed", "3")
    _train(tmp_path / "other", "--reasoner", "linear", "--seed", "4")
    first = (trained / "model.safetensors").read_bytes()
    assert (tmp_path / "same" / "model.safetensors").read_bytes() == first
    assert (tmp_path / "other" / "model.safetensors").read_bytes() != first
    assert (tmp_path / "same" / "metrics.json").read_text() == (trained / "metrics.json").read_text()


def test_train_instance_level_tree(tmp_path) -> None:
    res = CliRunner().invoke(app, ["train", "pasta-r", "--data", str(INSTANCE_FIX), "--level", "instance",
                                   "--reasoner", "tree", "--hidden", "16", "--epochs", "1", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["level"] == "instance" and cfg["model"]["in_spec"]["n_parts"] == 0


def test_bad_options_are_one_line_errors(tmp_path) -> None:
    res = CliRunner().invoke(app, ["train", "pasta-r", "--data", str(IMAGE_FIX), "--out", str(tmp_path),
                                   "--reasoner", "transformer"])
    assert res.exit_code == 2 and "transformer" in res.output


def test_benchmark_json(tmp_path) -> None:
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(app, ["benchmark", "pasta-r", "--data", str(IMAGE_FIX), "--json", str(out),
                                   "--reasoners", "linear", "--runs", "2"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "NaN" not in text
    report = json.loads(text)
    assert report["settings"] == ["default", "known_object", "known_object_gt_objects"]
    results = report["results"]
    assert set(results) == {"linear", "object_prior", "pasta_prior", "chance"}
    linear = results["linear"]
    assert linear["seeds"] == linear["splits"] == 2 and len(linear["classes"]) == 2
    for setting in report["settings"]:
        assert 0.0 <= linear[setting]["mAP"] <= 1.0 and linear["sd"][setting]["mAP"] >= 0.0
    assert all(c["mAP"] > 0 and 0 <= c["rare"] <= c["rare_of"] == 138 for c in linear["classes"])
    # the object prior needs the objects: it is reported only where they are given
    assert set(results["object_prior"]) - {"sd", "seeds", "splits"} == {"known_object_gt_objects"}
    assert results["chance"]["seeds"] == 2 * 5  # 5 tie seeds per split
    assert "object_prior" in res.output


def test_explain_text_and_json(trained, tmp_path) -> None:
    model = str(trained / "model.safetensors")
    res = CliRunner().invoke(app, ["explain", "--model", model, "--pasta", "hand:hold,hip:sit on",
                                   "--objects", "bicycle", "--top", "2", "--features", "3"])
    assert res.exit_code == 0, res.output
    assert "exact" in res.output and "hand: hold" in res.output
    out = tmp_path / "e.json"
    res = CliRunner().invoke(app, ["explain", "--model", model, "--pasta", "hand:hold", "--objects", "bicycle",
                                   "--json", str(out)])
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    assert d["reasoner"] == "linear" and len(d["hois"]) == 5
    assert all(len(h["contributions"]) <= 5 for h in d["hois"])
    # the object input is required for a model that reads it
    res = CliRunner().invoke(app, ["explain", "--model", model, "--pasta", "hand:hold"])
    assert res.exit_code == 2 and "--objects" in res.output
    res = CliRunner().invoke(app, ["explain", "--model", model, "--pasta", "hand:levitate", "--objects", "bicycle"])
    assert res.exit_code == 2 and "hand states" in res.output


def test_explain_from_json_input(trained, tmp_path) -> None:
    inp = tmp_path / "in.json"
    inp.write_text(json.dumps({"pasta": [0.0] * 75 + [1.0], "objects": ["horse"]}))
    res = CliRunner().invoke(app, ["explain", "--model", str(trained / "model.safetensors"), "--input", str(inp),
                                   "--json", "-"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["hois"]
    inp.write_text(json.dumps({"pasta": [0.0] * 3}))
    res = CliRunner().invoke(app, ["explain", "--model", str(trained / "model.safetensors"), "--input", str(inp)])
    assert res.exit_code == 2 and "pasta" in res.output
