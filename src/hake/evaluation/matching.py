"""Vectorised greedy matching shared by the detection evaluators (pure numpy).

Every benchmark here matches a detection only against the GT of one *group* (same image and
class, or same frame and class), takes that group's best GT **without fallback**, and is a TP iff
the overlap reaches the threshold and no earlier detection (in processing order) took that GT.
Because the best GT of a detection does not depend on earlier matches, the greedy loop reduces
to: compute each detection's best GT, then keep the first detection per GT among those above
threshold. :func:`expand_pairs` lays out the (detection, GT-of-its-group) pairs;
:func:`first_per_key` does the "first taker wins" step.
"""

from __future__ import annotations

import numpy as np

from hake.evaluation.ap import segment_first_argmax
from hake.geometry.boxes import iou_plus_one

__all__ = ["best_gt", "expand_pairs", "first_per_key", "iou_plus_one"]


def expand_pairs(det_keys: np.ndarray, gt_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (detection, GT) pairs that share a group key, GT in their original order per group.

    Args:
        det_keys: (M,) int64 group key of each detection.
        gt_keys: (G,) int64 group key of each GT item.

    Returns:
        det: (P,) detection index of each pair, grouped by detection (ascending).
        gt: (P,) GT index of each pair; within one detection in ascending GT index order.
        counts: (M,) number of GT items in each detection's group.
    """
    det_keys = np.asarray(det_keys, dtype=np.int64)
    gt_keys = np.asarray(gt_keys, dtype=np.int64)
    order = np.argsort(gt_keys, kind="stable")
    sorted_keys = gt_keys[order]
    lo = np.searchsorted(sorted_keys, det_keys, side="left")
    hi = np.searchsorted(sorted_keys, det_keys, side="right")
    counts = hi - lo
    total = int(counts.sum())
    det = np.repeat(np.arange(len(det_keys), dtype=np.int64), counts)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    gt = order[np.repeat(lo, counts) + offsets]
    return det, gt, counts


def best_gt(values: np.ndarray, det: np.ndarray, gt: np.ndarray, counts: np.ndarray, num_dets: int,
            nan_is_max: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Best GT of every detection: the first maximum of its pair overlaps.

    Args:
        values: (P,) overlap of each pair from :func:`expand_pairs`.
        det, gt, counts: the output of :func:`expand_pairs`.
        num_dets: M.
        nan_is_max: ``np.argmax`` semantics (first NaN wins) instead of a strict ``>`` scan.

    Returns:
        gt_index: (M,) best GT index, -1 for detections whose group has no GT.
        overlap: (M,) its overlap (-inf without GT; NaN where NaN won).
    """
    gt_index = np.full(num_dets, -1, dtype=np.int64)
    overlap = np.full(num_dets, -np.inf, dtype=np.float64)
    has = counts > 0
    if has.any():
        pos = segment_first_argmax(values, counts[has], nan_is_max=nan_is_max)
        gt_index[has] = gt[pos]
        overlap[has] = values[pos]
    return gt_index, overlap


def first_per_key(keys: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """True for the first eligible element of each key value (elements already in processing order).

    Args:
        keys: (K,) int64 key (e.g. the global index of the matched GT).
        eligible: (K,) bool; only eligible elements compete, the first one per key wins.
    """
    out = np.zeros(len(keys), dtype=bool)
    idx = np.flatnonzero(eligible)
    if idx.size:
        _, first = np.unique(np.asarray(keys)[idx], return_index=True)
        out[idx[first]] = True
    return out
