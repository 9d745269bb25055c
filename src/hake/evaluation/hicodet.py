"""HICO-DET mAP, Default and Known-Object, Full/Rare/Non-Rare, from one call (pure numpy).

Reproduces ``eval_one.m`` + ``VOCevaldet_bboxpair.m`` of ywchao/ho-rcnn (rules in
EVAL_PROTOCOLS.md): +1 on every detection coordinate, +1 pixel IoU, pair overlap = min of the
human and object IoU, best GT of the same class and image with a strict ``>`` (first on ties),
TP iff overlap >= 0.5 and that GT is still free (no fallback), stable descending score sort,
11-point AP. Known-Object keeps, for HOI i with object o, only detections on images labelled +1
for some HOI of o; it shares the sort and IoU work with Default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hake.datasets.hicodet import HicoDetDetections, HicoDetGT, check_detections
from hake.errors import DataError
from hake.evaluation.ap import PRCurves, segment_voc11, stable_argsort
from hake.evaluation.matching import best_gt, expand_pairs, first_per_key, iou_plus_one
from hake.evaluation.result import TwoModeResult
from hake.vocab.sizes import NUM_HOIS, NUM_OBJECTS

MIN_OVERLAP = 0.5


@dataclass
class HicoDetMode:
    """Scores of one setting. ``full``/``rare``/``non_rare`` are fractions in [0, 1].

    Attributes:
        per_class_ap: (600,) 11-point AP per HOI (0 for a class without positives).
        per_class_recall: (600,) final recall (NaN with detections and no positives).
    """

    full: float
    rare: float
    non_rare: float
    per_class_ap: np.ndarray
    per_class_recall: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Summary values (fractions), per-class AP and recall (NaN as None)."""
        return {"full": self.full, "rare": self.rare, "non_rare": self.non_rare,
                "per_class_ap": self.per_class_ap.tolist(),
                "per_class_recall": [None if np.isnan(r) else float(r) for r in self.per_class_recall]}


class HicoDetResult(TwoModeResult[HicoDetMode]):
    """Default and Known-Object :class:`HicoDetMode` plus the options used (``options["detections"]``
    carries the reader's notes, e.g. triplets that map to no HOI)."""


def known_object_mask(gt: HicoDetGT, hoi_object: np.ndarray) -> tuple[np.ndarray, str]:
    """(N, 80) bool: image n is labelled +1 for some HOI of object o; and where that came from."""
    mask = np.zeros((len(gt), NUM_OBJECTS), dtype=bool)
    if gt.image_pos_labels is not None:
        source, labels = "image_pos_labels", gt.image_pos_labels
    else:
        source, labels = "derived from the box GT (no image_pos_labels in the GT file)", gt.hoi
    counts = np.array([len(x) for x in labels], dtype=np.int64)
    if counts.sum():
        img = np.repeat(np.arange(len(gt)), counts)
        mask[img, hoi_object[np.concatenate(labels)]] = True
    return mask, source


def _summary(ap: np.ndarray, rec: np.ndarray, gt: HicoDetGT) -> HicoDetMode:
    return HicoDetMode(float(np.mean(ap)), float(np.mean(ap[gt.rare])), float(np.mean(ap[gt.non_rare])), ap, rec)


def evaluate_hicodet(gt: HicoDetGT, image_index: np.ndarray | HicoDetDetections, hoi: np.ndarray | None = None,
                     boxes_h: np.ndarray | None = None, boxes_o: np.ndarray | None = None,
                     scores: np.ndarray | None = None, keep_curves: bool = False) -> HicoDetResult:
    """Evaluate HICO-DET detections in both settings.

    Call it with the detections a reader returns, ``evaluate_hicodet(gt, dets)``
    (:func:`hake.datasets.hoi_formats.read_detections`), or with their columns:

    Args:
        gt: the test ground truth (:func:`hake.datasets.hicodet.load_test_gt`).
        image_index: (M,) 0-based index into ``gt`` of each detection, or a whole
            :class:`HicoDetDetections` (then the next four arguments stay None).
        hoi: (M,) 0-based HOI id.
        boxes_h, boxes_o: (M, 4) x1y1x2y2 in **0-based** pixel coordinates (+1 is added here).
        scores: (M,) confidence (NaN is refused).
        keep_curves: also return the PR curves (``result.curves["default"|"known_object"]``).

    Returns:
        :class:`HicoDetResult`; mAP over Full 600, Rare and Non-Rare as listed in ``gt``, as
        fractions; ``options["detections"]`` holds the reader's notes when ``dets`` came from one.
    """
    from hake.vocab import load

    hoi_object = load().hoi_object
    info: dict[str, Any] = {}
    if isinstance(image_index, HicoDetDetections):
        if any(x is not None for x in (hoi, boxes_h, boxes_o, scores)):
            raise DataError("pass either a HicoDetDetections or the five columns", field="hoi")
        info = dict(image_index.info)
        d = image_index
        image_index, hoi, boxes_h, boxes_o, scores = d.image_index, d.hoi, d.boxes_h, d.boxes_o, d.scores
    elif hoi is None or boxes_h is None or boxes_o is None or scores is None:
        raise DataError("hoi, boxes_h, boxes_o and scores are needed with an image_index array", field="hoi")
    d = check_detections(image_index, hoi, boxes_h, boxes_o, scores, len(gt), gt.source)
    n_img = max(len(gt), 1)
    # official order: per class, image order then row order, then a stable sort by -score
    if len(d.image_index) and not np.all(d.image_index[1:] >= d.image_index[:-1]):
        perm = np.argsort(d.image_index, kind="stable")
        d.image_index, d.hoi, d.boxes_h, d.boxes_o, d.scores = (
            d.image_index[perm], d.hoi[perm], d.boxes_h[perm], d.boxes_o[perm], d.scores[perm])
    order = stable_argsort(d.scores, descending=True)
    order = order[np.argsort(d.hoi[order].astype(np.int16), kind="stable")]
    img, cls = d.image_index[order], d.hoi[order]
    bh, bo = d.boxes_h[order] + 1, d.boxes_o[order] + 1

    g_img, g_hoi, g_bh, g_bo = gt.flat()
    det, gidx, counts = expand_pairs(cls * n_img + img, g_hoi * n_img + g_img)
    ov = np.minimum(iou_plus_one(bh[det], g_bh[gidx]), iou_plus_one(bo[det], g_bo[gidx]))
    j_max, ov_max = best_gt(ov, det, gidx, counts, len(cls))
    tp = first_per_key(j_max, ov_max >= MIN_OVERLAP)

    npos = np.bincount(g_hoi, minlength=NUM_HOIS)
    n_per_cls = np.bincount(cls, minlength=NUM_HOIS)
    curves: list[PRCurves] | None = [] if keep_curves else None
    ap, rec = segment_voc11(tp, n_per_cls, npos, curves)

    ko_mask, ko_source = known_object_mask(gt, hoi_object)
    keep = ko_mask[img, hoi_object[cls]]
    ap_ko, rec_ko = segment_voc11(tp[keep], np.bincount(cls[keep], minlength=NUM_HOIS), npos, curves)
    options = {"min_overlap": MIN_OVERLAP, "ap": "voc11", "plus_one_on_detections": True,
               "known_object_labels": ko_source, "num_images": len(gt), "num_detections": int(len(cls))}
    if info:
        options["detections"] = info
    return HicoDetResult(_summary(ap, rec, gt), _summary(ap_ko, rec_ko, gt), options,
                         dict(zip(("default", "known_object"), curves or [])))
