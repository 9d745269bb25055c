"""PaSta AP: reference equality on random inputs, known values, the no_interaction split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval_reference import ref_pasta
from hake.errors import DataError
from hake.evaluation.pasta import evaluate_pasta, no_interaction_states

small = st.integers(0, 10).map(float)
box = st.tuples(small, small, st.integers(0, 8).map(float), st.integers(0, 8).map(float)).map(
    lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]])
S = 4


@st.composite
def scenario(draw):
    n_img = draw(st.integers(1, 3))
    gt_boxes, gt_states = [], []
    for _ in range(n_img):
        n = draw(st.integers(0, 3))
        gt_boxes.append(np.array([draw(box) for _ in range(n)], np.float64).reshape(-1, 4))
        gt_states.append(np.array([[draw(st.booleans()) for _ in range(S)] for _ in range(n)], bool).reshape(-1, S))
    m = draw(st.integers(0, 12))
    det_image = np.array([draw(st.integers(0, n_img - 1)) for _ in range(m)], np.int64)
    det_boxes = np.array([draw(box) for _ in range(m)], np.float64).reshape(-1, 4)
    det_scores = np.array([[draw(st.sampled_from([0.1, 0.5, 0.9])) for _ in range(S)] for _ in range(m)]).reshape(-1, S)
    return gt_boxes, gt_states, det_image, det_boxes, det_scores


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_matches_reference_on_random_inputs(case) -> None:
    res = evaluate_pasta(*case, no_interaction=[3])
    np.testing.assert_allclose(res.per_state_ap, ref_pasta(*case), atol=1e-12, rtol=0)


def test_known_values_and_no_interaction_split() -> None:
    gt_boxes = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)]
    gt_states = [np.array([[1, 0, 1], [0, 1, 1]], bool)]
    det_boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 4.0]])  # last: IoU 0.4 > 0.3
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.5], [0.95, 0.0, 0.5]])
    res = evaluate_pasta(gt_boxes, gt_states, np.zeros(3, int), det_boxes, scores, no_interaction=[2])
    # state 0: det 2 (IoU .4, matched) TP first, det 0 then takes the same person -> FP; 1 positive
    assert res.per_state_ap[0] == pytest.approx(1.0)
    assert res.per_state_ap[1] == pytest.approx(1.0)
    # state 2 (ties at 0.5, input order): det0 TP, det1 TP, det2 FP (person 0 taken) -> AP 1
    assert res.per_state_ap[2] == pytest.approx(1.0)
    assert res.n_states == {"mAP": 3, "mAP_without_no_interaction": 2}
    res = evaluate_pasta(gt_boxes, gt_states, np.zeros(3, int), det_boxes, scores[:, ::-1].copy(), [2])
    assert res.mAP_without_no_interaction == pytest.approx(res.per_state_ap[:2].mean())


def test_pasta76_no_interaction_states() -> None:
    assert no_interaction_states("pasta76").tolist() == [11, 21, 26, 57, 62, 75]


def test_bad_input() -> None:
    with pytest.raises(DataError, match="record 0.*gt_states"):
        evaluate_pasta([np.zeros((1, 4))], [np.zeros((1, 3))], np.zeros(1, int), np.zeros((1, 4)), np.zeros((1, 4)))
    with pytest.raises(DataError, match="det_image"):
        evaluate_pasta([np.zeros((1, 4))], [np.zeros((1, 2))], np.ones(1, int), np.zeros((1, 4)), np.zeros((1, 2)))


def test_real_hake_annotations_against_themselves() -> None:
    """Persons of 60 real HAKE-HICO-DET images with their PaSta-76 states: detections equal to the GT
    (scores = labels) give AP 1 on every state with positives. HICO-DET annotates one human once per
    HOI, so near-duplicate person boxes occur: each detection must still pick its own (best) box."""
    import json
    from pathlib import Path

    from hake.vocab import load

    raw = json.loads((Path(__file__).parent / "fixtures" / "eval" / "hake_instance_first60.json").read_text())
    v = load()
    slices = v.pasta_slices("pasta76")
    boxes, states = [], []
    for rec in raw.values():
        persons: dict[tuple, np.ndarray] = {}
        for lab in rec.get("labels", []):
            st = persons.setdefault(tuple(lab["human_bbox"]), np.zeros(76, bool))
            for a in lab.get("action_labels") or []:
                sl = slices[v.part_group(a["human_part"])]
                assert 0 <= a["partstate"] < sl.stop - sl.start
                st[sl.start + a["partstate"]] = True
        boxes.append(np.array(list(persons), float).reshape(-1, 4))
        states.append(np.array(list(persons.values()), bool).reshape(-1, 76))
    img = np.repeat(np.arange(len(boxes)), [len(b) for b in boxes])
    det_boxes = np.concatenate(boxes)
    scores = np.concatenate(states).astype(float)
    res = evaluate_pasta(boxes, states, img, det_boxes, scores)
    has = scores.sum(axis=0) > 0
    assert has.sum() > 20 and len(img) > 60
    np.testing.assert_allclose(res.per_state_ap[has], 1.0, atol=1e-12)
    assert res.mAP == pytest.approx(1.0) and res.n_states["mAP"] == int(has.sum())
    assert res.n_states["mAP_without_no_interaction"] == int(has.sum() - has[no_interaction_states()].sum())
