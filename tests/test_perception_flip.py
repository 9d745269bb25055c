"""Mirrored-photo test-time augmentation of the fused persons and the ``--perception`` presets.

Synthetic cases whose answer is known by construction (a stand-in person finder that sees a bright
block only in the left half of a photo), and the real models on committed coco-mini photos.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import FIXTURES, large_gt_persons
from hake.engine.infer.pipeline import PERCEPTIONS, build_pipeline, person_threshold_for
from hake.engine.infer.runner import read_image
from hake.errors import HakeError
from hake.geometry.boxes import iou_matrix
from hake.perception import PERSON
from hake.perception.fusion import FusedDetector, flip_averaged, mirror_people
from hake.vocab.coco import KEYPOINTS
from pipeline_standin import infer

MINI = FIXTURES / "coco_mini"


def test_mirroring_maps_boxes_and_swaps_left_and_right_joints() -> None:
    kp = np.zeros((1, 17, 3), np.float32)
    left, right = KEYPOINTS.index("left_shoulder"), KEYPOINTS.index("right_shoulder")
    kp[0, left] = [12, 30, 0.9]
    kp[0, right] = [28, 30, 0.8]
    boxes, scores, out = mirror_people((np.array([[10, 20, 30, 40]], np.float32), np.array([0.7]), kp), 100)
    np.testing.assert_allclose(boxes, [[70, 20, 90, 40]])
    assert scores.tolist() == pytest.approx([0.7])
    # the left shoulder seen at x = 12 on the mirror image is the right shoulder at 100 - 12 = 88
    np.testing.assert_allclose(out[0, right], [88, 30, 0.9])
    np.testing.assert_allclose(out[0, left], [72, 30, 0.8])
    assert (out[0, 0] == 0).all()  # a joint not found stays (0, 0, 0)
    back = mirror_people((boxes, scores, out), 100)
    np.testing.assert_allclose(back[0], [[10, 20, 30, 40]])
    np.testing.assert_allclose(back[2], kp)


def test_flip_average_keeps_the_direct_pose_and_halves_a_person_seen_once() -> None:
    kp_direct = np.full((2, 17, 3), 1.0, np.float32)
    kp_mirror = np.full((2, 17, 3), 2.0, np.float32)
    direct = (np.array([[0, 0, 10, 20], [50, 0, 60, 20]], np.float32), np.array([0.8, 0.4], np.float32), kp_direct)
    mirrored = (np.array([[1, 0, 11, 20], [100, 0, 110, 20]], np.float32), np.array([0.6, 0.3], np.float32),
                kp_mirror)
    boxes, scores, kp = flip_averaged(direct, mirrored, fuse_iou=0.5)
    order = np.argsort(boxes[:, 0])
    boxes, scores, kp = boxes[order], scores[order], kp[order]
    np.testing.assert_allclose(scores, [0.7, 0.2, 0.15], rtol=1e-6)  # both views, direct only, mirror only
    np.testing.assert_allclose(boxes[0], [(0 * 0.8 + 1 * 0.6) / 1.4, 0, (10 * 0.8 + 11 * 0.6) / 1.4, 20], rtol=1e-5)
    assert kp[0, 0, 0] == 1.0 and kp[1, 0, 0] == 1.0 and kp[2, 0, 0] == 2.0


class _LeftHalfFinder:
    """Finds the bright block of a photo, but only when its centre is in the left half."""

    def people(self, image):
        ys, xs = np.nonzero(image[..., 0] > 128)
        kp = np.zeros((0, 17, 3), np.float32)
        if len(xs) == 0 or xs.mean() >= image.shape[1] / 2:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), kp
        box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
        return box, np.array([0.8], np.float32), np.zeros((1, 17, 3), np.float32)


class _NoBase:
    def detect(self, image):
        return []


def _photo(x0: int) -> np.ndarray:
    image = np.zeros((100, 200, 3), np.uint8)
    image[20:80, x0:x0 + 30] = 255
    return image


def test_mirrored_photo_finds_a_person_the_direct_view_misses() -> None:
    plain = FusedDetector(_NoBase(), [_LeftHalfFinder()], weights=[1.0, 1.0], min_score=0.05)
    flipped = FusedDetector(_NoBase(), [_LeftHalfFinder()], weights=[1.0, 1.0], min_score=0.05, flip=True)
    right = _photo(140)  # the block's centre is in the right half: only the mirror image shows it on the left
    assert plain.detect(right) == []
    (person,) = flipped.detect(right)
    assert person.label == PERSON and person.box == pytest.approx((140, 20, 170, 80))
    # one model of two (base and finder), one view of two: 0.8 / 2 / 2
    assert person.score == pytest.approx(0.2)
    (seen,) = flipped.detect(_photo(20))  # left half: the direct view finds it, the mirror does not
    assert seen.box == pytest.approx((20, 20, 50, 80)) and seen.score == pytest.approx(0.2)


def test_presets_and_unknown_names() -> None:
    assert set(PERCEPTIONS) == {"balanced", "accurate"}
    assert person_threshold_for(None, "balanced") == PERCEPTIONS["balanced"].person_threshold
    assert person_threshold_for(0.3, "accurate") == 0.3
    with pytest.raises(HakeError, match="balanced or accurate"):
        build_pipeline(perception="fast")
    pipe = build_pipeline(perception="accurate")
    preset = PERCEPTIONS["accurate"]
    assert pipe.detector.flip and pipe.config.person_threshold == preset.person_threshold
    assert (pipe.pose.single_min_area, pipe.pose.large_min_score, pipe.pose.large_min_area) == (
        preset.single_min_area, preset.large_min_score, preset.large_min_area)
    assert not build_pipeline().detector.flip


@pytest.mark.parametrize("name,image_id", [("000000000790.jpg", 790), ("000000256353.jpg", 256353)])
def test_accurate_finds_at_least_the_large_persons_balanced_finds(name: str, image_id: int) -> None:
    image = read_image(MINI / "train2017" / name)
    gt = large_gt_persons(image_id)

    def found(perception: str) -> int:
        persons = [p for p in build_pipeline(perception=perception)(image).persons]
        if not persons:
            return 0
        return int((iou_matrix(gt, np.array([p.box for p in persons])).max(axis=1) >= 0.5).sum())

    balanced, accurate = found("balanced"), found("accurate")
    assert accurate >= balanced >= 1


def test_infer_takes_the_preset_and_refuses_an_unknown_one(tmp_path) -> None:
    photo = str(MINI / "train2017" / "000000234748.jpg")
    res = infer(photo, "--out", str(tmp_path), "--perception", "fastest")
    assert res.exit_code == 2 and "balanced or accurate" in res.stderr
    assert not list(tmp_path.glob("*.json"))
    res = infer(photo, "--out", str(tmp_path), "--perception", "accurate")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "000000234748.json").read_text())
    assert data["persons"] and all(p["score"] >= PERCEPTIONS["accurate"].person_threshold for p in data["persons"])
