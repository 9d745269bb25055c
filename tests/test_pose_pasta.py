"""Pose-PaSta: synthetic poses whose answer is known by construction, the fallback, the zoo entry."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from hake.errors import DataError
from hake.models.pose_pasta import PoseParams, PosePasta, load_pose_params, save_pose_params
from hake.structures.contracts import EVIDENCE, PairBatch, PastaModel
from hake.vocab import load as load_vocab
from hake.zoo import create_model

VOCAB = load_vocab()
NAMES = VOCAB.pasta["pasta76"]
HOLD = NAMES.index(("hand", "hold"))
SIT = NAMES.index(("hip", "sit on"))
CUP = VOCAB.objects.index("cup")
PERSON = [100.0, 50.0, 200.0, 350.0]  # 100 x 300 px standing person


def standing(score: float = 0.9, wrist: tuple[float, float] = (120.0, 200.0)) -> np.ndarray:
    """(17, 3) COCO-17 keypoints of an upright person in PERSON's box, right wrist at ``wrist``."""
    k = np.zeros((17, 3), np.float32)
    k[0] = (150, 70, score)
    k[1:5] = [(145, 65, score), (155, 65, score), (140, 70, score), (160, 70, score)]
    k[5:7] = [(170, 110, score), (130, 110, score)]
    k[7:9] = [(175, 160, score), (125, 160, score)]
    k[9] = (180, 205, score)
    k[10] = (*wrist, score)
    k[11:13] = [(160, 210, score), (140, 210, score)]
    k[13:15] = [(160, 280, score), (140, 280, score)]
    k[15:17] = [(160, 345, score), (140, 345, score)]
    return k


def batch(cup_box: list[float], kp: np.ndarray | None) -> PairBatch:
    return PairBatch(image_size=(640, 480), boxes_h=np.asarray([PERSON], np.float32),
                     boxes_o=np.asarray([cup_box], np.float32), object_labels=np.asarray([CUP]),
                     keypoints=None if kp is None else kp[None])


@pytest.fixture(scope="module")
def model() -> PastaModel:
    return create_model("pose_pasta.coco_mini")


@pytest.fixture(scope="module")
def layout() -> PastaModel:
    return create_model("spatial_pasta.hake_hicodet")


@pytest.fixture(scope="module")
def hand_contact(model: PastaModel, layout: PastaModel) -> PastaModel:
    """The shipped parameters with hand contact weight 1 (a grid value; the shipped fit may pick 0)."""
    p = model.params
    return PosePasta(layout, replace(p, contact={**p.contact, "hand": 1.0}))


def test_zoo_builds_a_pasta_model_with_visible_fitted_parameters(model: PastaModel) -> None:
    assert isinstance(model, PastaModel)
    p = model.params
    assert p.layout_model == "spatial_pasta.hake_hicodet"
    pose_weights = [*p.contact.values(), *p.alone.values(), p.seat, p.facing, *(r["weight"] for r in p.rules.values())]
    assert max(pose_weights) > 0, "the shipped fit lets no pose evidence move any state"
    assert "cross_validated" in p.fit and 0 <= p.fit["cross_validated"]["pasta_map"] <= 1


def test_wrist_inside_the_cup_raises_hold_and_far_cup_lowers_it(hand_contact: PastaModel, layout: PastaModel) -> None:
    model = hand_contact
    cup_at_wrist = [110.0, 190.0, 135.0, 215.0]  # right wrist (120, 200) inside
    near = model.predict(batch(cup_at_wrist, standing()))
    base_near = layout.predict(batch(cup_at_wrist, standing()))
    assert near.pasta[0, HOLD] > base_near.pasta[0, HOLD] + 0.05
    assert EVIDENCE[near.evidence[0, HOLD]] == "pose"
    cup_far = [400.0, 190.0, 425.0, 215.0]  # 200 px (2/3 of the person) right of both hands
    far = model.predict(batch(cup_far, standing()))
    base_far = layout.predict(batch(cup_far, standing()))
    assert far.pasta[0, HOLD] < 0.6 * base_far.pasta[0, HOLD]  # hand contact weight 1
    assert far.pasta[0, HOLD] < near.pasta[0, HOLD]
    assert EVIDENCE[far.evidence[0, HOLD]] == "pose"


def test_low_score_keypoints_fall_back_to_the_layout_model(model: PastaModel, layout: PastaModel) -> None:
    cup = [110.0, 190.0, 135.0, 215.0]
    unsure = model.predict(batch(cup, standing(score=0.05)))
    base = layout.predict(batch(cup, None))
    np.testing.assert_allclose(unsure.pasta, base.pasta, atol=1e-5)
    np.testing.assert_allclose(unsure.hoi, base.hoi, atol=1e-5)
    assert {EVIDENCE[c] for c in unsure.evidence[0]} == {"layout"}
    none = model.predict(batch(cup, None))  # no keypoints at all: the same
    np.testing.assert_allclose(none.pasta, base.pasta, atol=1e-5)


def test_different_keypoints_give_different_states(model: PastaModel) -> None:
    """What changes with --pose: the same boxes with a sitting pose (thighs level) vs a standing one."""
    seated = standing()
    seated[13:15, 0] = (215, 195)  # knees forward, at hip height
    seated[13:15, 1] = 215
    seated[15:17] = [(215, 300, 0.9), (195, 300, 0.9)]
    box = [100.0, 200.0, 250.0, 330.0]
    stand = model.predict(batch(box, standing()))
    sit = model.predict(batch(box, seated))
    assert not np.allclose(stand.pasta, sit.pasta)
    stand_on = NAMES.index(("foot", "stand on"))
    assert stand.pasta[0, stand_on] > sit.pasta[0, stand_on]


def test_parameter_file_round_trip_and_bad_file(tmp_path) -> None:
    p = PoseParams(contact={"foot": 0, "leg": 0, "hip": 1.5, "hand": 2, "arm": 0, "head": 0.5})
    save_pose_params(p, tmp_path / "p.json")
    assert load_pose_params(tmp_path / "p.json").contact == p.contact
    bad = json.loads((tmp_path / "p.json").read_text())
    bad["contact"]["hand"] = None
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(DataError, match="contact"):
        load_pose_params(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(DataError, match="format"):
        load_pose_params(tmp_path / "other.json")


def test_the_pose_model_choice_changes_the_part_states_of_a_real_photo() -> None:
    """A coco-mini photo of one person (a single person: Lightning by default, Thunder with --pose
    movenet_thunder): the two models place the joints differently and the foot's top state changes."""
    from conftest import shared_file
    from hake.datasets.io import read_image
    from hake.engine.infer.pairs import ALL_STATES
    from hake.engine.infer.pipeline import build_pipeline

    image = read_image(shared_file("coco-mini", "train2017", "000000037666.jpg"))
    found = []
    for pose in ("movenet_lightning", "movenet_thunder"):
        pipe = build_pipeline(pose=pose)
        pipe.config.top_states = ALL_STATES
        (person,) = pipe(image).persons
        found.append((np.asarray(person.keypoints), person.pasta))
    (kp_a, pasta_a), (kp_b, pasta_b) = found
    assert np.abs(kp_a[:, :2] - kp_b[:, :2]).max() > 3  # the two models disagree by pixels ...
    probs = [{(s.group, s.state): s.prob for v in p.values() for s in v} for p in (pasta_a, pasta_b)]
    assert max(abs(probs[0][k] - probs[1][k]) for k in probs[0]) > 0.2  # ... and so do the states
    assert pasta_a["foot"][0].state != pasta_b["foot"][0].state
