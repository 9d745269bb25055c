"""The two perception Protocols, so users can plug in their own detector or pose model.

- :class:`Detector`: ``detect(image) -> list[DetectedObject]`` (persons and objects, HICO ids).
- :class:`PoseEstimator`: ``estimate(image, boxes) -> (N, 17, 3)`` COCO-17 keypoints.

Images are RGB ``uint8`` arrays of shape (H, W, 3); boxes are x1, y1, x2, y2 in pixels, 0-based.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from hake.errors import DataError
from hake.structures import DetectedObject

#: HICO object index of "person" (the detector's person class after the COCO -> HICO map).
PERSON = 49



@runtime_checkable
class Detector(Protocol):
    """Finds persons and objects in one RGB image.

    ``detect(image)`` takes an (H, W, 3) uint8 RGB array and returns detections sorted by score
    (descending), boxes in pixels (x1, y1, x2, y2), labels as 0-based HICO object indices
    (:data:`PERSON` for persons).
    """

    def detect(self, image: np.ndarray) -> list[DetectedObject]: ...


@runtime_checkable
class PoseEstimator(Protocol):
    """Estimates COCO-17 keypoints of the persons in ``boxes``.

    ``estimate(image, boxes)`` takes an (H, W, 3) uint8 RGB array and (N, 4) float person boxes in
    pixels, and returns an (N, 17, 3) float32 array of (x, y, score), x and y in image pixels.
    """

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray: ...


def check_image(image: np.ndarray, source: str | None = None) -> np.ndarray:
    """Return ``image`` if it is an (H, W, 3) uint8 array with H, W > 0; raise :class:`DataError` otherwise."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise DataError(f"expected an (H, W, 3) uint8 RGB image, got shape {shape} dtype {dtype}", file=source)
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise DataError("image is empty (0 pixels)", file=source)
    return image


def fit_long_side(height: int, width: int, size: int, square: bool = False) -> tuple[int, int, int, int]:
    """Model input for a ``height`` x ``width`` photo scaled so that its long side is ``size`` pixels:
    (input H, input W, scaled photo h, scaled photo w). The input is the ``size`` square with
    ``square``, else the scaled photo rounded up to multiples of 32 (what strided networks take)."""
    scale = size / max(height, width)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    if square:
        return size, size, h, w
    return -(-h // 32) * 32, -(-w // 32) * 32, h, w


def check_boxes(boxes: np.ndarray) -> np.ndarray:
    """Return ``boxes`` as an (N, 4) float32 array; raise :class:`DataError` for another shape."""
    arr = np.asarray(boxes, dtype=np.float32)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise DataError(f"boxes must be (N, 4) x1, y1, x2, y2, got shape {arr.shape}", field="boxes")
    return arr
