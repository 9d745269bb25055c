"""Fusion of person boxes (NanoDet + MoveNet MultiPose): synthetic cases of known answer and real photos."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FIXTURES, large_gt_persons
from hake import zoo
from hake.engine.infer.pipeline import PipelineConfig, build_detector, build_pipeline, split_detector
from hake.engine.infer.runner import read_image
from hake.errors import HakeError
from hake.geometry.boxes import iou_matrix
from hake.perception import PERSON
from hake.perception.fusion import FusedDetector, FusedPose, weighted_box_fusion
from hake.structures import DetectedObject

MINI = FIXTURES / "coco_mini"


def test_boxes_of_one_person_fuse_and_a_single_source_counts_half() -> None:
    a = np.array([[0, 0, 10, 20], [100, 100, 110, 120]], np.float32)
    b = np.array([[2, 0, 12, 20]], np.float32)
    boxes, scores, member = weighted_box_fusion([a, b], [np.array([0.8, 0.6]), np.array([0.4])], fuse_iou=0.5)
    assert len(boxes) == 2
    np.testing.assert_allclose(scores, [(0.8 + 0.4) / 2, 0.6 / 2], rtol=1e-6)
    np.testing.assert_allclose(boxes[0], [(0 * 0.8 + 2 * 0.4) / 1.2, 0, (10 * 0.8 + 12 * 0.4) / 1.2, 20], rtol=1e-5)
    assert member.tolist() == [[0, 0], [1, -1]]
    far = weighted_box_fusion([a[:1], b + 50], [np.array([0.8]), np.array([0.4])], fuse_iou=0.5)
    assert len(far[0]) == 2  # disjoint boxes stay apart


class _Base:
    def detect(self, image):
        return [DetectedObject((10, 10, 50, 90), 0.6, PERSON, "person"),
                DetectedObject((60, 60, 70, 70), 0.5, 41, "cup")]


class _People:
    def people(self, image):
        kp = np.tile(np.array([[30, 50, 0.7]], np.float32), (17, 1))
        return (np.array([[12, 10, 52, 90], [100, 10, 140, 90]], np.float32), np.array([0.5, 0.2], np.float32),
                np.stack([kp, kp + [90, 0, 0]]))


class _Single:
    def __init__(self) -> None:
        self.calls = 0

    def estimate(self, image, boxes):
        self.calls += len(boxes)
        return np.ones((len(boxes), 17, 3), np.float32)


def test_fused_detector_keeps_objects_and_adds_the_persons_only_multipose_saw() -> None:
    image = np.zeros((120, 160, 3), np.uint8)
    det = FusedDetector(_Base(), [_People()], weights=[1.0, 1.0], min_score=0.05)
    out = det.detect(image)
    persons = [d for d in out if d.label == PERSON]
    assert [d.name for d in out if d.label != PERSON] == ["cup"] and out[1].score == 0.5
    assert len(persons) == 2
    assert persons[0].score == pytest.approx(0.55) and persons[1].score == pytest.approx(0.1)
    assert persons[1].box == pytest.approx((100, 10, 140, 90))
    single = _Single()
    pose = FusedPose(single, det, single_min_score=0.3)
    kp = pose.estimate(image, np.array([p.box for p in persons]))
    assert single.calls == 1 and kp[0, 0, 2] == 1.0  # the confident person: single-person model
    np.testing.assert_allclose(kp[1, 0], [120, 50, 0.7])  # the faint one keeps MultiPose's keypoints
    pose.estimate(np.zeros_like(image), np.array([p.box for p in persons]))
    assert single.calls == 3  # another image: nothing reused


def test_detector_names_and_the_default_pipeline() -> None:
    assert split_detector("nanodet_m+movenet_multipose") == ("nanodet_m", ["movenet_multipose"])
    assert split_detector("nanodet_m") == ("nanodet_m", [])
    with pytest.raises(HakeError, match="whole photo"):
        build_detector("nanodet_m+movenet_lightning")
    pipe = build_pipeline(detector="nanodet_m+movenet_multipose")
    assert isinstance(pipe.detector, FusedDetector) and isinstance(pipe.pose, FusedPose)
    assert pipe.detector.base.score_threshold == pipe.config.object_threshold
    assert pipe.detector.base.person_threshold <= 0.05


@pytest.mark.parametrize("name,image_id", [("000000000790.jpg", 790), ("000000256353.jpg", 256353)])
def test_fusion_finds_at_least_the_large_persons_nanodet_finds(name: str, image_id: int) -> None:
    image = read_image(MINI / "train2017" / name)
    gt = large_gt_persons(image_id)
    cfg = PipelineConfig()

    def found(detector: str) -> int:
        dets = [d for d in build_detector(detector, cfg).detect(image) if d.label == PERSON
                and d.score >= cfg.person_threshold]
        if not dets:
            return 0
        return int((iou_matrix(gt, np.array([d.box for d in dets])).max(axis=1) >= 0.5).sum())

    def found_alone() -> int:  # the perception before fusion: NanoDet-m, persons from 0.35
        dets = [d for d in build_detector("nanodet_m", PipelineConfig(person_threshold=0.35)).detect(image)
                if d.label == PERSON and d.score >= 0.35]
        return int((iou_matrix(gt, np.array([d.box for d in dets])).max(axis=1) >= 0.5).sum()) if dets else 0

    alone, fused = found_alone(), found("nanodet_m+movenet_multipose")
    assert fused >= alone and fused >= 1


def test_nanodet_person_threshold_adds_persons_and_leaves_objects() -> None:
    image = read_image(MINI / "train2017" / "000000000790.jpg")
    plain = zoo.create_model("nanodet_m", family="detector", score_threshold=0.25)
    low = zoo.create_model("nanodet_m", family="detector", score_threshold=0.25, person_threshold=0.05)
    a, b = plain.detect(image), low.detect(image)
    objects = lambda ds: [(d.label, d.box) for d in ds if d.label != PERSON]  # noqa: E731
    assert objects(a) == objects(b)
    assert sum(d.label == PERSON for d in b) > sum(d.label == PERSON for d in a)
    assert min(d.score for d in b if d.label == PERSON) < 0.25


def test_fused_person_nms_keeps_a_box_only_its_suppressed_neighbour_overlaps() -> None:
    from hake.perception.fusion import _not_suppressed

    a = [0, 0, 10, 10]
    b = [2, 0, 12, 10]   # IoU 8/12 with a: suppressed by a
    c = [9, 0, 19, 10]   # overlaps b (IoU 3/17) and a (1/19) little: kept
    d = [0, 0, 10, 10.5]  # almost a: suppressed
    keep = _not_suppressed(np.array([a, b, c, d], float), 0.5)
    assert keep.tolist() == [True, False, True, False]
    assert _not_suppressed(np.array([a, b], float), 1.0).tolist() == [True, True]  # 1.0 switches NMS off
