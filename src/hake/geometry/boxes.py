"""Box overlaps (numpy): the +1-pixel convention of the official evaluators, and plain continuous IoU."""

from __future__ import annotations

import numpy as np


def iou_plus_one(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of paired rows with the +1 pixel convention of the MATLAB/VOC code, float64.

    ``iw = min(x2) - max(x1) + 1``; overlap is 0 unless ``iw > 0 and ih > 0``;
    ``ua = (w_a * h_a) + (w_b * h_b) - iw * ih`` with ``w = x2 - x1 + 1``; ``ov = iw * ih / ua``,
    the operations in the order of ``VOCevaldet_bboxpair.m`` (``a`` = detection, ``b`` = GT).

    Args:
        a, b: (P, 4) x1y1x2y2 boxes in 1-based pixel numbers.
    """
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + 1
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + 1
    ok = (iw > 0) & (ih > 0)
    inter = iw * ih
    ua = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1) + (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, inter / np.where(ok, ua, 1.0), 0.0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) float64 IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4).

    Boxes are x1, y1, x2, y2 in pixels with continuous areas (no +1 convention); 0 where the union is empty.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    iou: np.ndarray = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou
