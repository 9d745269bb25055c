"""The 64×64 pose map of Activity2Vec: a person's skeleton drawn on a canvas fitted to its box."""

from __future__ import annotations

import numpy as np

from hake.geometry.parts import JOINT_THRESHOLD, check_inputs
from hake.vocab.coco import SKELETON

#: The COCO-17 limbs drawn on the map (the one skeleton table, :data:`hake.vocab.coco.SKELETON`).
COCO_LIMBS = SKELETON


def pose_map(keypoints: np.ndarray, person_boxes: np.ndarray, size: int = 64) -> np.ndarray:
    """Skeleton images of N persons.

    The person box is stretched to the ``size``×``size`` canvas (its x1, y1 -> pixel 0, its x2, y2
    -> pixel ``size − 1``); every COCO limb whose two joints have score ≥ 0.2 is drawn as a line of
    value 1 (parts leaving the canvas are cut), everything else is 0.

    Args:
        keypoints: (N, 17, 3) COCO-17 (x, y, score), pixels.
        person_boxes: (N, 4) x1y1x2y2 pixels.
        size: canvas side in pixels.

    Returns:
        (N, size, size) float32 in [0, 1], indexed [person, row (y), column (x)].
    """
    kps = np.asarray(keypoints, np.float64)
    boxes = np.asarray(person_boxes, np.float64)
    check_inputs(kps, boxes)
    n = len(kps)
    out = np.zeros((n, size, size), np.float32)
    if n == 0:
        return out
    extent = np.maximum(boxes[:, 2:] - boxes[:, :2], 1e-6)  # (N, 2) w, h
    canvas_xy = (kps[..., :2] - boxes[:, None, :2]) / extent[:, None, :] * (size - 1)  # (N, 17, 2)
    a, b = np.array(COCO_LIMBS).T
    ok = (kps[:, a, 2] >= JOINT_THRESHOLD) & (kps[:, b, 2] >= JOINT_THRESHOLD)  # (N, L)
    t = np.linspace(0.0, 1.0, 2 * size)[None, None, :, None]  # samples along each limb, denser than pixels
    pts = canvas_xy[:, a, None, :] * (1 - t) + canvas_xy[:, b, None, :] * t  # (N, L, T, 2)
    pix = np.rint(pts).astype(np.int64)
    inside = ok[..., None] & (pix >= 0).all(-1) & (pix < size).all(-1)  # (N, L, T)
    person = np.broadcast_to(np.arange(n)[:, None, None], inside.shape)
    out[person[inside], pix[..., 1][inside], pix[..., 0][inside]] = 1.0
    return out
