"""Slow, loop-by-loop reference evaluators written straight from EVAL_PROTOCOLS.md.

One Python loop per detection, plain lists, no vectorisation tricks: the fast evaluators in
``hake.evaluation`` must agree with these on every input (tests/test_eval_*.py).
"""

from __future__ import annotations

import math

import numpy as np


def ref_voc11(rec: list[float], prec: list[float]) -> float:
    ap = 0.0
    for k in range(11):
        t = k * 0.1
        best = None
        for r, p in zip(rec, prec):
            if r >= t and (best is None or p > best):
                best = p
        ap = ap + (0.0 if best is None else best) / 11
    return ap


def ref_all_point(rec: list[float], prec: list[float]) -> float:
    mrec = [0.0] + [float(r) for r in rec] + [1.0]
    mpre = [0.0] + [float(p) for p in prec] + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return float(np.sum(np.array([(mrec[i + 1] - mrec[i]) * mpre[i + 1]
                                  for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i]], dtype=np.float64)))


def _iou1(a, b) -> float:
    """+1-pixel IoU of the MATLAB code, for one pair of boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw > 0 and ih > 0:
        ua = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - iw * ih
        return iw * ih / ua
    return 0.0


def ref_hicodet_class(gt_pairs: dict[int, list], dets: list[tuple], npos: int) -> tuple[float, float]:
    """One HOI class. ``gt_pairs[image] = [(box_h, box_o), ...]`` 1-based; ``dets`` = [(image,
    box_h, box_o, score)] in image then row order with 0-based boxes. Returns (AP, final recall)."""
    dets = [(i, [v + 1 for v in h], [v + 1 for v in o], s) for i, h, o, s in dets]
    order = sorted(range(len(dets)), key=lambda k: -dets[k][3])  # Python's sort is stable
    used = {i: [False] * len(p) for i, p in gt_pairs.items()}
    tp, fp = [], []
    for k in order:
        i, h, o, _ = dets[k]
        ov_max, j_max = -math.inf, -1
        for j, (gh, go) in enumerate(gt_pairs.get(i, [])):
            ov = min(_iou1(h, gh), _iou1(o, go))
            if ov > ov_max:
                ov_max, j_max = ov, j
        if ov_max >= 0.5 and not used[i][j_max]:
            used[i][j_max] = True
            tp.append(1)
            fp.append(0)
        else:
            tp.append(0)
            fp.append(1)
    rec, prec, ctp, cfp = [], [], 0, 0
    for a, b in zip(tp, fp):
        ctp += a
        cfp += b
        rec.append(ctp / npos if npos else (math.nan if ctp == 0 else math.inf))
        prec.append(ctp / (ctp + cfp))
    return ref_voc11(rec, prec), (rec[-1] if rec else 0.0)


def ref_hicodet(gt_img, gt_hoi, gt_bh, gt_bo, det_img, det_hoi, det_bh, det_bo, det_sc, ko_mask, hoi_object,
                classes=range(600)):
    """Per-class (AP, recall) for Default and Known-Object; ``ko_mask[image, object]`` bool."""
    out_def, out_ko = {}, {}
    rows = sorted(range(len(det_img)), key=lambda r: det_img[r])  # image order, then row order
    for c in classes:
        pairs: dict[int, list] = {}
        for i, h, b, o in zip(gt_img, gt_hoi, gt_bh, gt_bo):
            if h == c:
                pairs.setdefault(int(i), []).append((list(b), list(o)))
        npos = sum(len(v) for v in pairs.values())
        dets = [(int(det_img[r]), list(det_bh[r]), list(det_bo[r]), float(det_sc[r])) for r in rows if det_hoi[r] == c]
        out_def[c] = ref_hicodet_class(pairs, dets, npos)
        dets_ko = [d for d in dets if ko_mask[d[0], hoi_object[c]]]
        out_ko[c] = ref_hicodet_class(pairs, dets_ko, npos)
    return out_def, out_ko


def ref_hico_class(labels: list[float], scores: list[float], known_object: bool) -> tuple[float, int]:
    """One HICO class: (11-point AP, number of positives)."""
    lab = [-1.0 if math.isnan(v) else v for v in labels]
    sc = [(-1e10 if known_object and math.isnan(v) else s) for v, s in zip(labels, scores)]
    items = [(s, v) for s, v in zip(sc, lab) if v != 0]
    items.sort(key=lambda it: (0, 0.0) if math.isnan(it[0]) else (1, -it[0]))  # stable; NaN first
    npos = sum(1 for v in lab if v == 1)
    rec, prec, tp, fp = [], [], 0, 0
    for _, v in items:
        tp += v == 1
        fp += v != 1
        rec.append(tp / npos if npos else math.nan)
        prec.append(tp / (tp + fp))
    return ref_voc11(rec, prec), npos
