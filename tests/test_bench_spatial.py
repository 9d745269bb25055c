"""Pair NMS, random tie breaks and mean ± sd of the benchmarks, on cases whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from hake.datasets.builders.spatial_pairs import GtPairs
from hake.engine.bench.spatial import duplicate_groups, pair_nms
from hake.engine.bench.spread import mean_sd, random_tie_break


def _pairs(boxes_h: list[list[float]], boxes_o: list[list[float]], objects: list[int], images: list[int]) -> GtPairs:
    n = len(objects)
    return GtPairs(np.array(images, np.int64), np.array(boxes_h, np.float32), np.array(boxes_o, np.float32),
                   np.array(objects, np.int64), np.full((n, 2), 640, np.float32))


def test_duplicates_of_one_image_and_object_share_a_group() -> None:
    a, a2, far = [10, 10, 110, 210], [11, 10, 111, 211], [300, 300, 400, 400]
    pairs = _pairs([a, a2, a, a, far], [far, far, far, far, a], [3, 3, 4, 3, 3], [0, 0, 0, 1, 1])
    g = duplicate_groups(pairs)
    assert g[0] == g[1]  # near-identical boxes, same object, same image
    assert len({g[0], g[2], g[3], g[4]}) == 4  # other object / other image / other layout


def test_pair_nms_keeps_the_best_member_per_hoi_and_the_first_on_ties() -> None:
    scores = np.zeros((3, 600))
    scores[:, 5] = [0.2, 0.9, 0.9]
    scores[:, 7] = [0.6, 0.6, 0.1]
    out = pair_nms(scores, np.array([0, 0, 1]), factor=0.01)
    np.testing.assert_allclose(out[:, 5], [0.002, 0.9, 0.9])  # row 2 is alone in its group
    np.testing.assert_allclose(out[:, 7], [0.6, 0.006, 0.1])
    assert (out[:, 0] == 0).all()


def test_random_tie_break_keeps_the_order_of_distinct_scores_and_shuffles_ties() -> None:
    s = np.array([0.5, 0.1, 0.5, 0.5, 0.9])
    orders = set()
    for seed in range(20):
        t = random_tie_break(s, np.random.default_rng(seed))
        assert t[4] == t.max() and t[1] == t.min() and len(np.unique(t)) == 5
        orders.add(tuple(np.argsort(t)))
    assert len(orders) > 1


def test_mean_sd_over_runs() -> None:
    runs = [{"default": {"full": x}} for x in (0.2, 0.4, 0.6)]
    out = mean_sd(runs)
    assert out["default"]["full"] == pytest.approx(0.4)
    assert out["sd"]["default"]["full"] == pytest.approx(0.2)
    assert out["seeds"] == 3
    assert mean_sd(runs[:1])["sd"]["default"]["full"] == 0.0


def test_validation_gt_from_real_instance_labels_scores_its_own_pairs_perfectly() -> None:
    from pathlib import Path

    from hake.datasets.builders.spatial_pairs import gt_pairs
    from hake.datasets.hake_json import load_instance_level
    from hake.engine.bench.spatial import candidate_rows, gt_from_instances
    from hake.evaluation.hicodet import evaluate_hicodet

    path = Path(__file__).parent / "fixtures" / "spatial" / "hake_hicodet_first40.json"
    gt = gt_from_instances(load_instance_level(path), str(path))
    pairs = gt_pairs(gt, merge_iou=1.0)
    assert len(pairs) == sum(len(h) for h in gt.hoi)  # raw protocol: one candidate per label
    oracle = np.zeros((len(pairs), 600))
    oracle[np.arange(len(pairs)), np.concatenate(gt.hoi)] = 1.0
    res = evaluate_hicodet(gt, **candidate_rows(pairs, oracle))
    present = np.unique(np.concatenate(gt.hoi))
    np.testing.assert_allclose(res.default.per_class_ap[present], 1.0)


def test_verb_weight_mixes_hoi_and_verb_probabilities_and_keeps_other_objects_at_zero() -> None:
    import torch

    from hake.engine.bench.spatial import spatial_scores
    from hake.models.spatial import SpatialConfig, SpatialPasta
    from hake.vocab import load

    torch.manual_seed(0)
    model = SpatialPasta(SpatialConfig(obj_dim=8, hidden=32, group_dim=4, reasoner_hidden=32)).eval()
    pairs = _pairs([[10, 10, 110, 210]] * 2, [[50, 100, 200, 250], [0, 0, 60, 60]], [17, 41], [0, 0])
    plain, mixed = spatial_scores(model, pairs), spatial_scores(model, pairs, verb_weight=0.5)
    with torch.no_grad():
        out = model(*model.inputs(pairs.boxes_h, pairs.boxes_o, pairs.sizes, pairs.object))
        verb = torch.sigmoid(out["verb"]).numpy()
    v = load()
    own = v.hoi_object[None, :] == pairs.object[:, None]
    assert (plain[~own] == 0).all() and (mixed[~own] == 0).all()
    np.testing.assert_allclose(mixed[own], np.sqrt(plain * verb[:, v.hoi_verb])[own], rtol=1e-5)
