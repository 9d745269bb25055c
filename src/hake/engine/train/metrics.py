"""Training-time metrics on top of hake's AP code (:mod:`hake.evaluation.ap`)."""

from __future__ import annotations

import numpy as np

from hake.evaluation.ap import segment_voc11, stable_descending


def multilabel_map(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-class 11-point AP of instance scores, and their mean over classes with positives.

    Args:
        scores: (N, C) scores (higher = more confident).
        labels: (N, C) binary ground truth.

    Returns:
        ap: (C,) AP per class (NaN for a class without positives).
        mAP: mean of the non-NaN entries (0.0 when no class has a positive).
    """
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels) > 0.5
    n, c = scores.shape
    order = np.stack([stable_descending(scores[:, k]) for k in range(c)], 1) if n else np.zeros((0, c), int)
    tp = np.take_along_axis(labels, order, 0).T.reshape(-1)
    ap, _ = segment_voc11(tp, np.full(c, n), labels.sum(0))
    ap = np.where(labels.any(0), ap, np.nan)
    valid = ap[~np.isnan(ap)]
    return ap, float(valid.mean()) if len(valid) else 0.0
