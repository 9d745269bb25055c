"""Which pose model each person gets, and MultiPose's rectangular input: cases of known answer."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FIXTURES
from hake import zoo
from hake.engine.infer.pipeline import LARGE_POSE_MIN_AREA, build_pipeline
from hake.engine.infer.runner import read_image
from hake.geometry.boxes import iou_matrix
from hake.perception import PERSON, MoveNetMultiPose, MoveNetSingle
from hake.perception.fusion import LARGE, SINGLE, WHOLE, FusedDetector, FusedPose, pose_routes
from hake.structures import DetectedObject


def test_routes_by_score_and_area() -> None:
    boxes = np.array([[0, 0, 300, 300],    # large, confident -> large model
                      [0, 0, 300, 300],    # large, not confident enough for it -> single
                      [0, 0, 50, 50],      # medium, confident -> single
                      [0, 0, 20, 20],      # tiny, confident -> whole-photo keypoints
                      [0, 0, 100, 100]],   # faint -> whole-photo keypoints
                     np.float32)
    scores = np.array([0.6, 0.4, 0.9, 0.9, 0.1])
    route = pose_routes(boxes, scores, single_min_score=0.15, single_min_area=32 ** 2,
                        large_min_score=0.5, large_min_area=250 ** 2)
    assert route.tolist() == [LARGE, SINGLE, SINGLE, WHOLE, WHOLE]
    # without a large model nobody is routed there; without an area floor tiny persons get crops
    assert pose_routes(boxes, scores, 0.15).tolist() == [SINGLE, SINGLE, SINGLE, SINGLE, WHOLE]


class _Base:
    def detect(self, image):
        return [DetectedObject((0, 0, 300, 300), 0.9, PERSON, "person"),
                DetectedObject((320, 0, 360, 60), 0.9, PERSON, "person"),
                DetectedObject((400, 0, 420, 20), 0.9, PERSON, "person")]


class _NoPeople:
    def people(self, image):
        kp = np.tile(np.array([[410, 10, 0.6]], np.float32), (17, 1))
        return np.array([[400, 0, 420, 20]], np.float32), np.array([0.9], np.float32), kp[None]


class _Const:
    def __init__(self, value: float) -> None:
        self.value, self.calls = value, 0

    def estimate(self, image, boxes):
        self.calls += len(boxes)
        return np.full((len(boxes), 17, 3), self.value, np.float32)


def test_fused_pose_sends_each_person_to_its_model() -> None:
    image = np.zeros((320, 480, 3), np.uint8)
    det = FusedDetector(_Base(), [_NoPeople()], weights=[1.0, 1.0])
    persons = [d for d in det.detect(image) if d.label == PERSON]
    single, large = _Const(1.0), _Const(2.0)
    pose = FusedPose(single, det, single_min_score=0.15, large=large, large_min_score=0.3,
                     large_min_area=250 ** 2, single_min_area=32 ** 2)
    boxes = np.array([p.box for p in persons], np.float32)
    kp = pose.estimate(image, boxes)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    assert single.calls == 1 and large.calls == 1
    assert kp[np.argmax(area), 0, 2] == 2.0                     # the 300 x 300 person: large model
    assert kp[np.argmin(area), 0, 2] == pytest.approx(0.6)      # the 20 x 20 one: MultiPose's keypoints
    assert sorted(kp[:, 0, 2].tolist()) == pytest.approx([0.6, 1.0, 2.0])


@pytest.mark.parametrize("height,width,expected", [(427, 640, (192, 256, 171, 256)), (640, 480, (256, 192, 256, 192)),
                                                   (256, 256, (256, 256, 256, 256))])
def test_multipose_input_is_the_photo_padded_to_multiples_of_32(height: int, width: int,
                                                                 expected: tuple[int, int, int, int]) -> None:
    multi = MoveNetMultiPose.__new__(MoveNetMultiPose)
    multi.size, multi.square = 256, False
    assert multi.input_shape(height, width) == expected
    multi.square = True
    assert multi.input_shape(height, width)[:2] == (256, 256)


class _Rows:
    """A MultiPose stand-in: one person whose keypoints and box corners sit at given normalised input points."""

    def __init__(self) -> None:
        self.shape: tuple[int, ...] = ()

    def __call__(self, x):
        self.shape = x.shape
        h, w = x.shape[1:3]
        row = np.zeros((6, 56), np.float32)
        row[0, :51].reshape(17, 3)[:] = [171 / h, 256 / w, 0.8]  # bottom-right corner of the scaled photo
        row[0, 51:55] = [0.0, 0.0, 171 / h, 128 / w]             # y0, x0, y1, x1
        row[0, 55] = 0.7
        return [row[None]]


def test_multipose_maps_the_padded_input_back_to_photo_pixels() -> None:
    multi = MoveNetMultiPose.__new__(MoveNetMultiPose)
    multi.size, multi.square, multi.min_iou, multi.model = 256, False, 0.3, _Rows()
    boxes, scores, kp = multi.people(np.zeros((427, 640, 3), np.uint8))
    assert multi.model.shape == (1, 192, 256, 3)
    np.testing.assert_allclose(kp[0, 0], [640, 427, 0.8], rtol=1e-5)
    np.testing.assert_allclose(boxes[0], [0, 0, 320, 427], rtol=1e-5)
    assert scores[0] == pytest.approx(0.7)


def test_multipose_rectangular_input_finds_the_persons_of_the_square_one() -> None:
    image = read_image(FIXTURES / "coco_mini" / "train2017" / "000000000790.jpg")
    rect = zoo.create_model("movenet_multipose", family="pose")
    square = MoveNetMultiPose(square=True)
    (b1, s1, _), (b2, s2, _) = rect.people(image), square.people(image)
    sure = b2[s2 >= 0.3]
    assert len(sure) >= 1
    assert (iou_matrix(sure, b1[s1 >= 0.15]).max(axis=1) >= 0.7).all()


def test_default_pipeline_routes_large_persons_to_thunder() -> None:
    pipe = build_pipeline()
    assert isinstance(pipe.pose, FusedPose)
    assert isinstance(pipe.pose.single, MoveNetSingle) and pipe.pose.single.size == 192  # Lightning
    assert isinstance(pipe.pose.large, MoveNetSingle) and pipe.pose.large.size == 256    # Thunder
    assert pipe.pose.large_min_area == LARGE_POSE_MIN_AREA
    assert build_pipeline(large_pose=None).pose.large is None
    assert build_pipeline(pose="movenet_thunder").pose.large is None  # Thunder everywhere already
