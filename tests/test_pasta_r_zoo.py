"""The shipped GT-HAKE reasoner ``pasta_r.hake_hico``: loadable by name, and its recorded held-out
figures are what it scores on the real annotations."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from hake.cli import app
from hake.hub import manifest, weight_path
from hake.models.pasta_r import PastaR
from hake.zoo import create_model

torch.set_num_threads(1)
NAME = "pasta_r.hake_hico"


def _info() -> dict:
    from safetensors import safe_open

    with safe_open(str(weight_path(NAME)), framework="pt") as fh:
        return json.loads(fh.metadata()["config"])["info"]


def test_loads_by_name() -> None:
    entry = manifest()[NAME]
    assert entry["file"].endswith(".safetensors") and len(entry["sha256"]) == 64
    model = create_model(NAME)
    assert isinstance(model, PastaR) and not model.training
    assert model.in_spec.n_objects == 80 and model.in_spec.n_parts == 10
    info = _info()
    assert info["train"]["seed"] == 0 and info["level"] == "image"


def test_recorded_heldout_metrics_are_reproduced(hake_image_level) -> None:
    from hake.datasets.builders.gt_hake import load_gt_hake
    from hake.engine.bench.baselines import object_prior
    from hake.engine.train.pasta_r import evaluate_scores, metrics_of, predict

    train, test = load_gt_hake(hake_image_level, "image").split()
    model = create_model(NAME)
    got = metrics_of(evaluate_scores(predict(model, test), test, train))
    recorded = _info()["heldout"]
    for mode in ("default", "known_object"):
        for key, value in recorded[mode].items():
            assert got[mode][key] == pytest.approx(value, abs=1e-6), (mode, key)
    prior = metrics_of(evaluate_scores(object_prior(train, test), test, train))
    assert got["default"]["mAP"] >= prior["default"]["mAP"] + 0.05


def test_explain_uses_the_default_model() -> None:
    res = CliRunner().invoke(app, ["explain", "--pasta", "hand:hold,hip:sit on,leg:straddle", "--objects", "horse",
                                   "--top", "3"])
    assert res.exit_code == 0, res.output
    assert "integrated gradients" in res.output and "ride horse" in res.output
    lines = [ln.split() for ln in res.output.splitlines() if ln.startswith("    ")]
    assert lines and all(ln[1].rstrip(":") in ("foot", "leg", "hip", "hand", "arm", "head") for ln in lines)
    res = CliRunner().invoke(app, ["explain", "--pasta", "hip:sit on", "--objects", "horse", "--all-features"])
    assert res.exit_code == 0 and "object: horse" in res.output
