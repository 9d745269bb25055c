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


def _get_overlap(boxes: np.ndarray, ref_box: np.ndarray) -> np.ndarray:
    """vsrl_eval.get_overlap: one prediction against all GT rows, float32."""
    ixmin = np.maximum(boxes[:, 0], ref_box[0])
    iymin = np.maximum(boxes[:, 1], ref_box[1])
    ixmax = np.minimum(boxes[:, 2], ref_box[2])
    iymax = np.minimum(boxes[:, 3], ref_box[3])
    iw = np.maximum(ixmax - ixmin + 1.0, 0.0)
    ih = np.maximum(iymax - iymin + 1.0, 0.0)
    inters = iw * ih
    uni = ((ref_box[2] - ref_box[0] + 1.0) * (ref_box[3] - ref_box[1] + 1.0)
           + (boxes[:, 2] - boxes[:, 0] + 1.0) * (boxes[:, 3] - boxes[:, 1] + 1.0) - inters)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inters / uni


def ref_vcoco_class(gt, dets, a: int, role: int | None, scenario: int) -> float:
    """One V-COCO class, loop by loop: role None = agent AP; otherwise role index 0/1 and scenario."""
    tp, fp, sc = [], [], []
    npos = 0
    for i, img_id in enumerate(gt.image_ids.tolist()):
        pidx = np.flatnonzero(gt.person_image == i)
        gt_boxes, gt_actions = gt.person_boxes[pidx], gt.person_actions[pidx]
        ignore = np.any(gt_actions == -1, axis=1)
        npos += int(np.sum(gt_actions[:, a] == 1))
        rows = [d for d in range(len(dets.image_id)) if dets.image_id[d] == img_id]
        if not rows or not len(pidx):
            continue
        scores = dets.agent_scores[rows, a] if role is None else dets.role_scores[rows, a, role]
        keep = [k for k in range(len(rows)) if not np.isnan(scores[k])]
        covered = [False] * len(pidx)
        for k in np.argsort(scores[keep], kind="stable")[::-1]:
            d = rows[keep[k]]
            overlaps = _get_overlap(gt_boxes, dets.person_box[d])
            jmax, ovmax = overlaps.argmax(), overlaps.max()
            if ignore[jmax]:
                continue
            ov_role = 1.0
            if role is not None:
                g = gt.role_boxes[pidx[jmax], a, role]
                pred = dets.role_boxes[d, a, role]
                if np.all(g == -1):
                    if scenario == 1:
                        ov_role = 1.0 if (np.all(pred == 0.0) or np.all(np.isnan(pred))) else 0.0
                else:
                    ov_role = _get_overlap(g.reshape(1, 4), pred)[0]
            sc.append(scores[keep[k]])
            if gt_actions[jmax, a] == 1 and ovmax >= 0.5 and ov_role >= 0.5 and not covered[jmax]:
                covered[jmax] = True
                tp.append(1)
                fp.append(0)
            else:
                tp.append(0)
                fp.append(1)
    if not sc or npos == 0:
        return math.nan
    idx = np.argsort(np.array(sc, np.float32), kind="stable")[::-1]
    a_tp = np.cumsum(np.array(tp, np.float32)[idx])
    a_fp = np.cumsum(np.array(fp, np.float32)[idx])
    rec = a_tp / float(npos)
    prec = a_tp / np.maximum(a_tp + a_fp, np.finfo(np.float64).eps)
    return float(np.float32(ref_all_point(list(rec), list(prec))))


def ref_ava_read(path: str, labelmap_ids: set[int], capacity: int, protocol: str) -> dict[str, list[tuple]]:
    """get_ava_performance.read_csv: frame key -> [(score, action, y1, x1, y2, x2)] in output order."""
    import csv
    import heapq
    from collections import defaultdict

    def key(v, t):
        return f"{v},{int(t):04d}" if protocol == "v2019" else f"{v},{float(t):.6f}"

    entries = defaultdict(list)
    with open(path, newline="") as fh:
        for row in csv.reader(fh):
            k = key(row[0], row[1])
            x1, y1, x2, y2 = [float(n) for n in row[2:6]]
            action = int(row[6])
            if labelmap_ids and action not in labelmap_ids:
                continue
            score = float(row[7]) if len(row) == 8 else 1.0
            if capacity < 1 or len(entries[k]) < capacity:
                heapq.heappush(entries[k], (score, action, y1, x1, y2, x2))
            elif score > entries[k][0][0]:
                heapq.heapreplace(entries[k], (score, action, y1, x1, y2, x2))
    return {k: sorted(v, key=lambda tup: -tup[0]) for k, v in entries.items()}


