"""Pose-PaSta's evidence terms one by one, on synthetic poses whose answer is known by construction.

Each test sets one weight of :class:`PoseParams` and checks the sign (and where it is exact, the size)
of the logit shift it must produce; the HOI term is checked through the whole model.
"""

from __future__ import annotations

import numpy as np
import pytest

from hake.errors import DataError
from hake.models.pose_pasta import (
    PoseParams,
    PosePasta,
    body_evidence,
    hoi_shift,
    load_pose_params,
    person_index,
    pose_shift,
    save_pose_params,
    verb_state_matrix,
)
from hake.structures.contracts import EVIDENCE, PairBatch
from hake.vocab import load as load_vocab
from hake.zoo import create_model
from test_pose_pasta import PERSON, standing

VOCAB = load_vocab()
NAMES = VOCAB.pasta["pasta76"]
HOLD, HAND_NONE = NAMES.index(("hand", "hold")), NAMES.index(("hand", "no_interaction"))
SIT_ON = NAMES.index(("hip", "sit on"))
WALK_WITH = NAMES.index(("foot", "walk with"))
CUP, CHAIR = VOCAB.objects.index("cup"), VOCAB.objects.index("chair")
CUP_AT_WRIST = [110.0, 190.0, 135.0, 215.0]  # the right wrist of ``standing()`` (120, 200) is inside
CUP_FAR = [400.0, 190.0, 425.0, 215.0]  # 2/3 of the person to the right of both hands


def pairs(kp: np.ndarray, objects: list[tuple[list[float], int]]) -> tuple[np.ndarray, ...]:
    """One person's pairs as make_pairs builds them: the person-only pair first, then one per object."""
    n = 1 + len(objects)
    boxes_h = np.tile(np.asarray(PERSON, np.float32), (n, 1))
    boxes_o = np.asarray([PERSON] + [b for b, _ in objects], np.float32)
    labels = np.asarray([-1] + [o for _, o in objects], np.int64)
    return np.tile(kp[None], (n, 1, 1)), boxes_h, boxes_o, labels


def shift_of(params: PoseParams, kp: np.ndarray, objects: list[tuple[list[float], int]]) -> np.ndarray:
    k, bh, bo, lab = pairs(kp, objects)
    ev = body_evidence(k, bh, bo, lab >= 0, params.joint_threshold, params.contact_scale)
    return pose_shift(ev, lab, params, person_index(bh, k))


def test_person_only_pair_follows_whether_any_object_is_at_the_hands() -> None:
    p = PoseParams(alone={"foot": 0, "leg": 0, "hip": 0, "hand": 1.0, "arm": 0, "head": 0}, reliability_power=1.0)
    alone_no_object = shift_of(p, standing(), [])[0]
    assert alone_no_object[HOLD] == pytest.approx(-0.9)  # -w x best joint score 0.9: nothing near the hands
    assert alone_no_object[HAND_NONE] == pytest.approx(0.9)
    far = shift_of(p, standing(), [(CUP_FAR, CUP)])
    near = shift_of(p, standing(), [(CUP_FAR, CUP), (CUP_AT_WRIST, CUP)])
    assert far[0, HOLD] < -0.89 and near[0, HOLD] == pytest.approx(0.9)  # the cup at the wrist counts
    assert near[0, HAND_NONE] == pytest.approx(-0.9)
    assert np.all(near[1:] == 0)  # alone only moves the person-only pair


def test_person_index_groups_the_pairs_of_one_person() -> None:
    k, bh, _, _ = pairs(standing(), [(CUP_FAR, CUP)])
    other = standing()
    other[:, 0] += 5
    ids = person_index(np.concatenate([bh, bh]), np.concatenate([k, np.tile(other[None], (2, 1, 1))]))
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


def test_seat_raises_sit_on_when_the_hips_are_on_the_chair_and_lowers_it_when_below() -> None:
    p = PoseParams(seat=2.0)
    under_hips = [130.0, 205.0, 170.0, 300.0]  # hips (y 210) at the chair's top, centre y 252 below them
    above_hips = [130.0, 120.0, 170.0, 215.0]  # the hips touch its bottom edge: centre y 167 above them
    on = shift_of(p, standing(), [(under_hips, CHAIR)])
    off = shift_of(p, standing(), [(above_hips, CHAIR)])
    assert on[1, SIT_ON] > 1.5 and off[1, SIT_ON] < -1.5
    assert on[0, SIT_ON] == pytest.approx(on[1, SIT_ON])  # the person-only pair: the best seat of the person
    assert shift_of(p, standing(), [(under_hips, CUP)])[1, SIT_ON] == 0  # nobody sits on a cup


def test_stride_moves_walk_with() -> None:
    p = PoseParams()
    p.rules["stride"] = {"weight": 2.0, "offset": 0.5}
    walking = standing()
    walking[15, 0], walking[16, 0] = 200.0, 100.0  # ankles a third of the person apart
    assert shift_of(p, walking, [])[0, WALK_WITH] == pytest.approx(2.0 * (1.0 - 0.5))
    assert shift_of(p, standing(), [])[0, WALK_WITH] == pytest.approx(2.0 * (0.2 - 0.5))  # ankles 20 px apart


