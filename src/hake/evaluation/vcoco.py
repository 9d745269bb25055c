"""V-COCO agent AP and role AP (scenario 1 and 2), vectorised over detections (pure numpy).

Reproduces s-gupta/v-coco ``vsrl_eval.py`` as it runs under numpy 2 (EVAL_PROTOCOLS.md): each
detection is matched to the person with the highest +1-pixel IoU among **all** persons of the
image (float32, ``np.argmax`` semantics); a match to a person without V-COCO labels is skipped;
TP iff the person has the action, IoU >= 0.5, (role IoU >= 0.5,) and the person is still
uncovered. Per image the detections are visited in ``argsort()[::-1]`` order and the final ranking
is ``argsort()[::-1]`` of the collected scores; we use the stable variant of that order.
AP is the all-point VOC AP on float32 cumulative counts, stored as float32.

Where the original crashes (an action with no kept detection, or detections and no positives,
or a detection on an image without persons) we return NaN for that class / skip that detection
and add a warning to ``result.warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hake.datasets.vcoco import VcocoDetections, VcocoGT
from hake.evaluation.ap import all_point_ap, stable_argsort
from hake.evaluation.matching import best_gt, expand_pairs

OVR_THRESH = 0.5
EXCLUDED_24 = ("point", "instr")


@dataclass
class VcocoResult:
    """Fractions in [0, 1]; per-class APs keyed by action / ``action-role`` (NaN: not computable)."""

    agent_mAP: float
    role_mAP_scenario_1: float
    role_mAP_scenario_2: float
    role_mAP_scenario_1_24: float
    role_mAP_scenario_2_24: float
    agent_ap: dict[str, float]
    role_ap_scenario_1: dict[str, float]
    role_ap_scenario_2: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict, repr=False)  # "agent"/"role_scenario_N" -> {class: (rec, prec)}

    def to_dict(self) -> dict:
        clean = lambda d: {k: (None if np.isnan(v) else v) for k, v in d.items()}  # noqa: E731
        out = {k: getattr(self, k) for k in ("agent_mAP", "role_mAP_scenario_1", "role_mAP_scenario_2",
                                             "role_mAP_scenario_1_24", "role_mAP_scenario_2_24")}
        out.update(agent_ap=clean(self.agent_ap), role_ap_scenario_1=clean(self.role_ap_scenario_1),
                   role_ap_scenario_2=clean(self.role_ap_scenario_2), warnings=list(self.warnings),
                   options=dict(self.options))
        return out


def overlap_f32(boxes: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Row-wise ``get_overlap`` of vsrl_eval.py in float32: boxes (P,4) GT, ref (P,4) predictions."""
    boxes = boxes.astype(np.float32, copy=False)
    ref = ref.astype(np.float32, copy=False)
    iw = np.maximum(np.minimum(boxes[:, 2], ref[:, 2]) - np.maximum(boxes[:, 0], ref[:, 0]) + 1.0, 0.0)
    ih = np.maximum(np.minimum(boxes[:, 3], ref[:, 3]) - np.maximum(boxes[:, 1], ref[:, 1]) + 1.0, 0.0)
    inters = iw * ih
    uni = ((ref[:, 2] - ref[:, 0] + 1.0) * (ref[:, 3] - ref[:, 1] + 1.0)
           + (boxes[:, 2] - boxes[:, 0] + 1.0) * (boxes[:, 3] - boxes[:, 1] + 1.0) - inters)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inters / uni


def _ap(tp: np.ndarray, npos: int, sink: dict | None = None, name: str = "") -> float:
    """AP of one class from tp flags already in the final ranking, as the original's tail computes it."""
    if len(tp) == 0 or npos == 0:
        return float("nan")
    a_tp = np.cumsum(tp.astype(np.float32))
    a_fp = np.cumsum((~tp).astype(np.float32))
    rec = a_tp / float(npos)
    prec = a_tp / np.maximum(a_tp + a_fp, np.finfo(np.float64).eps)
    if sink is not None:
        sink[name] = (rec, prec)
    return float(np.float32(all_point_ap(rec, prec)))


