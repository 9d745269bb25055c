"""``hake benchmark pasta``: per-state AP, group summaries, the object prior and the CLI on a real excerpt."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import FIXTURES
from hake.cli import app
from hake.datasets.builders.gt_hake import is_heldout
from hake.datasets.builders.spatial_pairs import PairArrays
from hake.datasets.hake_json import load_instance_level
from hake.engine.bench.pasta import object_prior_scores, split_pairs, state_ap, summarise
from hake.evaluation.pasta import no_interaction_states
from hake.vocab.core import load as load_vocab

INSTANCE_FIX = FIXTURES / "gt_hake" / "hico_det_instance_level_200.tar.gz"


def test_state_ap_of_perfect_reversed_and_empty_rankings() -> None:
    labels = np.array([[1, 0, 0], [1, 0, 1], [0, 0, 0], [0, 0, 0]])
    perfect = np.array([[0.9, 0.1, 0.2], [0.8, 0.1, 0.9], [0.1, 0.1, 0.3], [0.2, 0.1, 0.1]])
    ap = state_ap(labels, perfect)
    assert ap[0] == pytest.approx(1.0) and ap[2] == pytest.approx(1.0) and np.isnan(ap[1])
    reversed_ = state_ap(labels, -perfect)
    # positives ranked 3rd and 4th: precision 1/3 up to recall 0.5, then 2/4
    assert reversed_[0] == pytest.approx(0.5)


def test_summaries_average_states_with_positives_and_drop_no_interaction() -> None:
    ap = np.full(76, np.nan)
    ap[0], ap[1] = 0.2, 0.4  # two foot states
    ap[no_interaction_states()] = 1.0
    out = summarise(ap)
    assert out["per_group"]["foot"] == pytest.approx((0.2 + 0.4 + 1.0) / 3)
    assert out["map_without_no_interaction"] == pytest.approx(0.3)
    assert out["map"] == pytest.approx((0.6 + 6.0) / 8)
    assert set(out["per_group"]) == set(load_vocab().pasta_slices("pasta76"))


def _rows(objects: list[int], pasta: list[list[int]]) -> PairArrays:
    n = len(objects)
    p = np.zeros((n, 76), np.float32)
    for i, idx in enumerate(pasta):
        p[i, idx] = 1
    z4 = np.zeros((n, 4), np.float32)
    return PairArrays(z4, z4, np.ones((n, 2), np.float32), np.array(objects, np.int64), p, np.ones(n, bool),
                      np.zeros((n, 117), np.float32), np.zeros((n, 600), np.float32), np.zeros(n, np.int8),
                      np.zeros((n, 160), np.float32))


def test_object_prior_is_the_smoothed_state_frequency_per_object() -> None:
    train = _rows([3, 3, 3, 5], [[10], [10, 11], [], [11]])
    scores = object_prior_scores(train, _rows([3, 5], [[], []]))
    assert scores[0, 10] == pytest.approx((2 + 1) / (3 + 2)) and scores[0, 11] == pytest.approx(2 / 5)
    assert scores[1, 11] == pytest.approx(2 / 3) and scores[1, 10] == pytest.approx(1 / 3)


def test_split_keeps_heldout_images_out_of_training() -> None:
    images = load_instance_level(INSTANCE_FIX)
    train, test = split_pairs(images, str(INSTANCE_FIX))
    held = [im for im in images if is_heldout(im.name)]
    assert 0 < len(test) and test.has_pasta.all() and (test.kind == 0).all()
    # every held-out pair comes from a held-out image: its boxes are not among the training rows
    train_keys = {tuple(b) for b in np.round(train.boxes_h, 1)}
    assert held and not any(tuple(b) in train_keys for b in np.round(test.boxes_h, 1))


def test_cli_writes_valid_json_with_the_models(tmp_path) -> None:
    out = tmp_path / "pasta.json"
    res = CliRunner().invoke(app, ["benchmark", "pasta", "--annotation", str(INSTANCE_FIX), "--json", str(out),
                                   "--epochs", "1", "--model-seeds", "1", "--seeds", "2"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "NaN" not in text
    report = json.loads(text)
    results = report["results"]
    assert {"spatial_pasta", "object_prior", "chance"} <= set(results)
    for r in results.values():
        assert 0 <= r["map"] <= 1 and set(r["per_group"]) == set(load_vocab().pasta_slices("pasta76"))
    assert results["object_prior"]["seeds"] == 2 and results["spatial_pasta"]["seeds"] == 1
    assert results["object_prior"]["map"] > results["chance"]["map"]
    assert report["num_heldout_pairs"] > 0 and "| spatial_pasta |" in res.output
