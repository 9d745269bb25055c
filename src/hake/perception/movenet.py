"""MoveNet pose estimators run by onnxruntime (COCO-17 keypoints).

- :class:`MoveNetSingle` (Thunder 256x256 or Lightning 192x192): top-down, one model call per
  person on a square crop 1.25x the person box, int32 RGB input; output (1, 1, 17, 3) rows of
  (y, x, score) normalised to the crop.
- :class:`MoveNetMultiPose` (MultiPose Lightning): one call per image on the photo scaled so that
  its long side is 256 and padded at the right / bottom to multiples of 32 (256x192 for a 3:2
  photo: a quarter cheaper than the padded 256x256 square, and the same person box AP on the
  coco-mini photos); output (1, 6, 56) = 17 x (y, x, score), then y0, x0, y1, x1, score, all
  normalised to the model input. Its people are matched to the requested boxes by IoU (Hungarian
  assignment).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from hake.geometry.boxes import iou_matrix
from hake.hub import DEFAULT_POSE
from hake.perception.base import check_boxes, check_image, fit_long_side
from hake.perception.onnx_model import OnnxModel

CROP_SCALE = 1.25


def _crop_transform(box: np.ndarray, size: int) -> np.ndarray:
    """2x3 affine map from image pixels to a size x size crop centred on ``box``, 1.25x its long side."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1, 1.0) * CROP_SCALE
    s = size / side
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return np.array([[s, 0, size / 2 - cx * s], [0, s, size / 2 - cy * s]], np.float32)


class MoveNetSingle:
    """Single-person MoveNet on each person crop, implementing :class:`hake.perception.PoseEstimator`.

    Args:
        source: zoo name (``"pose.movenet_thunder"`` / ``"pose.movenet_lightning"``) or ``.onnx`` path.
        threads: onnxruntime intra-op threads.
        device: ``"cpu"`` or ``"cuda"``.
    """

    def __init__(self, source: str | Path = f"pose.{DEFAULT_POSE}", threads: int = 1, device: str = "cpu") -> None:
        self.model = OnnxModel(source, threads=threads, device=device)
        self.model.expect("single-person MoveNet pose", "tensor(int32)", (None, None, 3), (1, 17, 3))
        self.size = int(self.model.input.shape[1])

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, 17, 3) float32 keypoints (x, y, score) in image pixels for (N, 4) person boxes."""
        image = check_image(image)
        boxes = check_boxes(boxes)
        out = np.zeros((len(boxes), 17, 3), np.float32)
        for i, box in enumerate(boxes):
            m = _crop_transform(box, self.size)
            crop = cv2.warpAffine(image, m, (self.size, self.size), flags=cv2.INTER_LINEAR)
            kp = self.model(crop.astype(np.int32)[None])[0].reshape(17, 3)
            out[i, :, 0] = (kp[:, 1] * self.size - m[0, 2]) / m[0, 0]
            out[i, :, 1] = (kp[:, 0] * self.size - m[1, 2]) / m[1, 1]
            out[i, :, 2] = kp[:, 2]
        return out


class MoveNetMultiPose:
    """MoveNet MultiPose (up to 6 people per image), implementing :class:`hake.perception.PoseEstimator`.

    Args:
        source: zoo name or ``.onnx`` path.
        input_size: the long side of the model input, a multiple of 32.
        min_iou: a requested box with no MultiPose person overlapping it at least this much gets
            zero-score keypoints.
        square: pad the photo to a square first (input ``input_size`` x ``input_size``) instead of
            padding only the short side up to a multiple of 32.
        threads: onnxruntime intra-op threads.
        device: ``"cpu"`` or ``"cuda"``.
    """

    def __init__(
        self,
        source: str | Path = "pose.movenet_multipose",
        input_size: int = 256,
        min_iou: float = 0.3,
        square: bool = False,
        threads: int = 1,
        device: str = "cpu",
    ) -> None:
        if input_size % 32 or input_size <= 0:
            raise ValueError(f"input_size must be a positive multiple of 32, got {input_size}")
        self.model = OnnxModel(source, threads=threads, device=device)
        self.model.expect("MoveNet MultiPose", "tensor(int32)", (None, None, 3), (6, 56))
        self.size = int(input_size)
        self.min_iou = float(min_iou)
        self.square = bool(square)

    def input_shape(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(input H, input W, scaled photo h, scaled photo w) in pixels for an ``height`` x ``width`` photo.

        The photo is scaled by ``input_size / max(height, width)`` to (h, w) and padded at the right and
        bottom to (H, W): multiples of 32, or ``input_size`` x ``input_size`` with ``square``.
        """
        return fit_long_side(height, width, self.size, self.square)

    def people(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All six MultiPose slots: boxes (6, 4) pixels, scores (6,), keypoints (6, 17, 3) pixels."""
        image = check_image(image)
        height, width = image.shape[:2]
        big_h, big_w, h, w = self.input_shape(height, width)
        padded = np.zeros((big_h, big_w, 3), np.int32)
        padded[:h, :w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        rows = self.model(padded[None])[0][0]
        sy, sx = big_h * height / h, big_w * width / w  # normalised input -> photo pixels
        kp = rows[:, :51].reshape(-1, 17, 3)
        keypoints = np.stack([kp[..., 1] * sx, kp[..., 0] * sy, kp[..., 2]], axis=-1).astype(np.float32)
        boxes = np.stack([rows[:, 52] * sx, rows[:, 51] * sy, rows[:, 54] * sx, rows[:, 53] * sy], axis=1)
        return boxes.astype(np.float32), rows[:, 55].astype(np.float32), keypoints

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, 17, 3) keypoints for (N, 4) person boxes, each from the MultiPose person it overlaps most."""
        boxes = check_boxes(boxes)
        out = np.zeros((len(boxes), 17, 3), np.float32)
        if len(boxes) == 0:
            return out
        found, _, keypoints = self.people(image)
        iou = iou_matrix(boxes, found)
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols):
            if iou[r, c] >= self.min_iou:
                out[r] = keypoints[c]
        return out
