"""HICO-DET evaluator: equal to the loop-by-loop reference, edge cases, real GT, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval_reference import ref_hicodet
from hake.datasets.hicodet import HicoDetGT, load_detections, load_test_gt, parse_test_gt
from hake.errors import DataError
from hake.evaluation.hicodet import evaluate_hicodet, known_object_mask
from hake.vocab import load

CLASSES = [0, 1, 8, 100, 101]  # objects 0 and 25; 8 is rare
HOI_OBJECT = load().hoi_object


def make_gt(per_image: list[list[tuple[int, list[float], list[float]]]], pos_labels=None) -> HicoDetGT:
    hoi = [np.array([p[0] for p in img], np.int64) for img in per_image]
    bh = [np.array([p[1] for p in img], np.float64).reshape(-1, 4) for img in per_image]
    bo = [np.array([p[2] for p in img], np.float64).reshape(-1, 4) for img in per_image]
    rare = load().rare_hois
    return HicoDetGT([f"img{i}.jpg" for i in range(len(per_image))], np.full((len(per_image), 2), 64), bh, bo,
                     hoi, [HOI_OBJECT[h] for h in hoi], [load().hoi_verb[h] for h in hoi], rare,
                     np.setdiff1d(np.arange(600), rare), pos_labels)


def compare(gt: HicoDetGT, dets: list[tuple], classes=CLASSES, check_others: bool = True):
    img = np.array([d[0] for d in dets], np.int64)
    hoi = np.array([d[1] for d in dets], np.int64)
    bh = np.array([d[2] for d in dets], np.float64).reshape(-1, 4)
    bo = np.array([d[3] for d in dets], np.float64).reshape(-1, 4)
    sc = np.array([d[4] for d in dets], np.float64)
    res = evaluate_hicodet(gt, img, hoi, bh, bo, sc)
    g_img, g_hoi, g_bh, g_bo = gt.flat()
    ko, _ = known_object_mask(gt, HOI_OBJECT)
    ref_def, ref_ko = ref_hicodet(g_img, g_hoi, g_bh, g_bo, img, hoi, bh, bo, sc, ko, HOI_OBJECT, classes)
    for mode, ref in ((res.default, ref_def), (res.known_object, ref_ko)):
        for c in classes:
            assert mode.per_class_ap[c] == pytest.approx(ref[c][0], abs=1e-12), c
            r = mode.per_class_recall[c]
            assert (math.isnan(r) and math.isnan(ref[c][1])) or r == pytest.approx(ref[c][1], abs=1e-12), c
        if check_others:
            assert not mode.per_class_ap[np.setdiff1d(np.arange(600), classes)].any()
        assert mode.full == pytest.approx(mode.per_class_ap.mean(), abs=1e-15)
    return res


coord = st.integers(0, 12).map(float)
box = st.tuples(coord, coord, st.integers(-1, 10).map(float), st.integers(-1, 10).map(float)).map(
    lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]])
score = st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0])


@st.composite
def scenario(draw):
    n_img = draw(st.integers(1, 4))
    per_image = [draw(st.lists(st.tuples(st.sampled_from(CLASSES), box, box), max_size=4)) for _ in range(n_img)]
    dets = []
    for _ in range(draw(st.integers(0, 25))):
        i = draw(st.integers(0, n_img - 1))
        if per_image[i] and draw(st.booleans()):  # a jittered copy of a GT pair (boxes 1-based -> 0-based)
            h, bh, bo = per_image[i][draw(st.integers(0, len(per_image[i]) - 1))]
            j = draw(st.sampled_from([-1.0, 0.0, 0.0, 1.0]))
            dets.append((i, h, [v - 1 + j for v in bh], [v - 1 for v in bo], draw(score)))
        else:
            dets.append((i, draw(st.sampled_from(CLASSES)), draw(box), draw(box), draw(score)))
    with_pos = draw(st.booleans())
    pos = [np.array(draw(st.lists(st.sampled_from(CLASSES), max_size=3)), np.int64) for _ in range(n_img)]
    return per_image, dets, (pos if with_pos else None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_matches_reference_on_random_inputs(case) -> None:
    per_image, dets, pos = case
    compare(make_gt(per_image, pos), dets)


def test_hand_built_edge_cases() -> None:
    a = [1.0, 1.0, 10.0, 10.0]  # 1-based GT box
    # IoU exactly 0.5 with +1 areas: GT 10x10=100, det 1-based [1,1,10,5.0] -> 10*5/100 = 0.5
    half = [0.0, 0.0, 9.0, 4.0]
    gt = make_gt([[(0, a, a), (0, a, a)], [(1, a, a)], []])
    dets = [
        (0, 0, [0, 0, 9, 9], [0, 0, 9, 9], 0.9),   # TP (first of two identical GT pairs)
        (0, 0, [0, 0, 9, 9], [0, 0, 9, 9], 0.9),   # tie: takes the same best GT -> FP (no fallback)
        (0, 0, half, [0, 0, 9, 9], 0.5),           # IoU exactly 0.5 counts; best GT already taken -> FP
        (1, 1, half, half, 0.7),                   # IoU exactly 0.5 on both boxes -> TP
        (2, 0, [0, 0, 9, 9], [0, 0, 9, 9], 1.0),   # image without GT -> FP
        (1, 8, [5, 5, 4, 4], [0, 0, 9, 9], 0.3),   # degenerate box, class without positives
        (1, 100, [0, 0, 9, 9], [0, 0, 9, 9], 0.2),  # object 25 not in image 1 -> dropped by Known-Object
    ]
    res = compare(gt, dets)
    # class 0 ranked: FP(1.0), TP, FP, FP -> prec 0, .5, .33, .25; recall 0, .5, .5, .5 (npos 2)
    assert res.default.per_class_ap[0] == pytest.approx(6 * 0.5 / 11)
    assert res.default.per_class_ap[1] == pytest.approx(1.0)
    assert math.isnan(res.default.per_class_recall[8]) and res.default.per_class_ap[8] == 0
    assert math.isnan(res.default.per_class_recall[100]) and res.known_object.per_class_recall[100] == 0


@pytest.mark.parametrize("n_tp", [3, 6, 7])
def test_recall_exactly_point_three_six_seven(n_tp: int) -> None:
    """n TP of 10 positives: recall n/10 lies just below the float threshold k*0.1 (0.30000000000000004,
    0.6000000000000001, 0.7000000000000001), so only thresholds 0 .. (n-1)/10 count: AP = n/11."""
    a = [1.0, 1.0, 10.0, 10.0]
    gt = make_gt([[(0, a, a)] for _ in range(10)])
    dets = [(i, 0, [0, 0, 9, 9], [0, 0, 9, 9], 1.0 - i / 10) for i in range(n_tp)]
    assert compare(gt, dets).default.per_class_ap[0] == pytest.approx(n_tp / 11, abs=1e-15)


def test_real_gt_against_itself(hicodet_test_gt) -> None:
    gt = load_test_gt(hicodet_test_gt)
    assert len(gt) == 9658 and gt.sizes.shape == (9658, 2) and len(gt.rare) == 138
    img, hoi, bh, bo = gt.flat()
    res = evaluate_hicodet(gt, img, hoi, bh - 1, bo - 1, np.linspace(1, 0, len(img)))
    has = np.bincount(hoi, minlength=600) > 0
    for mode in (res.default, res.known_object):
        np.testing.assert_allclose(mode.per_class_ap[has], 1.0, atol=1e-12)
        assert np.all(mode.per_class_recall[has] == 1.0)
    assert "derived" in res.options["known_object_labels"]


def test_real_gt_subset_matches_reference(hicodet_test_gt) -> None:
    """The first 300 real images with jittered real boxes: fast == reference on their classes."""
    full = load_test_gt(hicodet_test_gt)
    n = 300
    gt = HicoDetGT(full.filenames[:n], full.sizes[:n], full.boxes_h[:n], full.boxes_o[:n], full.hoi[:n],
                   full.object[:n], full.verb[:n], full.rare, full.non_rare)
    rng = np.random.default_rng(0)
    img, hoi, bh, bo = gt.flat()
    rep = np.repeat(np.arange(len(img)), 3)
    jit = lambda b: b[rep] - 1 + rng.normal(0, 8, (len(rep), 4)).round()  # noqa: E731
    dets = list(zip(img[rep], hoi[rep], jit(bh), jit(bo), rng.random(len(rep)).round(2)))
    classes = sorted(set(hoi.tolist()))[:40]
    compare(gt, dets, classes, check_others=False)


def test_bad_inputs(tmp_path, hicodet_test_gt) -> None:
    gt = make_gt([[(0, [1, 1, 5, 5], [1, 1, 5, 5])]])
    with pytest.raises(DataError, match="hoi"):
        evaluate_hicodet(gt, np.array([0]), np.array([600]), np.zeros((1, 4)), np.zeros((1, 4)), np.ones(1))
    with pytest.raises(DataError, match="boxes_h"):
        evaluate_hicodet(gt, np.array([0]), np.array([1]), np.full((1, 4), np.nan), np.zeros((1, 4)), np.ones(1))
    with pytest.raises(DataError, match="image_index"):
        evaluate_hicodet(gt, np.array([1]), np.array([1]), np.zeros((1, 4)), np.zeros((1, 4)), np.ones(1))
    p = tmp_path / "dets.json"
    p.write_text(json.dumps({"detections": [[], []]}))
    with pytest.raises(DataError, match=r"dets\.json.*one list per GT image \(1\)"):
        load_detections(p, 1)
    p.write_text(json.dumps({"detections": [[[0, 1, 2, 3, 4, 5, 6, 7, 8, 0.5]], [[600, 1, 2, 3, 4, 5, 6, 7, 8, 0.5]]]}))
    with pytest.raises(DataError, match=r"row 1 \(image 1\).*'hoi'"):
        load_detections(p, 2)
    with pytest.raises(DataError, match="record '1 \\(b.jpg\\)'.*boxes_h"):
        parse_test_gt({"annotation": [{"hoi": [], "boxes_h": [], "boxes_o": []},
                                      {"hoi": [3], "boxes_h": [[1, 2, 3]], "boxes_o": [[1, 2, 3, 4]]}],
                       "filenames": ["a.jpg", "b.jpg"], "size": [[5, 5], [5, 5]]}, "gt.json")


def test_npz_detections_equal_json(tmp_path) -> None:
    rows = [[[3, 0, 0, 5, 5, 1, 1, 6, 6, 0.4]], [],
            [[7, 2, 2, 8, 8, 0, 0, 3, 3, 0.9], [3, 1, 1, 2, 2, 1, 1, 2, 2, 0.1]]]
    (tmp_path / "d.json").write_text(json.dumps({"detections": rows}))
    a = load_detections(tmp_path / "d.json", 3)
    np.savez(tmp_path / "d.npz", image_index=a.image_index, hoi=a.hoi, boxes_h=a.boxes_h, boxes_o=a.boxes_o,
             scores=a.scores)
    b = load_detections(tmp_path / "d.npz", 3)
    assert a.image_index.tolist() == [0, 2, 2] and a.hoi.tolist() == [3, 7, 3]
    for k in ("image_index", "hoi", "boxes_h", "boxes_o", "scores"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
