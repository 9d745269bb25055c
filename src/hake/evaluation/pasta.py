"""PaSta AP per part state (the Activity2Vec benchmark), pure numpy.

Each person detection is matched to the GT person of its image with the highest IoU (plain IoU
of 0-based continuous pixel boxes, no +1; first on ties); it is matched when that IoU is
**> 0.3**. For part state s the detections are ranked by their score for s (stable, descending);
a detection is a TP iff it is matched, the matched person has state s, and no higher-ranked
detection took that person for s (no fallback). AP is the 11-point VOC AP; mAP is reported over
all states and over the states that are not ``no_interaction``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hake.errors import DataError
from hake.evaluation.ap import segment_voc11
from hake.evaluation.matching import best_gt, expand_pairs, first_per_key

IOU_THRESH = 0.3


@dataclass
class PastaResult:
    """``mAP`` over states with positives, ``mAP_without_no_interaction`` likewise; fractions.

    Attributes:
        per_state_ap: (S,) 11-point AP (0 for a state without positives).
        per_state_recall: (S,) final recall.
        n_states: number of states averaged per summary value.
    """

    mAP: float
    mAP_without_no_interaction: float
    per_state_ap: np.ndarray
    per_state_recall: np.ndarray
    n_states: dict[str, int]
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """mAPs as fractions, per-state AP and recall, state counts, options."""
        return {"mAP": self.mAP, "mAP_without_no_interaction": self.mAP_without_no_interaction,
                "per_state_ap": self.per_state_ap.tolist(),
                "per_state_recall": [None if np.isnan(r) else float(r) for r in self.per_state_recall],
                "n_states": dict(self.n_states), "options": dict(self.options)}


def no_interaction_states(space: str = "pasta76") -> np.ndarray:
    """Indices of the ``no_interaction`` state of every PaSta group (the last state of each)."""
    from hake.vocab import load

    return np.array([s.stop - 1 for s in load().pasta_slices(space).values()], np.int64)


def iou_plain(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of paired x1y1x2y2 rows, continuous coordinates (no +1); 0 where the union is empty."""
    iw = np.maximum(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0)
    ih = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0)
    inter = iw * ih
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def evaluate_pasta(gt_boxes: list[np.ndarray], gt_states: list[np.ndarray], det_image: np.ndarray,
                   det_boxes: np.ndarray, det_scores: np.ndarray, no_interaction: np.ndarray | None = None,
                   iou_thresh: float = IOU_THRESH) -> PastaResult:
    """PaSta AP of person detections with per-state scores.

    Args:
        gt_boxes: per image (n_i, 4) GT person boxes, x1y1x2y2 0-based pixels.
        gt_states: per image (n_i, S) binary part-state labels of those persons.
        det_image: (M,) 0-based image index of each person detection.
        det_boxes: (M, 4) detection boxes, x1y1x2y2 0-based pixels.
        det_scores: (M, S) score of each state.
        no_interaction: indices of the ``no_interaction`` states (default: PaSta-76's six).
        iou_thresh: a detection is matched when IoU > this.
    """
    det_scores = np.asarray(det_scores, np.float64)
    if det_scores.ndim != 2:
        raise DataError(f"expected (M, S) scores, got shape {det_scores.shape}", field="det_scores")
    m, n_states = det_scores.shape
    det_image = np.asarray(det_image, np.int64).reshape(-1)
    det_boxes = np.asarray(det_boxes, np.float64).reshape(-1, 4)
    if len(gt_boxes) != len(gt_states):
        raise DataError(f"{len(gt_boxes)} box lists but {len(gt_states)} state lists", field="gt_states")
    if len(det_image) != m or len(det_boxes) != m:
        raise DataError("det_image, det_boxes and det_scores differ in length", field="det_boxes")
    if m and (det_image.min() < 0 or det_image.max() >= len(gt_boxes)):
        raise DataError(f"image index outside 0..{len(gt_boxes) - 1}", field="det_image")
    if not (np.isfinite(det_boxes).all() and not np.isnan(det_scores).any()):
        raise DataError("NaN or infinite box, or NaN score", field="det_boxes")
    counts = [len(b) for b in gt_boxes]
    for i, (b, s) in enumerate(zip(gt_boxes, gt_states)):
        if np.shape(s) != (counts[i], n_states) or np.shape(b) != (counts[i], 4):
            raise DataError(f"expected ({counts[i]}, 4) boxes and ({counts[i]}, {n_states}) states",
                            record=i, field="gt_states")
    g_img = np.repeat(np.arange(len(gt_boxes)), counts)
    g_box = np.concatenate([np.asarray(b, np.float64) for b in gt_boxes]) if g_img.size else np.zeros((0, 4))
    g_st = (np.concatenate([np.asarray(s) for s in gt_states]) if g_img.size else np.zeros((0, n_states))) > 0

    det, gidx, cnt = expand_pairs(det_image, g_img)
    person, ov = best_gt(iou_plain(det_boxes[det], g_box[gidx]), det, gidx, cnt, m)
    matched = ov > iou_thresh
    tp_parts = []
    for k in range(n_states):
        order = np.argsort(-det_scores[:, k], kind="stable")
        p = person[order]
        eligible = matched[order] & g_st[np.maximum(p, 0), k] if g_st.size else np.zeros(m, bool)
        tp_parts.append(first_per_key(p, eligible))
    tp: np.ndarray = np.concatenate(tp_parts) if tp_parts else np.zeros(0, bool)
    npos = g_st.sum(axis=0)
    ap, rec = segment_voc11(tp, np.full(n_states, m), npos)
    has = npos > 0
    ni = np.zeros(n_states, bool)
    ni[no_interaction_states() if no_interaction is None else np.asarray(no_interaction, np.int64)] = True

    def mean(sel: np.ndarray) -> float:
        return float(ap[sel].mean()) if sel.any() else float("nan")

    options = {"iou_thresh": iou_thresh, "iou": "plain (no +1)", "ap": "voc11", "match": "IoU > thresh",
               "mean_over": "states with at least one positive"}
    return PastaResult(mean(has), mean(has & ~ni), ap, rec,
                       {"mAP": int(has.sum()), "mAP_without_no_interaction": int((has & ~ni).sum())}, options)
