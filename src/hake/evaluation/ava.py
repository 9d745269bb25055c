"""AVA frame mAP@0.5 (ActivityNet ``get_ava_performance.py`` + its Pascal evaluator), pure numpy.

Rules (EVAL_PROTOCOLS.md): label-map filtering and the per-frame top-50 cap happen in the reader
(:func:`hake.datasets.ava.read_ava_csv`), which also keeps each frame's rows in the original's
order (heap order, then a stable sort by descending score). Protocol ``v2019`` drops GT and
detections on excluded frames and counts detections on frames without GT as FP; ``head`` has no
exclusions and ignores the detections of frames absent from the GT CSV, i.e. frames without any GT
row: a frame whose GT rows all carry actions outside the label map is a GT frame, and its
detections are false positives. Detections with ``y2 <= y1`` or ``x2 <= x1`` are removed. Per frame
and class, detections (in the frame's order) take their best GT by IoU **without** +1
(``np.argmax``, no fallback) and are TP iff IoU >= 0.5 and that GT is free. Per class the float64
scores, concatenated frame by frame in the order frames first appear in the detection CSV, are
ranked by ``np.argsort(scores)[::-1]`` (``ties="original"``: that very call on that array;
``ties="stable"``: its stable variant) and scored with the all-point VOC AP; classes without GT get
NaN and mAP is the nanmean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hake.datasets.ava import PROTOCOLS, AvaRows
from hake.errors import DataError
from hake.evaluation.ap import all_point_ap
from hake.evaluation.matching import best_gt, expand_pairs, first_per_key
from hake.evaluation.ranking import check_ties, descending

IOU_THRESH = 0.5


@dataclass
class AvaResult:
    """``mAP`` (fraction) and per-class AP over class ids 1..max id (NaN: no GT)."""

    mAP: float
    per_class_ap: np.ndarray
    class_names: dict[int, str]
    num_gt: np.ndarray
    options: dict[str, Any] = field(default_factory=dict)
    curves: dict[int, Any] = field(default_factory=dict, repr=False)  # class id -> (recall, precision)

    def to_dict(self) -> dict[str, Any]:
        """The report ``--json`` writes: mAP and per-class AP as fractions (None: no GT), GT counts, options."""
        return {"mAP": self.mAP,
                "per_class_ap": {self.class_names.get(i + 1, str(i + 1)): (None if np.isnan(v) else float(v))
                                 for i, v in enumerate(self.per_class_ap) if (i + 1) in self.class_names},
                "num_gt": {self.class_names[i + 1]: int(n) for i, n in enumerate(self.num_gt)
                           if (i + 1) in self.class_names},
                "options": dict(self.options)}


def iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of paired ``[y1, x1, y2, x2]`` rows as ``np_box_ops.iou`` computes it (no +1), float64."""
    h = np.maximum(0.0, np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]))
    w = np.maximum(0.0, np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]))
    inter = h * w
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = inter / (area_a + area_b - inter)
    return out


def evaluate_ava(gt: AvaRows, dets: AvaRows, categories: list[dict[str, Any]], excluded: set[str] | None = None,
                 protocol: str = "v2019", keep_curves: bool = False, ties: str = "original") -> AvaResult:
    """Frame mAP of AVA detections.

    Args:
        gt: GT rows (``read_ava_csv(..., capacity=0)``); boxes ``[y1, x1, y2, x2]`` normalised.
        dets: detection rows (``read_ava_csv(..., capacity=50)``).
        categories: the label map, ``[{"id": int, "name": str}]`` (1-based ids).
        excluded: excluded frame keys (``v2019``; must be empty for ``head``).
        protocol: ``v2019`` or ``head``.
        keep_curves: also return PR curves per class id in ``result.curves``.
        ties: ``original`` (default): ``np.argsort(scores)[::-1]`` on the original's float64 array,
            so tied scores are ordered as the original orders them under the numpy in use;
            ``stable``: a fixed order, the same answer on every machine.

    Returns:
        :class:`AvaResult`: mAP and per-class AP as fractions; ``options`` records protocol and ties.
    """
    check_ties(ties)
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}", field="protocol")
    excluded = set(excluded or ())
    if protocol == "head" and excluded:
        raise DataError("protocol 'head' takes no exclusions", field="exclusions")
    num_class = max(c["id"] for c in categories)
    gt_ok_frame = np.array([k not in excluded for k in gt.frame_keys.tolist()], bool)
    in_map = (gt.labels >= 1) & (gt.labels <= num_class)
    g = np.flatnonzero((gt_ok_frame[gt.frame] if len(gt.frame) else np.zeros(0, bool)) & in_map)
    g_frame, g_lab, g_box = gt.frame[g], gt.labels[g], gt.boxes[g]
    num_gt = np.bincount(g_lab - 1, minlength=num_class)[:num_class] if len(g_lab) else np.zeros(num_class, int)

    gt_index = {k: i for i, k in enumerate(gt.frame_keys.tolist()) if gt_ok_frame[i]}
    det_to_gt = np.array([gt_index.get(k, -1) for k in dets.frame_keys.tolist()], np.int64)
    det_ok_frame = np.array([k not in excluded for k in dets.frame_keys.tolist()], bool)
    if protocol == "head":  # frames named by any GT row (the original's all_keys), boxes or not
        gt_frames = gt.all_frame_keys if gt.all_frame_keys is not None else gt.frame_keys
        det_ok_frame &= np.isin(dets.frame_keys, gt_frames)
    b = dets.boxes
    keep = ((det_ok_frame[dets.frame] if len(dets.frame) else np.zeros(0, bool))
            & (b[:, 0] < b[:, 2]) & (b[:, 1] < b[:, 3]) & (dets.labels >= 1) & (dets.labels <= num_class))
    d_frame, d_lab, d_box, d_sc = dets.frame[keep], dets.labels[keep], b[keep], dets.scores[keep]

    stride = num_class + 2
    d_gframe = det_to_gt[d_frame]
    det_key = np.where(d_gframe >= 0, d_gframe * stride + d_lab, -1)
    det, gidx, counts = expand_pairs(det_key, g_frame * stride + g_lab)
    iou = iou_pairs(d_box[det], g_box[gidx])
    j, ov = best_gt(iou, det, gidx, counts, len(d_sc), nan_is_max=True)
    tp = first_per_key(j, ov >= IOU_THRESH)

    ap = np.full(num_class, np.nan)
    curves: dict[int, Any] = {}
    for c in np.flatnonzero(num_gt > 0):
        sel = np.flatnonzero(d_lab == c + 1)
        if not len(sel):
            ap[c] = 0.0
            continue
        order = sel[descending(d_sc[sel], ties)]
        cum_tp = np.cumsum(tp[order].astype(np.int64))
        cum_fp = np.cumsum((~tp[order]).astype(np.int64))
        precision = cum_tp.astype(float) / (cum_tp + cum_fp)
        recall = cum_tp.astype(float) / num_gt[c]
        ap[c] = all_point_ap(recall, precision)
        if keep_curves:
            curves[c + 1] = (recall, precision)
    names = {int(c["id"]): str(c["name"]) for c in categories}
    mean = float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")
    options = {"protocol": protocol, "iou_thresh": IOU_THRESH, "ap": "all-point", "exclusions": len(excluded),
               "ties": ties, "num_detections": int(len(d_sc)), "num_gt": int(len(g))}
    return AvaResult(mean, ap, names, num_gt, options, curves)