def test_reliability_scales_contact_by_the_joint_score() -> None:
    p = PoseParams(contact={"foot": 0, "leg": 0, "hip": 0, "hand": 1.0, "arm": 0, "head": 0}, reliability_power=1.0)
    sure = shift_of(p, standing(score=0.9), [(CUP_AT_WRIST, CUP)])[1, HOLD]
    doubtful = shift_of(p, standing(score=0.45), [(CUP_AT_WRIST, CUP)])[1, HOLD]
    assert sure == pytest.approx(0.9) and doubtful == pytest.approx(0.45)
    p.reliability_power = 0.0
    assert shift_of(p, standing(score=0.45), [(CUP_AT_WRIST, CUP)])[1, HOLD] == pytest.approx(1.0)


def test_hoi_shift_follows_the_states_of_the_verb() -> None:
    table = verb_state_matrix({"hold": {"hand:hold": 0.8}, "drink_with": {"head:drink with": 0.9}})
    shift = np.zeros((2, 76), np.float32)
    shift[:, HOLD] = [2.0, -2.0]
    out = hoi_shift(shift, np.asarray([CUP, -1]), table, 0.5)
    hold_cup = next(h for h in VOCAB.hois_of_object(CUP) if VOCAB.verbs117[VOCAB.hoi_verb[h]] == "hold")
    drink_cup = next(h for h in VOCAB.hois_of_object(CUP) if VOCAB.verbs117[VOCAB.hoi_verb[h]] == "drink_with")
    assert out[0, hold_cup] == pytest.approx(0.5 * 0.8 * 2.0) and out[0, drink_cup] == 0
    assert np.all(out[1] == 0)  # no object, no HOI
    other = np.setdiff1d(np.arange(600), VOCAB.hois_of_object(CUP))
    assert np.all(out[0, other] == 0)


@pytest.fixture(scope="module")
def layout():
    return create_model("spatial_pasta.hake_hicodet")


def test_hold_cup_follows_the_wrist_through_the_whole_model(layout) -> None:
    params = PoseParams(contact={"foot": 0, "leg": 0, "hip": 0, "hand": 1.0, "arm": 0, "head": 0}, hoi_weight=1.0,
                        verb_states={"hold": {"hand:hold": 0.9}})
    model = PosePasta(layout, params)
    hold_cup = next(h for h in VOCAB.hois_of_object(CUP) if VOCAB.verbs117[VOCAB.hoi_verb[h]] == "hold")

    def run(cup: list[float], kp: np.ndarray | None) -> tuple[float, float, str]:
        k, bh, bo, lab = pairs(standing() if kp is None else kp, [(cup, CUP)])
        b = PairBatch(image_size=(640, 480), boxes_h=bh, boxes_o=bo, object_labels=lab,
                      keypoints=None if kp is None else k)
        out = model.predict(b)
        return float(out.hoi[1, hold_cup]), float(out.pasta[1, HOLD]), EVIDENCE[out.evidence[1, HOLD]]

    near, base_near, far, base_far = (run(CUP_AT_WRIST, standing()), run(CUP_AT_WRIST, None),
                                      run(CUP_FAR, standing()), run(CUP_FAR, None))
    assert near[0] > base_near[0] and far[0] < base_far[0]  # HOI moved in log-odds by the hand's evidence
    assert near[1] > base_near[1] and far[1] < base_far[1] and near[2] == far[2] == "pose"


def test_old_files_load_with_neutral_new_terms_and_bad_tables_are_named(tmp_path) -> None:
    save_pose_params(PoseParams(), tmp_path / "p.json")
    text = (tmp_path / "p.json").read_text()
    import json

    raw = json.loads(text)
    for key in ("alone", "seat", "hoi_weight", "verb_states", "reliability_power"):
        raw.pop(key)
    raw["rules"].pop("stride")
    (tmp_path / "old.json").write_text(json.dumps(raw))
    old = load_pose_params(tmp_path / "old.json")
    assert old.hoi_weight == 0 and old.rules["stride"]["weight"] == 0 and set(old.alone.values()) == {0.0}
    raw["verb_states"] = {"hold": {"hand:levitate": 0.5}}
    (tmp_path / "bad.json").write_text(json.dumps(raw))
    with pytest.raises(DataError, match="levitate") as err:
        load_pose_params(tmp_path / "bad.json")
    assert err.value.field == "verb_states" and err.value.record == "hold"


def test_shipped_verb_table_says_which_parts_each_verb_uses() -> None:
    table = verb_state_matrix(create_model("pose_pasta.coco_mini").params.verb_states)
    verb = {v: i for i, v in enumerate(VOCAB.verbs117)}
    assert table[verb["hold"], HOLD] > 0.8
    assert table[verb["sit_on"], SIT_ON] > 0.8
    assert table[verb["eat"], NAMES.index(("head", "eat"))] > 0.5
    assert table[verb["hold"], SIT_ON] < 0.2
    assert not table[:, [sl.stop - 1 for sl in VOCAB.pasta_slices("pasta76").values()]].any()  # no no_interaction


def test_shipped_verb_table_is_the_count_on_hake_hicodet(hake_instance_level) -> None:
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("fit_pose_pasta", REPO / "tools" / "fit_pose_pasta.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.verb_state_table(hake_instance_level) == create_model("pose_pasta.coco_mini").params.verb_states
