"""V-COCO evaluator: loop-by-loop reference equality, readers on files in the official format."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval_reference import ref_vcoco_class
from hake.datasets.vcoco import VcocoDetections, VcocoGT, load_vcoco_detections, load_vcoco_gt
from hake.errors import DataError
from hake.evaluation.vcoco import evaluate_vcoco

ACTIONS = ["stand", "hold", "cut"]
ROLES = [["agent"], ["agent", "obj"], ["agent", "instr", "obj"]]

small = st.integers(0, 10).map(float)
box = st.tuples(small, small, st.integers(-1, 8).map(float), st.integers(-1, 8).map(float)).map(
    lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]])


@st.composite
def scenario(draw):
    n_img = draw(st.integers(1, 3))
    p_img, p_box, p_act, p_role = [], [], [], []
    for i in range(n_img):
        for _ in range(draw(st.integers(0, 3))):
            p_img.append(i)
            p_box.append(draw(box))
            labelled = draw(st.integers(0, 4)) > 0
            p_act.append([draw(st.sampled_from([0, 1])) if labelled else -1 for _ in ACTIONS])
            p_role.append([[draw(st.one_of(st.just([-1.0] * 4), box)) for _ in range(2)] for _ in ACTIONS])
    gt = VcocoGT(ACTIONS, ROLES, np.array([100 + i for i in range(n_img)]), np.array(p_img, np.int64),
                 np.array(p_box, np.float32).reshape(-1, 4), np.array(p_act, np.int8).reshape(-1, 3),
                 np.array(p_role, np.float32).reshape(-1, 3, 2, 4))
    n = draw(st.integers(0, 14))
    sc = st.sampled_from([0.2, 0.5, 0.5, 0.9, math.nan])
    img = [draw(st.sampled_from([100 + i for i in range(n_img)] + [999])) for _ in range(n)]
    pbox = []
    for i in img:
        same = [b for b, k in zip(p_box, p_img) if 100 + k == i]
        pbox.append(draw(st.sampled_from(same)) if same and draw(st.booleans()) else draw(box))
    role_box = st.one_of(box, st.just([0.0] * 4), st.just([math.nan] * 4))
    dets = VcocoDetections(np.array(img, np.int64), np.array(pbox, np.float32).reshape(-1, 4),
                           np.array([[draw(sc) for _ in ACTIONS] for _ in range(n)], np.float32).reshape(-1, 3),
                           np.array([[[draw(role_box) for _ in range(2)] for _ in ACTIONS] for _ in range(n)],
                                    np.float32).reshape(-1, 3, 2, 4),
                           np.array([[[draw(sc) for _ in range(2)] for _ in ACTIONS] for _ in range(n)],
                                    np.float32).reshape(-1, 3, 2))
    return gt, dets


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_matches_reference_on_random_inputs(case) -> None:
    gt, dets = case
    res = evaluate_vcoco(gt, dets)
    for a, act in enumerate(ACTIONS):
        assert same(res.agent_ap[act], ref_vcoco_class(gt, dets, a, None, 1)), act
        for r, role in enumerate(ROLES[a][1:]):
            assert same(res.role_ap_scenario_1[f"{act}-{role}"], ref_vcoco_class(gt, dets, a, r, 1))
            assert same(res.role_ap_scenario_2[f"{act}-{role}"], ref_vcoco_class(gt, dets, a, r, 2))
    assert set(res.role_ap_scenario_1) == {"hold-obj", "cut-instr", "cut-obj"}


def write_dataset(tmp_path):
    """Two images in the official file formats; person 11 holds object 12 and cuts with 13, person 21
    stands, person 22 is not in V-COCO, annotation 23 is an ``ignore`` object."""
    coco = {
        "images": [{"id": 1, "width": 100, "height": 80}, {"id": 2, "width": 50, "height": 50}],
        "categories": [{"id": 1, "name": "person"}, {"id": 44, "name": "knife"}],
        "annotations": [
            {"id": 11, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 50], "area": 900, "iscrowd": 0},
            {"id": 12, "image_id": 1, "category_id": 44, "bbox": [50, 20, 10, 10], "area": 90, "iscrowd": 0},
            {"id": 13, "image_id": 1, "category_id": 44, "bbox": [90, 70, 30, 30], "area": 90, "iscrowd": 0},
            {"id": 21, "image_id": 2, "category_id": 1, "bbox": [0, 0, 20, 40], "area": 500, "iscrowd": 0},
            {"id": 22, "image_id": 2, "category_id": 1, "bbox": [25, 0, 20, 40], "area": 500, "iscrowd": 0},
            {"id": 23, "image_id": 2, "category_id": 1, "bbox": [5, 5, 5, 5], "area": 5, "ignore": 1},
        ],
    }
    ann, img = [11, 21], [1, 2]
    vcoco = [
        {"action_name": "stand", "role_name": ["agent"], "image_id": img, "ann_id": ann, "label": [0, 1],
         "role_object_id": ann},
        {"action_name": "hold", "role_name": ["agent", "obj"], "image_id": img, "ann_id": ann, "label": [1, 0],
         "role_object_id": ann + [12, 0]},
        {"action_name": "cut", "role_name": ["agent", "instr", "obj"], "image_id": img, "ann_id": ann,
         "label": [1, 0], "role_object_id": ann + [13, 0] + [0, 0]},
    ]
    for name, obj in (("coco.json", coco), ("vcoco.json", vcoco)):
        (tmp_path / name).write_text(json.dumps(obj))
    (tmp_path / "ids.txt").write_text("1\n2\n")
    return tmp_path / "vcoco.json", tmp_path / "coco.json", tmp_path / "ids.txt"


def test_files_and_known_results(tmp_path) -> None:
    gt = load_vcoco_gt(*write_dataset(tmp_path))
    assert gt.actions == ACTIONS and gt.person_boxes.dtype == np.float32
    np.testing.assert_array_equal(gt.person_boxes, [[10, 10, 39, 59], [0, 0, 19, 39], [25, 0, 44, 39]])
    assert gt.person_actions.tolist() == [[0, 1, 1], [1, 0, 0], [-1, -1, -1]]
    np.testing.assert_array_equal(gt.role_boxes[0, 1, 0], [50, 20, 59, 29])
    np.testing.assert_array_equal(gt.role_boxes[0, 2, 0], [90, 70, 99, 79])  # clipped to the 100x80 image
    assert (gt.role_boxes[0, 2, 1] == -1).all()
    dets = [
        {"image_id": 1, "person_box": [10, 10, 39, 59], "stand_agent": 0.1, "hold_agent": 0.9, "cut_agent": 0.8,
         "hold_obj": [50, 20, 59, 29, 0.9], "cut_instr": [90, 70, 99, 79, 0.7], "cut_obj": [0, 0, 0, 0, 0.6]},
        {"image_id": 2, "person_box": [0, 0, 19, 39], "stand_agent": 0.8, "hold_agent": 0.2, "cut_agent": 0.1,
         "hold_obj": [1, 1, 5, 5, 0.3], "cut_instr": [0, 0, 0, 0, 0.1], "cut_obj": [1, 1, 9, 9, 0.2]},
        {"image_id": 2, "person_box": [25, 0, 44, 39], "stand_agent": 0.99},  # unlabelled person: skipped
    ]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    res = evaluate_vcoco(gt, load_vcoco_detections(tmp_path / "dets.json", gt.actions, gt.roles))
    assert res.agent_ap == {"stand": 1.0, "hold": 1.0, "cut": 1.0} and res.agent_mAP == pytest.approx(1.0)
    assert res.role_ap_scenario_1 == {"hold-obj": 1.0, "cut-instr": 1.0, "cut-obj": 1.0}
    dets[0]["cut_obj"] = [3, 3, 9, 9, 0.6]  # a role predicted where the GT has none
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    res = evaluate_vcoco(gt, load_vcoco_detections(tmp_path / "dets.json", gt.actions, gt.roles))
    # scenario 1: the only positive becomes FP at rank 1 (0.6) -> AP 0; scenario 2 ignores the box
    assert res.role_ap_scenario_1["cut-obj"] == 0.0 and res.role_ap_scenario_2["cut-obj"] == 1.0
    assert res.role_mAP_scenario_1 == pytest.approx(2 / 3)
    d = res.to_dict()
    assert d["role_mAP_scenario_2"] == pytest.approx(1.0) and d["agent_ap"]["cut"] == 1.0


def test_nan_instead_of_crash(tmp_path) -> None:
    gt = load_vcoco_gt(*write_dataset(tmp_path))
    (tmp_path / "d.json").write_text(json.dumps([{"image_id": 1, "person_box": [10, 10, 39, 59], "hold_agent": 0.5}]))
    res = evaluate_vcoco(gt, load_vcoco_detections(tmp_path / "d.json", gt.actions, gt.roles))
    assert math.isnan(res.agent_ap["stand"]) and res.agent_ap["hold"] == 1.0
    assert res.agent_mAP == pytest.approx(1 / 3) and any("stand" in w for w in res.warnings)


def test_bad_input(tmp_path) -> None:
    v, c, ids = write_dataset(tmp_path)
    ids.write_text("1\n3\n")
    with pytest.raises(DataError, match="ids.txt"):
        load_vcoco_gt(v, c, ids)
    ids.write_text("1\n2\n")
    gt = load_vcoco_gt(v, c, ids)
    (tmp_path / "d.json").write_text(json.dumps([{"image_id": 1, "person_box": [1, 2, 3]}]))
    with pytest.raises(DataError, match=r"d\.json.*record 0"):
        load_vcoco_detections(tmp_path / "d.json", gt.actions, gt.roles)
