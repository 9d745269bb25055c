"""GT-HAKE data: the held-out split, HICO-convention labels, pair merging, baselines."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from conftest import FIXTURES
from hake.datasets.builders.gt_hake import GtHakeData, is_heldout, load_gt_hake, merge_pairs
from hake.engine.bench.baselines import interaction_pasta, object_prior, pasta_prior
from hake.errors import DataError
from hake.vocab.core import load as load_vocab

IMAGE_FIX = FIXTURES / "gt_hake" / "hico_image_level_600.tar.gz"
INSTANCE_FIX = FIXTURES / "gt_hake" / "hico_det_instance_level_200.tar.gz"


def _toy(pasta_idx: list[list[int]], hois: list[list[int]], names: list[str] | None = None) -> GtHakeData:
    n = len(hois)
    p = np.zeros((n, 76), np.float32)
    h = np.zeros((n, 600), np.float32)
    o = np.zeros((n, 80), np.float32)
    for i in range(n):
        p[i, pasta_idx[i]] = 1
        h[i, hois[i]] = 1
        o[i, load_vocab().hoi_object[hois[i]]] = 1
    return GtHakeData(np.array(names or [f"im{i}" for i in range(n)]), p, None, o, h)


def test_heldout_rule_is_the_documented_hash() -> None:
    names = [f"HICO_train2015_{i:08d}.jpg" for i in range(1, 2001)]
    expected = [int(hashlib.sha1(n.encode()).hexdigest()[:8], 16) % 5 == 0 for n in names]
    assert [is_heldout(n) for n in names] == expected
    assert 0.17 < np.mean(expected) < 0.23


def test_the_five_folds_partition_the_images() -> None:
    names = [f"HICO_train2015_{i:08d}.jpg" for i in range(1, 1001)]
    held = np.array([[is_heldout(n, f) for n in names] for f in range(5)])
    assert (held.sum(axis=0) == 1).all()  # every image is held out in exactly one fold
    data = _toy([[0]] * len(names), [[1]] * len(names), names)
    train, test = data.split(2)
    assert set(test.names) == {n for n, h in zip(names, held[2]) if h} and len(train) + len(test) == len(names)
    with pytest.raises(DataError, match="fold"):
        is_heldout(names[0], 5)


def test_hico_labels_follow_the_convention() -> None:
    v = load_vocab()
    ride_horse = next(i for i in range(600) if v.hoi_name(i) == "ride horse")
    feed_horse = next(i for i in range(600) if v.hoi_name(i) == "feed horse")
    hold_cup = next(i for i in range(600) if v.hoi_name(i) == "hold cup")
    d = _toy([[0], [1]], [[ride_horse], [hold_cup]])
    lab = d.hico_labels()
    assert lab[0, ride_horse] == 1 and lab[0, feed_horse] == -1 and np.isnan(lab[0, hold_cup])
    assert lab[1, hold_cup] == 1 and np.isnan(lab[1, ride_horse])
    horse = v.hois_of_object(v.hoi_object[ride_horse])
    assert (lab[0, horse] != 0).all() and np.isnan(np.delete(lab[0], horse)).all()
    assert d.verbs[0, v.hoi_verb[ride_horse]] == 1 and d.verbs[0].sum() == 1
    assert d.train_pos_count()[ride_horse] == 1 and d.train_pos_count().sum() == 2


def test_merge_pairs_groups_labels_of_one_human_object_pair() -> None:
    h = np.array([[0, 0, 100, 100], [2, 1, 101, 99], [300, 0, 400, 100], [0, 0, 100, 100]], float)
    o = np.array([[50, 50, 200, 200], [51, 50, 199, 201], [50, 50, 200, 200], [50, 50, 200, 200]], float)
    obj = np.array([3, 3, 3, 4])
    # label 1 overlaps label 0 on both boxes; label 2 is another person; label 3 another object class
    assert merge_pairs(h, o, obj).tolist() == [0, 0, 1, 2]


def test_image_level_fixture() -> None:
    d = load_gt_hake(IMAGE_FIX, "image")
    assert 0 < len(d) <= 600 and d.pasta.shape == (len(d), 76) and d.parts.shape == (len(d), 10)
    assert (d.hois.sum(axis=1) > 0).all()  # images without HOIs are dropped
    for s in load_vocab().pasta_slices("pasta76").values():  # every group has at least one state
        assert (d.pasta[:, s].sum(axis=1) >= 1).all()
    # objects present are exactly the objects of the listed HOIs
    assert np.array_equal(d.objects > 0, (d.hois @ load_vocab().hoi_to_object_matrix) > 0)
    first = list(d.names).index("HICO_train2015_00000001.jpg")
    assert np.flatnonzero(d.hois[first]).tolist() == [152, 153, 154, 155]
    train, test = d.split()
    assert len(train) + len(test) == len(d) and all(is_heldout(n) for n in test.names)


def test_instance_level_fixture_merges_labels_into_pairs() -> None:
    d = load_gt_hake(INSTANCE_FIX, "instance")
    assert d.parts is None and (d.objects.sum(axis=1) == 1).all()
    first = np.flatnonzero(d.names == "HICO_train2015_00000001.jpg")
    # the four labels of image 1 (HOIs 153-156, one person on one bicycle) form one pair
    assert len(first) == 1 and np.flatnonzero(d.hois[first[0]]).tolist() == [152, 153, 154, 155]
    for s in load_vocab().pasta_slices("pasta76").values():
        block = d.pasta[:, s]
        assert ((block[:, :-1].max(axis=1) > 0) != (block[:, -1] > 0)).all()  # state xor no_interaction


def test_bad_level_names_the_field() -> None:
    with pytest.raises(DataError, match="level"):
        load_gt_hake(IMAGE_FIX, "pixel")


def test_object_prior_is_the_training_frequency() -> None:
    v = load_vocab()
    ride, feed = (next(i for i in range(600) if v.hoi_name(i) == n) for n in ("ride horse", "feed horse"))
    train = _toy([[0]] * 4, [[ride], [ride], [ride, feed], [feed]])
    test = _toy([[0], [0]], [[ride], [0]])  # HOI 0 has another object than horse
    s = object_prior(train, test)
    assert s[0, ride] == pytest.approx(3 / 4) and s[0, feed] == pytest.approx(2 / 4)
    assert s[1, ride] == 0  # horse absent


def test_pasta_prior_uses_the_most_frequent_cooccurring_state() -> None:
    hold, carry, no_foot = 27, 28, 11  # hand:hold, hand:carry, foot:no_interaction
    assert not interaction_pasta()[no_foot] and interaction_pasta()[hold]
    train = _toy([[hold, no_foot], [hold, no_foot], [carry, no_foot], [hold, no_foot]], [[5], [5], [5], [7]])
    test = _toy([[hold], [carry]], [[5], [5]])
    scores, best = pasta_prior(train, test)
    assert best[5] == hold and best[7] == hold and best[6] == -1  # no_interaction states never chosen
    assert scores[0, 5] == pytest.approx(2 / 3) and scores[1, 5] == 0 and scores[0, 7] == pytest.approx(1 / 3)


def test_real_split_sizes(hake_image_level) -> None:
    d = load_gt_hake(hake_image_level, "image")
    train, test = d.split()
    assert len(d) == 38118 - 4517
    assert 0.19 < len(test) / len(d) < 0.21
    assert set(train.names).isdisjoint(test.names)


@pytest.mark.slow
def test_linear_reasoner_beats_the_baselines_on_real_data(hake_image_level) -> None:
    import torch

    from hake.engine.bench.baselines import baseline_scores
    from hake.engine.train.pasta_r import TrainConfig, evaluate_scores, metrics_of, run_gt_hake

    torch.set_num_threads(1)
    data = load_gt_hake(hake_image_level, "image")
    train, test = data.split()
    base = {b: metrics_of(evaluate_scores(baseline_scores(b, train, test), test, train))["default"]["mAP"]
            for b in ("object_prior", "pasta_prior")}
    _, full = run_gt_hake(data, TrainConfig(kind="linear", input="pasta+object", epochs=4))
    _, pasta_only = run_gt_hake(data, TrainConfig(kind="linear", input="pasta", epochs=4))
    assert full["default"]["mAP"] >= base["object_prior"] + 0.05
    assert pasta_only["default"]["mAP"] > base["pasta_prior"]
