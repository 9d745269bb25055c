"""Horizontal mirroring of boxes and COCO-17 keypoints (numpy), for flipped photos.

A photo ``width`` pixels wide mirrored left to right maps ``x`` to ``width - x`` (continuous pixel
coordinates): a box's x1 and x2 swap, and each keypoint takes the place of its left/right twin
(:data:`hake.vocab.coco.FLIP`). Applying either function twice gives back its input.
"""

from __future__ import annotations

import numpy as np

from hake.vocab.coco import FLIP

_FLIP = list(FLIP)


def mirror_boxes(boxes: np.ndarray, width: float) -> np.ndarray:
    """(N, 4) float32 x1, y1, x2, y2 pixels of (N, 4) boxes after mirroring a photo ``width`` pixels wide."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    out: np.ndarray = np.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], axis=1).astype(np.float32)
    return out


def mirror_keypoints(keypoints: np.ndarray, width: float) -> np.ndarray:
    """(N, 17, 3) float32 COCO-17 (x, y, score) after mirroring: left and right joints exchanged, x
    mirrored; a joint with score 0 (not found) stays (0, 0, 0)."""
    kp: np.ndarray = np.asarray(keypoints, np.float32).reshape(-1, 17, 3)[:, _FLIP].copy()
    found = kp[..., 2] > 0
    kp[..., 0] = np.where(found, width - kp[..., 0], 0)
    kp[..., 1] = np.where(found, kp[..., 1], 0)
    return kp
