"""Slow, loop-by-loop reference evaluators written straight from EVAL_PROTOCOLS.md.

One Python loop per detection, plain lists, no vectorisation tricks: the fast evaluators in
``hake.evaluation`` must agree with these on every input (tests/test_eval_*.py). The V-COCO and
AVA references transliterate the Python originals (``vsrl_eval.py``; ``get_ava_performance.py`` +
``ava/``) statement by statement, including their unstable ``argsort()[::-1]`` calls on arrays
built the way the originals build them, so on tied scores they give the originals' answer under
the numpy in use.
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


def _vcoco_collect(gt, dets: list[dict], image_id: int) -> tuple[np.ndarray, np.ndarray]:
    """vsrl_eval._collect_detections_for_image (a missing key is NaN here; the original raises)."""
    n_act = len(gt.actions)
    agents = np.empty((0, 4 + n_act), dtype=np.float32)
    roles = np.empty((0, 5 * n_act, 2), dtype=np.float32)
    for det in dets:
        if det["image_id"] == image_id:
            this_agent = np.zeros((1, 4 + n_act), dtype=np.float32)
            this_role = np.zeros((1, 5 * n_act, 2), dtype=np.float32)
            this_agent[0, :4] = det["person_box"]
            for aid in range(n_act):
                for j, rid in enumerate(gt.roles[aid]):
                    key = gt.actions[aid] + "_" + rid
                    if rid == "agent":
                        this_agent[0, 4 + aid] = det.get(key, np.nan)
                    else:
                        this_role[0, 5 * aid: 5 * aid + 5, j - 1] = det.get(key, [0, 0, 0, 0, np.nan])
            agents = np.concatenate((agents, this_agent), axis=0)
            roles = np.concatenate((roles, this_role), axis=0)
    return agents, roles


def _vcoco_tail(tp: list, fp: list, sc: list, npos: np.float32, sort) -> float:
    """The AP tail of vsrl_eval: float32 arrays, ``a_sc.argsort()[::-1]``, float32 cumsums, voc_ap.
    Where the original crashes (no detection, or no positive) this returns NaN."""
    if not sc or npos == 0:
        return math.nan
    a_fp = np.array(fp, dtype=np.float32)
    a_tp = np.array(tp, dtype=np.float32)
    a_sc = np.array(sc, dtype=np.float32)
    idx = sort(a_sc)[::-1]
    a_fp = np.cumsum(a_fp[idx])
    a_tp = np.cumsum(a_tp[idx])
    rec = a_tp / float(npos)
    prec = a_tp / np.maximum(a_tp + a_fp, np.finfo(np.float64).eps)
    return float(np.float32(ref_all_point(list(rec), list(prec))))


def original_argsort(a: np.ndarray) -> np.ndarray:
    """``a.argsort()``, the originals' call (numpy's default kind)."""
    return a.argsort()


def ref_vcoco(gt, dets: list[dict], eval_type: str, sort=original_argsort) -> np.ndarray:
    """vsrl_eval._do_agent_eval (``eval_type="agent"``) or _do_role_eval (``scenario_1|2``), loop by loop.

    ``gt`` is a :class:`hake.datasets.vcoco.VcocoGT` (its images play the vcocodb entries), ``dets``
    the official list of dicts. The per-image ``agent_scores.argsort()[::-1]`` and the final
    ``a_sc.argsort()[::-1]`` are the original's calls on the arrays the original builds.
    Returns agent AP (A,) or role AP (A, 2), float32, NaN where no AP exists or the original crashes.
    ``sort`` replaces ``a.argsort()`` in both places (to check the stable variant).
    """
    n_act = len(gt.actions)
    agent = eval_type == "agent"
    shape = (n_act, 1) if agent else (n_act, 2)
    tp = [[[] for _ in range(shape[1])] for _ in range(n_act)]
    fp = [[[] for _ in range(shape[1])] for _ in range(n_act)]
    sc = [[[] for _ in range(shape[1])] for _ in range(n_act)]
    npos = np.zeros(n_act, dtype=np.float32)
    for i, image_id in enumerate(gt.image_ids.tolist()):
        pidx = np.flatnonzero(gt.person_image == i)
        gt_boxes, gt_actions = gt.person_boxes[pidx], gt.person_actions[pidx].astype(np.int32)
        ignore = np.any(gt_actions == -1, axis=1)
        for aid in range(n_act):
            npos[aid] += np.sum(gt_actions[:, aid] == 1)
        pred_agents, pred_roles = _vcoco_collect(gt, dets, image_id)
        for aid in range(n_act):
            for rid in range(1 if agent else len(gt.roles[aid]) - 1):
                covered = np.zeros(gt_boxes.shape[0], dtype=bool)
                gt_roles = -np.ones_like(gt_boxes)
                if not agent:
                    for j in range(gt_boxes.shape[0]):
                        gt_roles[j] = gt.role_boxes[pidx[j], aid, rid]
                agent_boxes = pred_agents[:, :4]
                role_boxes = pred_roles[:, 5 * aid: 5 * aid + 4, rid]
                agent_scores = pred_agents[:, 4 + aid] if agent else pred_roles[:, 5 * aid + 4, rid]
                valid = np.where(np.isnan(agent_scores) == False)[0]  # noqa: E712
                agent_scores = agent_scores[valid]
                agent_boxes = agent_boxes[valid, :]
                role_boxes = role_boxes[valid, :]
                idx = sort(agent_scores)[::-1]
                for j in idx:
                    if gt_boxes.shape[0] == 0:  # the original crashes here; hake skips the detection
                        continue
                    overlaps = _get_overlap(gt_boxes, agent_boxes[j, :])
                    jmax, ovmax = overlaps.argmax(), overlaps.max()
                    if ignore[jmax]:
                        continue
                    ov_role = 1.0
                    if not agent and np.all(gt_roles[jmax, :] == -1):
                        if eval_type == "scenario_1":
                            empty = np.all(role_boxes[j, :] == 0.0) or np.all(np.isnan(role_boxes[j, :]))
                            ov_role = 1.0 if empty else 0.0
                    elif not agent:
                        ov_role = _get_overlap(gt_roles[jmax, :].reshape((1, 4)), role_boxes[j, :])
                    sc[aid][rid].append(agent_scores[j])
                    if gt_actions[jmax, aid] == 1 and ovmax >= 0.5 and ov_role >= 0.5 and not covered[jmax]:
                        covered[jmax] = True
                        fp[aid][rid].append(0)
                        tp[aid][rid].append(1)
                    else:
                        fp[aid][rid].append(1)
                        tp[aid][rid].append(0)
    out = np.full(shape, np.nan, dtype=np.float32)
    for aid in range(n_act):
        for rid in range(1 if agent else len(gt.roles[aid]) - 1):
            out[aid, rid] = _vcoco_tail(tp[aid][rid], fp[aid][rid], sc[aid][rid], npos[aid], sort)
    return out[:, 0] if agent else out


def ref_ava_read(path: str, labelmap_ids: set[int], capacity: int, protocol: str):
    """get_ava_performance.read_csv: (boxes, labels, scores per frame key in insertion order, all_keys)."""
    import csv
    import heapq
    from collections import defaultdict

    def key(v, t):
        return f"{v},{int(t):04d}" if protocol == "v2019" else f"{v},{float(t):.6f}"

    entries, all_keys = defaultdict(list), set()
    boxes, labels, scores = defaultdict(list), defaultdict(list), defaultdict(list)
    with open(path, newline="") as fh:
        for row in csv.reader(fh):
            k = key(row[0], row[1])
            all_keys.add(k)
            if len(row) == 2:
                continue
            x1, y1, x2, y2 = [float(n) for n in row[2:6]]
            action = int(row[6])
            if labelmap_ids and action not in labelmap_ids:
                continue
            score = float(row[7]) if len(row) == 8 else 1.0
            if capacity < 1 or len(entries[k]) < capacity:
                heapq.heappush(entries[k], (score, action, y1, x1, y2, x2))
            elif score > entries[k][0][0]:
                heapq.heapreplace(entries[k], (score, action, y1, x1, y2, x2))
    for k in entries:
        for score, action, y1, x1, y2, x2 in sorted(entries[k], key=lambda tup: -tup[0]):
            boxes[k].append([y1, x1, y2, x2])
            labels[k].append(action)
            scores[k].append(score)
    return boxes, labels, scores, all_keys


def _ava_iou(b1: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """np_box_ops.iou: pairwise IoU of [y1, x1, y2, x2] rows, no +1."""
    y_min1, x_min1, y_max1, x_max1 = np.split(b1, 4, axis=1)
    y_min2, x_min2, y_max2, x_max2 = np.split(b2, 4, axis=1)
    h = np.maximum(0.0, np.minimum(y_max1, y_max2.T) - np.maximum(y_min1, y_min2.T))
    w = np.maximum(0.0, np.minimum(x_max1, x_max2.T) - np.maximum(x_min1, x_min2.T))
    inter = h * w
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (area1[:, None] + area2[None, :] - inter)


def ref_ava(gt_csv: str, det_csv: str, labelmap_ids: set[int], excluded: set[str], protocol: str,
            sort=original_argsort) -> dict[int, float]:
    """AVA per-class AP following get_ava_performance.py + the ava/ Pascal evaluator step by step.

    ``head``: detection frames outside the GT file's ``all_keys`` are ignored; ``v2019``: GT and
    detections of excluded frames are dropped, detection frames without GT are evaluated (all FP).
    Per class the concatenated float64 scores are ranked with ``np.argsort(scores)[::-1]``
    (``sort`` replaces ``np.argsort``, to check the stable variant).
    """
    g_boxes, g_labels, _, included = ref_ava_read(gt_csv, labelmap_ids, 0, protocol)
    d_boxes, d_labels, d_scores, _ = ref_ava_read(det_csv, labelmap_ids, 50, protocol)
    num_class = max(labelmap_ids)
    gt_db, num_gt = {}, np.zeros(num_class, dtype=int)
    for k in g_boxes:
        if protocol == "v2019" and k in excluded:
            continue
        gt_db[k] = (np.array(g_boxes[k], dtype=float), np.array(g_labels[k], dtype=int) - 1)
        for c in range(num_class):
            num_gt[c] += np.sum(gt_db[k][1] == c)
    scores_per_class = [[] for _ in range(num_class)]
    tp_per_class = [[] for _ in range(num_class)]
    for k in d_boxes:
        if (protocol == "head" and k not in included) or (protocol == "v2019" and k in excluded):
            continue
        boxes, labels = np.array(d_boxes[k], dtype=float), np.array(d_labels[k], dtype=int) - 1
        scores = np.array(d_scores[k], dtype=float)
        valid = np.logical_and(boxes[:, 0] < boxes[:, 2], boxes[:, 1] < boxes[:, 3])
        boxes, labels, scores = boxes[valid], labels[valid], scores[valid]
        gb_all, gl_all = gt_db.get(k, (np.empty((0, 4), dtype=float), np.array([], dtype=int)))
        for c in range(num_class):
            gb, db, ds = gb_all[gl_all == c], boxes[labels == c], scores[labels == c]
            if db.size == 0:
                continue
            tp = np.zeros(len(db), dtype=bool)
            if gb.size:
                iou = _ava_iou(db, gb)
                max_ids = np.argmax(iou, axis=1)
                detected = np.zeros(len(gb), dtype=bool)
                for i in range(len(db)):
                    if iou[i, max_ids[i]] >= 0.5 and not detected[max_ids[i]]:
                        tp[i] = detected[max_ids[i]] = True
            scores_per_class[c].append(ds)
            tp_per_class[c].append(tp)
    ap = {}
    for c in range(num_class):
        if num_gt[c] == 0:
            continue
        if not scores_per_class[c]:
            ap[c + 1] = 0.0
            continue
        scores, labels = np.concatenate(scores_per_class[c]), np.concatenate(tp_per_class[c])
        idx = sort(scores)[::-1]
        t = labels.astype(int)[idx]
        ctp, cfp = np.cumsum(t), np.cumsum(1 - t)
        ap[c + 1] = ref_all_point(list(ctp.astype(float) / num_gt[c]), list(ctp.astype(float) / (ctp + cfp)))
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