def ref_ava(gt_csv: str, det_csv: str, labelmap_ids: set[int], excluded: set[str], protocol: str) -> dict[int, float]:
    """AVA per-class AP following get_ava_performance.py step by step (Python csv, heapq, loops)."""
    from collections import defaultdict

    gt, det = ref_ava_read(gt_csv, labelmap_ids, 0, protocol), ref_ava_read(det_csv, labelmap_ids, 50, protocol)
    num_class = max(labelmap_ids)
    gt = {k: v for k, v in gt.items() if k not in excluded}
    num_gt = defaultdict(int)
    for v in gt.values():
        for item in v:
            num_gt[item[1]] += 1
    scores, tps = defaultdict(list), defaultdict(list)
    for k, items in det.items():
        if k in excluded or (protocol == "head" and k not in gt):
            continue
        items = [it for it in items if it[2] < it[4] and it[3] < it[5]]
        g = gt.get(k, [])
        for c in range(1, num_class + 1):
            gb = [it[2:] for it in g if it[1] == c]
            used = [False] * len(gb)
            for it in [it for it in items if it[1] == c]:
                ious = []
                for y1, x1, y2, x2 in gb:
                    h = max(0.0, min(it[4], y2) - max(it[2], y1))
                    w = max(0.0, min(it[5], x2) - max(it[3], x1))
                    inter = h * w
                    union = (it[4] - it[2]) * (it[5] - it[3]) + (y2 - y1) * (x2 - x1) - inter
                    ious.append(inter / union if union != 0 else (math.nan if inter == 0 else math.inf))
                tp = False
                if ious:
                    j = int(np.argmax(ious))
                    if ious[j] >= 0.5 and not used[j]:
                        used[j] = tp = True
                scores[c].append(it[0])
                tps[c].append(tp)
    ap = {}
    for c in range(1, num_class + 1):
        if num_gt[c] == 0:
            continue
        if not scores[c]:
            ap[c] = 0.0
            continue
        idx = np.argsort(np.array(scores[c]), kind="stable")[::-1]
        t = np.array(tps[c], int)[idx]
        ctp, cfp = np.cumsum(t), np.cumsum(1 - t)
        ap[c] = ref_all_point(list(ctp.astype(float) / num_gt[c]), list(ctp.astype(float) / (ctp + cfp)))
    return ap


def ref_pasta(gt_boxes, gt_states, det_image, det_boxes, det_scores, thresh: float = 0.3) -> list[float]:
    """PaSta AP per state, loop by loop (plain IoU, match iff IoU > thresh, 11-point AP)."""

    def iou(a, b):
        iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
        ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
        return iw * ih / union if union > 0 else 0.0

    n_states = det_scores.shape[1]
    out = []
    for s in range(n_states):
        npos = sum(int(np.sum(np.asarray(st)[:, s] > 0)) for st in gt_states if len(st))
        order = sorted(range(len(det_image)), key=lambda d: -det_scores[d, s])
        taken, rec, prec, tp, fp = set(), [], [], 0, 0
        for d in order:
            i = int(det_image[d])
            best, j_best = -math.inf, -1
            for j, b in enumerate(gt_boxes[i]):
                v = iou(det_boxes[d], b)
                if v > best:
                    best, j_best = v, j
            if best > thresh and gt_states[i][j_best][s] > 0 and (i, j_best) not in taken:
                taken.add((i, j_best))
                tp += 1
            else:
                fp += 1
            rec.append(tp / npos if npos else math.nan)
            prec.append(tp / (tp + fp))
        out.append(ref_voc11(rec, prec))
    return out
