"""Scores of ``hake benchmark photos``: COCO perception metrics, HOI mAP and PaSta AP on labelled photos.

- Perception: pycocotools' ``COCOeval`` (the maintained COCO evaluator) on the pipeline's outputs:
  box AP@[.5:.95] over all classes present, person AP, AP50 and AR@100 for large persons
  (area > 96²), keypoint OKS AP over the persons.
- HOI mAP: HICO-DET matching (a detection is a true positive when min(IoU_human, IoU_object) ≥ 0.5
  against a not yet matched GT pair of its HOI in its image), VOC 11-point AP per HOI, averaged over
  the HOIs with at least one GT pair; GT boxes come from the COCO annotations. Detections on a
  ``difficult`` or unlisted person (human box IoU ≥ 0.5 with it and less with every scored person)
  are ignored, neither true nor false positives.
- PaSta AP: each scored person (not ``difficult``) is matched to one detected person at IoU ≥ 0.5
  (pairs taken by decreasing IoU, one-to-one); per labelled group its states are ranked by the
  detected person's probabilities (a missed person ranks its labelled states last) and the AP of the
  labelled states in that ranking is taken (mean over them of the precision at their rank).
  Per group: the mean over its labelled persons; ``pasta_map``: the mean over every labelled
  (person, group); top-1 hit rate: the share of labelled (person, group) whose first state is labelled.

Every figure is a fraction in [0, 1], or ``None`` where it cannot be computed (no GT for it).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hake.errors import DataError, HakeError
from hake.evaluation.hicodet import evaluate_hicodet
from hake.geometry.boxes import iou_matrix as box_iou
from hake.vocab import load as load_vocab

MATCH_IOU = 0.5


@dataclass
class LabelledPerson:
    """One person of ``hoi_labels_*.json``: box (x1, y1, x2, y2) pixels, HOIs (hoi id, object COCO
    annotation id), part states per group (PaSta-76 names), and whether it is difficult."""

    ann_id: int
    box: tuple[float, float, float, float]
    difficult: bool
    hois: list[tuple[int, int]] = field(default_factory=list)
    pasta: dict[str, list[str]] = field(default_factory=dict)


def _coco(dataset: dict[str, Any]) -> Any:
    try:
        from pycocotools.coco import COCO
    except ImportError:
        raise HakeError("hake benchmark photos needs pycocotools: pip install 'hake[bench]'") from None

    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _stats(gt: dict[str, Any], dets: list[dict[str, Any]], iou_type: str, image_ids: list[int],
           cat_ids: list[int] | None = None) -> np.ndarray | None:
    """COCOeval summary stats (12 for bbox, 10 for keypoints), or None with no GT of that kind."""
    from pycocotools.cocoeval import COCOeval

    coco_gt = _coco(gt)
    if not coco_gt.getAnnIds(imgIds=image_ids, catIds=cat_ids or [], iscrowd=None):
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(dets) if dets else _coco({**gt, "annotations": []})
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.params.imgIds = image_ids
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.maximum(np.asarray(ev.stats, np.float64), 0.0)  # COCOeval writes -1 for "no GT"


def perception_metrics(instances: dict[str, Any], keypoints: dict[str, Any] | None, boxes: list[dict[str, Any]],
                       poses: list[dict[str, Any]], image_ids: list[int]) -> dict[str, float | None]:
    """COCO box and keypoint metrics of the pipeline's detections.

    Args:
        instances: a COCO instances file (``images``, ``annotations``, ``categories``).
        keypoints: a COCO person keypoints file, or None (then ``keypoint_ap`` is None).
        boxes: COCO result rows ``{"image_id", "category_id", "bbox": [x, y, w, h] pixels, "score"}``.
        poses: COCO keypoint result rows ``{"image_id", "category_id": 1, "keypoints": 51 numbers, "score"}``.
        image_ids: the images evaluated.

    Returns:
        ``bbox_ap``, ``person_ap``, ``person_ap50``, ``person_ar_large``, ``keypoint_ap``.
    """
    every = _stats(instances, boxes, "bbox", image_ids)
    person = _stats(instances, [b for b in boxes if b["category_id"] == 1], "bbox", image_ids, [1])
    kp = None if keypoints is None else _stats(keypoints, poses, "keypoints", image_ids, [1])
    return {
        "bbox_ap": None if every is None else float(every[0]),
        "person_ap": None if person is None else float(person[0]),
        "person_ap50": None if person is None else float(person[1]),
        "person_ar_large": None if person is None else float(person[11]),
        "keypoint_ap": None if kp is None else float(kp[0]),
    }


def parse_labels(data: Any, source: str) -> dict[int, list[LabelledPerson]]:
    """Image id -> labelled persons of a ``hoi_labels_*.json`` document (format: coco-mini's README).

    Raises:
        DataError: a missing or malformed field, an unknown PaSta name or group, an HOI outside 0..599.
    """
    vocab = load_vocab()
    slices = vocab.pasta_slices("pasta76")
    names = {g: {vocab.pasta["pasta76"][i][1] for i in range(sl.start, sl.stop)} for g, sl in slices.items()}
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError("expected an object with an 'images' list", file=source, field="images")
    out: dict[int, list[LabelledPerson]] = {}
    for k, im in enumerate(data["images"]):
        where = im.get("file_name", k) if isinstance(im, dict) else k
        try:
            persons = []
            for j, p in enumerate(im["persons"]):
                box = tuple(float(v) for v in p["box_xyxy"])
                if len(box) != 4:
                    raise DataError("box_xyxy needs 4 numbers", file=source, record=f"{where} person {j}",
                                    field="box_xyxy")
                hois = [(int(h["hoi"]), int(h["object_ann_id"])) for h in p.get("hois", [])]
                if any(not 0 <= h < 600 for h, _ in hois):
                    raise DataError("HOI id outside 0..599", file=source, record=f"{where} person {j}", field="hoi")
                pasta = {str(g): [str(s) for s in states] for g, states in p.get("pasta", {}).items()}
                for g, states in pasta.items():
                    if g not in names or not set(states) <= names[g]:
                        raise DataError(f"unknown part group or state {g}: {states}", file=source,
                                        record=f"{where} person {j}", field="pasta")
                persons.append(LabelledPerson(int(p["ann_id"]), box, bool(p.get("difficult", False)),
                                              hois, pasta))
            out[int(im["image_id"])] = persons
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, DataError):
                raise
            raise DataError(f"malformed record: {err!r}", file=source, record=where) from None
    return out


def _as_boxes(rows: list[Any]) -> np.ndarray:
    return np.asarray(rows, np.float64).reshape(-1, 4)


def _scored_mask(det_h: np.ndarray, persons: list[LabelledPerson], others: np.ndarray) -> np.ndarray:
    """(M,) True for human boxes kept: not matched better to a difficult or unlisted person."""
    scored = _as_boxes([p.box for p in persons if not p.difficult])
    ignored = np.concatenate([_as_boxes([p.box for p in persons if p.difficult]), others])
    if len(det_h) == 0 or len(ignored) == 0:
        return np.ones(len(det_h), bool)
    best_ignored = box_iou(det_h, ignored).max(axis=1)
    best_scored = box_iou(det_h, scored).max(axis=1) if len(scored) else np.zeros(len(det_h))
    keep: np.ndarray = ~((best_ignored >= MATCH_IOU) & (best_ignored > best_scored))
    return keep


def hoi_map(labels: dict[int, list[LabelledPerson]], instances: dict[str, Any],
            results: dict[int, Any]) -> float | None:
    """HOI mAP (HICO-DET matching, VOC 11-point) over the scored persons of the labelled images.

    Args:
        labels: :func:`parse_labels` output.
        instances: the COCO instances file (object boxes by annotation id).
        results: image id -> the pipeline's :class:`~hake.structures.FrameResult` (``hois`` scored).
    """
    from hake.datasets.hicodet import HicoDetGT

    vocab = load_vocab()
    ann_box = {int(a["id"]): a["bbox"] for a in instances["annotations"]}
    ids = sorted(labels)
    gt_h, gt_o, gt_hoi = [], [], []
    rows: list[tuple[int, int, list[float], list[float], float]] = []
    for k, image_id in enumerate(ids):
        persons = labels[image_id]
        bh, bo, hh = [], [], []
        for p in persons:
            for h, obj in p.hois if not p.difficult else []:
                if obj not in ann_box:
                    raise DataError(f"object annotation {obj} is not in the instances file", record=image_id,
                                    field="object_ann_id")
                x, y, w, hgt = ann_box[obj]
                bh.append(p.box)
                bo.append((x, y, x + w, y + hgt))
                hh.append(h)
        gt_h.append(_as_boxes(bh) + 1)  # HicoDetGT holds official 1-based pixel numbers
        gt_o.append(_as_boxes(bo) + 1)
        gt_hoi.append(np.asarray(hh, np.int64))
        res = results.get(image_id)
        if res is None or not res.hois:
            continue
        others = _as_boxes([_xyxy(a["bbox"]) for a in instances["annotations"]
                            if a["image_id"] == image_id and a["category_id"] == 1
                            and int(a["id"]) not in {p.ann_id for p in persons}])
        keep = _scored_mask(_as_boxes([r.box_h for r in res.hois]), persons, others)
        rows += [(k, r.hoi, list(r.box_h), list(r.box_o), r.score) for r, ok in zip(res.hois, keep) if ok]
    npos = np.bincount(np.concatenate(gt_hoi) if gt_hoi else np.zeros(0, np.int64), minlength=600)
    if not npos.any():
        return None
    gt = HicoDetGT(filenames=[str(i) for i in ids], sizes=np.zeros((len(ids), 2), np.int64), boxes_h=gt_h,
                   boxes_o=gt_o, hoi=gt_hoi, object=[vocab.hoi_object[h] for h in gt_hoi],
                   verb=[vocab.hoi_verb[h] for h in gt_hoi], rare=np.flatnonzero(npos > 0),
                   non_rare=np.flatnonzero(npos > 0), source="hoi labels")
    if not rows:
        return 0.0
    img, hoi, bh_d, bo_d, score = zip(*rows)
    res_eval = evaluate_hicodet(gt, np.asarray(img, np.int64), np.asarray(hoi, np.int64), _as_boxes(list(bh_d)),
                                _as_boxes(list(bo_d)), np.asarray(score, np.float64))
    return float(res_eval.default.rare)  # rare = non_rare = the HOIs with a GT pair


def _xyxy(bbox: list[float]) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in bbox)
    return (x, y, x + w, y + h)


def ranking_ap(ranked: list[str], positives: set[str]) -> float:
    """AP of ``positives`` in the ranking ``ranked``: mean of the precision at each positive's rank;
    positives missing from ``ranked`` count as ranked after it."""
    order = [s for s in ranked if s in positives]
    n, k, ranks = len(ranked), len(positives), []
    for r, s in enumerate(ranked, 1):
        if s in positives:
            ranks.append(r)
    ranks += [n + i + 1 for i in range(k - len(order))]
    return float(np.mean([(i + 1) / r for i, r in enumerate(ranks)])) if ranks else 0.0


def match_persons(gt_boxes: np.ndarray, det_boxes: np.ndarray, min_iou: float = MATCH_IOU) -> dict[int, int]:
    """GT index -> detection index, one-to-one, pairs taken by decreasing IoU (≥ ``min_iou``)."""
    if len(gt_boxes) == 0 or len(det_boxes) == 0:
        return {}
    iou = box_iou(gt_boxes, det_boxes)
    out: dict[int, int] = {}
    used: set[int] = set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        g, d = divmod(int(flat), iou.shape[1])
        if iou[g, d] < min_iou:
            break
        if g not in out and d not in used:
            out[g] = d
            used.add(d)
    return out


def pasta_metrics(labels: dict[int, list[LabelledPerson]], results: dict[int, Any]) -> dict[str, Any]:
    """``pasta_map``, ``pasta_map_per_group`` {group: AP}, ``pasta_top1`` {group: hit rate} and the counts.

    ``results`` maps image id -> FrameResult whose persons list every state of every group.
    """
    vocab = load_vocab()
    group_states = {g: [vocab.pasta["pasta76"][i][1] for i in range(sl.start, sl.stop)]
                    for g, sl in vocab.pasta_slices("pasta76").items()}
    aps: dict[str, list[float]] = {g: [] for g in group_states}
    hits: dict[str, list[float]] = {g: [] for g in group_states}
    n_persons = 0
    for image_id, persons in sorted(labels.items()):
        res = results.get(image_id)
        dets = [] if res is None else res.persons
        match = match_persons(_as_boxes([p.box for p in persons]), _as_boxes([d.box for d in dets]))
        for g_idx, p in enumerate(persons):
            if p.difficult:
                continue
            n_persons += 1
            det = dets[match[g_idx]] if g_idx in match else None
            for group, states in p.pasta.items():
                ranked = []
                if det is not None:
                    ranked = [s.state for s in sorted(det.pasta.get(group, []), key=lambda s: -s.prob)]
                    if len(ranked) != len(group_states[group]):
                        raise DataError(f"the pipeline reported {len(ranked)} of the {len(group_states[group])} "
                                        f"{group} states; the benchmark needs all of them", field="pasta")
                aps[group].append(ranking_ap(ranked or ["" for _ in group_states[group]], set(states)))
                hits[group].append(float(bool(ranked) and ranked[0] in states))
    every = [a for v in aps.values() for a in v]
    return {
        "pasta_map": float(np.mean(every)) if every else None,
        "pasta_map_per_group": {g: float(np.mean(v)) for g, v in aps.items() if v},
        "pasta_top1": {g: float(np.mean(v)) for g, v in hits.items() if v},
        "labelled_persons": n_persons, "labelled_groups": len(every),
    }
