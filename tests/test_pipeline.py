"""The inference pipeline: pairs, PaSta and HOI decoding, and whole frames (synthetic and real)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_file
from hake.engine.infer.pairs import hoi_predictions, make_pairs, person_pasta, top_states
from hake.engine.infer.pipeline import Pipeline, PipelineConfig, build_pipeline, merge_overlapping, merge_persons_first
from hake.engine.infer.runner import read_image
from hake.perception.base import PERSON
from hake.structures import DetectedObject, FrameResult
from hake.vocab import load
from pipeline_standin import HAND_NONE, HOLD_STATE, StandInPasta, closeness

HORSE, CUP, COW, BIRD = 37, 26, 25, 10
TEDDY = load().objects.index("teddy_bear")


def obj(box, score, label) -> DetectedObject:
    return DetectedObject(box=box, score=score, label=label, name=load().objects[label])


class FakeDetector:
    """Returns fixed detections whatever the image."""

    def __init__(self, dets: list[DetectedObject]) -> None:
        self.dets = dets

    def detect(self, image: np.ndarray) -> list[DetectedObject]:
        return list(self.dets)


class UprightPose:
    """An upright COCO-17 skeleton scaled to each box, all joints confident."""

    REL = np.array([
        [.5, .08], [.45, .06], [.55, .06], [.4, .08], [.6, .08], [.35, .22], [.65, .22], [.3, .38],
        [.7, .38], [.28, .52], [.72, .52], [.4, .55], [.6, .55], [.4, .75], [.6, .75], [.4, .95], [.6, .95],
    ], np.float32)

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        wh = boxes[:, None, 2:] - boxes[:, None, :2]
        xy = boxes[:, None, :2] + self.REL[None] * wh
        return np.concatenate([xy, np.full(xy.shape[:2] + (1,), 0.9, np.float32)], axis=2)


def test_pairs_hold_every_person_with_no_object_and_with_each_object() -> None:
    persons = np.array([[0, 0, 10, 20], [50, 0, 60, 20]], np.float32)
    objects = [obj((12, 0, 20, 8), 0.8, HORSE), obj((30, 30, 40, 40), 0.5, CUP), obj((0, 0, 5, 5), 0.3, COW)]
    kp = UprightPose().estimate(np.zeros((1, 1, 3), np.uint8), persons)
    parts = np.random.default_rng(0).uniform(0, 10, (2, 10, 4)).astype(np.float32)
    pairs = make_pairs(persons, kp, parts, objects, (100, 50))
    b = pairs.batch
    assert len(b) == 8
    assert pairs.person.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert pairs.object.tolist() == [-1, 0, 1, 2, -1, 0, 1, 2]
    assert b.object_labels.tolist() == [-1, HORSE, CUP, COW] * 2
    np.testing.assert_array_equal(b.boxes_o[0], persons[0])  # no object: the human box
    np.testing.assert_array_equal(b.boxes_o[6], objects[1].box)
    np.testing.assert_array_equal(b.boxes_h[5], persons[1])
    np.testing.assert_array_equal(b.keypoints[5], kp[1])
    np.testing.assert_array_equal(b.part_boxes[2], parts[0])
    assert b.image_size == (100, 50) and b.boxes_h.dtype == np.float32
    empty = make_pairs(persons, None, None, [], (100, 50))
    assert len(empty.batch) == 2 and empty.batch.keypoints is None


def test_person_pasta_is_the_maximum_over_its_pairs() -> None:
    pasta = np.zeros((5, 76), np.float32)
    pasta[0, 3], pasta[1, 3], pasta[2, 3] = 0.2, 0.7, 0.1
    pasta[3, 40], pasta[4, 40] = 0.6, 0.9
    pasta[:, HAND_NONE] = [1.0, 0.3, 0.8, 0.9, 0.95]
    out = person_pasta(pasta, np.array([0, 0, 0, 1, 1]), 2)
    assert out[0, 3] == pytest.approx(0.7) and out[1, 40] == pytest.approx(0.9) and out[0, 40] == 0
    # "no interaction" must hold in every pair: the minimum
    assert out[0, HAND_NONE] == pytest.approx(0.3) and out[1, HAND_NONE] == pytest.approx(0.9)


def test_top_states_are_sorted_within_each_group() -> None:
    v = load()
    probs = np.linspace(0, 1, 76, dtype=np.float32)[::-1].copy()  # decreasing: the first state of a group wins
    probs[HOLD_STATE] = 2.0  # ... except in the hand group, whose first state is "hold" anyway
    states = top_states(probs, k=2)
    assert list(states) == ["foot", "leg", "hip", "hand", "arm", "head"]
    hand = states["hand"]
    assert [s.index for s in hand] == [HOLD_STATE, HOLD_STATE + 1]  # then the highest of the rest
    assert hand[0].state == "hold" and hand[0].group == "hand"
    for group, ss in states.items():
        sl = v.pasta_slices()[group]
        assert len(ss) == 2 and all(sl.start <= s.index < sl.stop for s in ss)
        assert ss[0].prob >= ss[1].prob and v.pasta["pasta76"][ss[0].index] == (group, ss[0].state)


def test_hoi_scores_are_human_times_object_times_probability() -> None:
    v = load()
    persons = np.array([[100, 100, 200, 300]], np.float32)
    objects = [obj((180, 150, 260, 250), 0.8, HORSE), obj((600, 100, 700, 200), 0.5, CUP)]
    pairs = make_pairs(persons, None, None, objects, (800, 600))
    out = StandInPasta().predict(pairs.batch)
    hois = hoi_predictions(out.hoi, pairs, np.array([0.9], np.float32), objects, threshold=0.0, top_k=3)
    c = closeness(pairs.batch.boxes_h, pairs.batch.boxes_o, pairs.batch.object_labels)
    assert len(hois) == 6  # top 3 per object pair
    for h in hois:
        assert v.hoi_object[h.hoi] == v.objects.index(h.object)  # only the pair's object
        assert h.verb == v.verbs117[v.hoi_verb[h.hoi]] and h.box_h == tuple(persons[0])
    hold_horse = next(h for h in hois if h.verb == "hold" and h.object == "horse")
    assert hold_horse.score == pytest.approx(0.9 * 0.8 * c[1], rel=1e-6)
    assert hold_horse.box_o == objects[0].box and hold_horse.object_index == 0
    assert [h.score for h in hois] == sorted((h.score for h in hois), reverse=True)
    strict = hoi_predictions(out.hoi, pairs, np.array([0.9], np.float32), objects, threshold=0.1, top_k=3)
    assert all(h.score >= 0.1 for h in strict) and len(strict) < len(hois)


def test_a_frame_end_to_end_with_known_answers() -> None:
    dets = [
        obj((100, 100, 200, 300), 0.9, PERSON), obj((400, 50, 460, 120), 0.2, PERSON),  # second below threshold
        obj((180, 150, 260, 250), 0.8, HORSE), obj((182, 152, 262, 252), 0.6, COW),  # cow duplicates the horse
        obj((600, 100, 700, 200), 0.5, CUP), obj((101, 101, 201, 302), 0.3, BIRD),  # the bird is the person
    ]
    model = StandInPasta()
    pipe = Pipeline(FakeDetector(dets), UprightPose(), model, PipelineConfig(top_hois=2, person_threshold=0.35))
    image = np.zeros((600, 800, 3), np.uint8)
    result = pipe(image, source="synthetic", frame_index=4)
    assert (result.width, result.height, result.frame_index) == (800, 600, 4)
    assert [o.name for o in result.objects] == ["horse", "cup"]
    assert len(result.persons) == 1
    person = result.persons[0]
    assert len(person.keypoints) == 17 and len(person.part_boxes) == 10
    for x1, y1, x2, y2 in person.part_boxes:
        assert 0 <= x1 <= x2 <= 800 and 0 <= y1 <= y2 <= 600
    batch = model.batches[-1]
    assert batch.object_labels.tolist() == [-1, HORSE, CUP] and batch.image is image
    c = closeness(batch.boxes_h, batch.boxes_o, batch.object_labels)
    hand = person.pasta["hand"]
    assert hand[0].state == "hold" and hand[0].prob == pytest.approx(c.max())
    top = result.hois[0]
    assert (top.verb, top.object) == ("hold", "horse") and top.score == pytest.approx(0.9 * 0.8 * c[1], rel=1e-6)
    assert {h.object for h in result.hois} == {"horse", "cup"} and len(result.hois) == 4
    again = FrameResult.from_dict(result.to_dict())
    assert again == result
    assert set(pipe.timings) == {"detect", "pose", "part_boxes", "pairs", "pasta", "results"}


def test_a_frame_without_persons_skips_pose_and_model() -> None:
    model = StandInPasta()
    pipe = Pipeline(FakeDetector([obj((1, 1, 20, 20), 0.9, CUP)]), UprightPose(), model)
    result = pipe(np.zeros((40, 40, 3), np.uint8))
    assert result.persons == [] and result.hois == [] and len(result.objects) == 1 and model.batches == []


def test_merge_overlapping_keeps_the_higher_score_of_near_duplicates() -> None:
    a, b, c = obj((0, 0, 10, 10), 0.5, COW), obj((0, 0, 10, 11), 0.7, HORSE), obj((20, 20, 30, 30), 0.3, CUP)
    assert [o.name for o in merge_overlapping([a, b, c], 0.7)] == ["horse", "cup"]
    assert len(merge_overlapping([a, b, c], 1.0)) == 3


def test_an_object_on_a_person_never_removes_the_person() -> None:
    person = obj((0, 0, 10, 20), 0.2, PERSON)  # a faint fused person ...
    teddy = obj((0, 0, 10, 19), 0.6, TEDDY)  # ... and a confident object box on it: the object goes
    cup = obj((2, 2, 4, 4), 0.3, CUP)  # a small object on the person stays
    twin = obj((0, 0, 10, 21), 0.1, PERSON)  # a duplicate person still merges with the other
    kept = merge_persons_first([person, teddy, cup, twin], 0.7)
    assert [o.name for o in kept] == ["cup", "person"]
    assert len(merge_persons_first([person, teddy, cup, twin], 1.0)) == 4


@pytest.fixture(scope="module")
def real_pipeline() -> Pipeline:
    return build_pipeline(pasta_model=StandInPasta(), pose="movenet_lightning")


def test_real_photo_woman_with_horse_and_dog(real_pipeline: Pipeline) -> None:
    path = shared_file("images", "person.jpg")
    image = read_image(path)
    result = real_pipeline(image, source=str(path))
    h, w = image.shape[:2]
    assert len(result.persons) >= 1
    p = result.persons[0]
    kp = np.asarray(p.keypoints)
    assert kp.shape == (17, 3) and (kp[:, 2] > 0.3).sum() >= 10
    parts = np.asarray(p.part_boxes)
    assert parts.shape == (10, 4)
    assert np.all(parts[:, [0, 2]] >= 0) and np.all(parts[:, [0, 2]] <= w)
    assert np.all(parts[:, [1, 3]] >= 0) and np.all(parts[:, [1, 3]] <= h)
    assert {"horse", "dog"} <= {o.name for o in result.objects}
    assert result.hois and {h.object for h in result.hois} <= {o.name for o in result.objects}
    assert all(h.box_o in [o.box for o in result.objects] for h in result.hois)
    # the dog is closer to her than the horse, so the stand-in ranks "hold dog" above "hold horse"
    holds = [h.object for h in result.hois if h.verb == "hold"]
    assert holds.index("dog") < holds.index("horse")
    assert real_pipeline.model_seconds() > 0


def test_keypoints_guessed_off_frame_are_clipped_to_the_image() -> None:
    class OffFrame(UprightPose):
        def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
            kp = super().estimate(image, boxes)
            kp[:, 15:, 1] += 500  # ankles below the bottom edge
            kp[:, 0, 0] = -20.0  # nose left of the image
            return kp

    pipe = Pipeline(FakeDetector([obj((10, 10, 60, 190), 0.9, PERSON)]), OffFrame(), StandInPasta())
    kp = np.asarray(pipe(np.zeros((200, 100, 3), np.uint8)).persons[0].keypoints)
    assert kp[15:, 1].tolist() == [199.0, 199.0] and kp[0, 0] == 0.0
    assert np.all(kp[1:15, 1] < 199)  # the others are untouched