def _class_tp(ctx: dict, sc: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """TP flags of one class in the final ranking order.

    ``sc`` and ``cand`` are given over ``ctx["base"]``: the kept detections (matched to a labelled
    person) by image descending, then file position ascending. A stable descending sort of the
    scores over that order is the original's ``argsort()[::-1]`` over its per-image collection
    order. Within a person, the first candidate in the image's visiting order (score descending,
    later file position first) takes it.
    """
    ok = ~np.isnan(sc)
    if ok.all():
        rank = stable_argsort(sc, descending=True)
    else:
        pos = np.flatnonzero(ok)
        rank = pos[stable_argsort(sc[pos], descending=True)]
    c = rank[cand[rank]]
    first = np.zeros(len(sc), bool)
    if len(c):
        person = ctx["person_b"][c]
        order = np.lexsort((-ctx["base"][c], -sc[c], person))
        c, person = c[order], person[order]
        first[c[np.concatenate(([True], person[1:] != person[:-1]))]] = True
    return first[rank]


def _role_ok(gt: VcocoGT, dets: VcocoDetections, person: np.ndarray, a: int, r: int, rows: np.ndarray,
             scenario: int) -> np.ndarray:
    """(len(rows),) role overlap >= 0.5 with the matched person's GT role (scenario rule when absent)."""
    g = gt.role_boxes[person[rows], a, r]
    pred = dets.role_boxes[rows, a, r]
    no_gt = np.all(g == -1, axis=1)
    if scenario == 1:
        empty = np.all(pred == 0.0, axis=1) | np.all(np.isnan(pred), axis=1)
        ov_missing = np.where(empty, 1.0, 0.0)
    else:
        ov_missing = np.ones(len(pred))
    ov = np.where(no_gt, ov_missing, overlap_f32(g, pred))
    return ov >= OVR_THRESH


def evaluate_vcoco(gt: VcocoGT, dets: VcocoDetections, keep_curves: bool = False) -> VcocoResult:
    """Agent AP (26 actions, mAP = nansum / 26) and role AP (mean over the (action, role) pairs).

    Args:
        gt: :func:`hake.datasets.vcoco.load_vcoco_gt`.
        dets: :func:`hake.datasets.vcoco.load_vcoco_detections`; boxes x1y1x2y2 pixels.
        keep_curves: also return PR curves per class in ``result.curves``.
    """
    warnings: list[str] = []
    ids = np.asarray(gt.image_ids, np.int64)
    img_pos = np.full(len(dets.image_id), -1, np.int64)
    if len(ids):
        id_order = np.argsort(ids, kind="stable")
        loc = np.clip(np.searchsorted(ids[id_order], dets.image_id), 0, len(ids) - 1)
        hit = ids[id_order][loc] == dets.image_id
        img_pos[hit] = id_order[loc][hit]
    in_split = img_pos >= 0
    det, gidx, counts = expand_pairs(img_pos, np.asarray(gt.person_image))
    ov = overlap_f32(gt.person_boxes[gidx], dets.person_box[det])
    person, ovmax = best_gt(ov, det, gidx, counts, len(img_pos), nan_is_max=True)
    no_person = in_split & (counts == 0)
    if no_person.any():
        warnings.append(f"{int(no_person.sum())} detections on images without GT persons were skipped "
                        "(the original crashes)")
    ignore = np.any(gt.person_actions == -1, axis=1)
    kept = np.flatnonzero(in_split & (counts > 0))
    kept = kept[~ignore[person[kept]]]
    base = kept[np.lexsort((kept, -img_pos[kept]))]
    person_b = person[base]
    ctx = {"person_b": person_b, "base": base}
    near = ovmax[base] >= OVR_THRESH
    agent_sc = np.ascontiguousarray(dets.agent_scores[base].T)
    role_sc = np.ascontiguousarray(dets.role_scores[base].transpose(1, 2, 0))
    npos = (gt.person_actions == 1).sum(axis=0)
    agent_ap: dict[str, float] = {}
    role_ap: dict[int, dict[str, float]] = {1: {}, 2: {}}
    sinks: dict = {"agent": {}, "role_scenario_1": {}, "role_scenario_2": {}} if keep_curves else {}
    for a, act in enumerate(gt.actions):
        true = near & (gt.person_actions[person_b, a] == 1)
        tp = _class_tp(ctx, agent_sc[a], true)
        agent_ap[act] = _ap(tp, int(npos[a]), sinks.get("agent"), act)
        if np.isnan(agent_ap[act]):
            warnings.append(f"agent AP of {act!r} is NaN: {len(tp)} detections, {int(npos[a])} positives")
        rows = np.flatnonzero(true)
        for r, role in enumerate(gt.roles[a][1:3]):
            name = f"{act}-{role}"
            for scenario in (1, 2):
                cand = np.zeros(len(true), bool)
                cand[rows] = _role_ok(gt, dets, person, a, r, base[rows], scenario)
                tp = _class_tp(ctx, role_sc[a, r], cand)
                role_ap[scenario][name] = _ap(tp, int(npos[a]), sinks.get(f"role_scenario_{scenario}"), name)
                if scenario == 1 and np.isnan(role_ap[1][name]):
                    warnings.append(f"role AP of {name} is NaN: {len(tp)} detections, {int(npos[a])} positives")

    def mean(d: dict[str, float], drop: tuple[str, ...] = ()) -> float:
        """np.nanmean over the original's (A, 2) float32 role_ap array (NaN where no role)."""
        arr = np.full((len(gt.actions), 2), np.nan, np.float32)
        for a, act in enumerate(gt.actions):
            for r, role in enumerate(gt.roles[a][1:3]):
                if (act, role) != drop:
                    arr[a, r] = d[f"{act}-{role}"]
        return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")

    agent_vals = np.array(list(agent_ap.values()), np.float32)
    options = {"ovr_thresh": OVR_THRESH, "ap": "all-point (float32)", "agent_mAP": "nansum / number of actions",
               "role_mAP": f"nanmean over {len(role_ap[1])} (action, role) pairs; *_24 drops point-instr",
               "tie_order": "stable argsort()[::-1]"}
    return VcocoResult(float(np.nansum(agent_vals) / len(gt.actions)), mean(role_ap[1]), mean(role_ap[2]),
                       mean(role_ap[1], EXCLUDED_24), mean(role_ap[2], EXCLUDED_24), agent_ap, role_ap[1],
                       role_ap[2], warnings, options, sinks)
