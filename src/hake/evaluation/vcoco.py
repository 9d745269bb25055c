"""V-COCO agent AP and role AP (scenario 1 and 2), vectorised over detections (pure numpy).

Reproduces s-gupta/v-coco ``vsrl_eval.py`` as it runs under numpy 2 (EVAL_PROTOCOLS.md): each
detection is matched to the person with the highest +1-pixel IoU among **all** persons of the
image (float32, ``np.argmax`` semantics); a match to a person without V-COCO labels is skipped;
TP iff the person has the action, IoU >= 0.5, (role IoU >= 0.5,) and the person is still
uncovered. Per image the detections are visited in ``argsort()[::-1]`` order and the final ranking
is ``argsort()[::-1]`` of the collected float32 scores. With ``ties="original"`` (default) both are
that very call on the array the original builds (the image's scores in file order, NaN removed;
the class's collected scores in image-then-visiting order), so tied scores come out in the
original's order under the numpy in use (:mod:`hake.evaluation.ranking`); only images with tied
scores need a per-image call. ``ties="stable"`` is the fixed stable variant of both sorts.
AP is the all-point VOC AP on float32 cumulative counts, stored as float32.

Where the original crashes (an action with no kept detection, or detections and no positives,
or a detection on an image without persons) we return NaN for that class / skip that detection
and add a warning to ``result.warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hake.datasets.vcoco import VcocoDetections, VcocoGT
from hake.evaluation.ap import all_point_ap
from hake.evaluation.matching import best_gt, expand_pairs, first_per_key
from hake.evaluation.ranking import check_ties, descending, grouped_descending

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
    options: dict[str, Any] = field(default_factory=dict)
    #: "agent" / "role_scenario_N" -> {class: (recall, precision)}, with keep_curves
    curves: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The report ``--json`` writes: mAPs and per-class APs as fractions (NaN as None), warnings, options."""
        out: dict[str, Any] = {k: getattr(self, k) for k in ("agent_mAP", "role_mAP_scenario_1", "role_mAP_scenario_2",
                                                             "role_mAP_scenario_1_24", "role_mAP_scenario_2_24")}
        out.update(agent_ap=_nan_to_none(self.agent_ap), role_ap_scenario_1=_nan_to_none(self.role_ap_scenario_1),
                   role_ap_scenario_2=_nan_to_none(self.role_ap_scenario_2), warnings=list(self.warnings),
                   options=dict(self.options))
        return out


def _nan_to_none(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if np.isnan(v) else v) for k, v in d.items()}


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
        out: np.ndarray = inters / uni
    return out


def _ap(scores: np.ndarray, tp: np.ndarray, npos: int, ties: str, sink: dict[str, Any] | None = None,
        name: str = "") -> float:
    """AP of one class as the tail of ``_do_agent_eval`` / ``_do_role_eval`` computes it.

    Args:
        scores: (K,) float32 scores of the counted detections in the original's collection order
            (images in split order, each image in its visiting order): the ``np.array(sc, float32)``
            that the original ranks with ``argsort()[::-1]``.
        tp: (K,) bool TP flag of each, in the same order.
        npos: positives of the class.
        ties: ``original`` or ``stable`` (:mod:`hake.evaluation.ranking`).
    """
    if len(tp) == 0 or npos == 0:
        return float("nan")
    tp = tp[descending(scores, ties)]
    a_tp = np.cumsum(tp.astype(np.float32))
    a_fp = np.cumsum((~tp).astype(np.float32))
    rec = a_tp / float(npos)
    prec = a_tp / np.maximum(a_tp + a_fp, np.finfo(np.float64).eps)
    if sink is not None:
        sink[name] = (rec, prec)
    return float(np.float32(all_point_ap(rec, prec)))


def _counted(group: np.ndarray, scores: np.ndarray, ignored: np.ndarray, ties: str) -> np.ndarray:
    """Positions of the detections one class counts, in the original's collection order.

    Per image (``group``: split position; inputs in file order) the detections with a score (not
    NaN) are visited in ``scores.argsort()[::-1]`` order over that image's scores in file order;
    those matched to a person without V-COCO labels (``ignored``) are skipped after the sort, as in
    the original.
    """
    pos = np.flatnonzero(~np.isnan(scores))
    visit = pos[grouped_descending(group[pos], scores[pos], ties)]
    kept: np.ndarray = visit[~ignored[visit]]
    return kept


def _role_ok(gt: VcocoGT, dets: VcocoDetections, person: np.ndarray, a: int, r: int,
             rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Role overlap >= 0.5 with the matched person's GT role object, scenario 1 and scenario 2.

    Args:
        rows: (K,) detection indices; ``person`` maps detections to their matched GT person.

    Returns:
        Two (K,) bool arrays. Without a GT role, scenario 1 counts the prediction correct only if
        its role box is all zeros or all NaN; scenario 2 counts any box correct.
    """
    g = gt.role_boxes[person[rows], a, r]
    pred = dets.role_boxes[rows, a, r]
    no_gt = np.all(g == -1, axis=1)
    hit = overlap_f32(g, pred) >= OVR_THRESH
    empty = np.all(pred == 0.0, axis=1) | np.all(np.isnan(pred), axis=1)
    return np.where(no_gt, empty, hit), no_gt | hit


def evaluate_vcoco(gt: VcocoGT, dets: VcocoDetections, keep_curves: bool = False,
                   ties: str = "original") -> VcocoResult:
    """Agent AP (26 actions, mAP = nansum / 26) and role AP (mean over the (action, role) pairs).

    Args:
        gt: :func:`hake.datasets.vcoco.load_vcoco_gt`.
        dets: :func:`hake.datasets.vcoco.load_vcoco_detections`; boxes x1y1x2y2 pixels, float32.
        keep_curves: also return PR curves per class in ``result.curves``.
        ties: ``original`` (default): the original's ``argsort()[::-1]`` calls on the arrays it
            builds, so tied scores are ordered as ``vsrl_eval.py`` orders them under the numpy in
            use; ``stable``: a fixed order, the same answer on every machine.

    Returns:
        :class:`VcocoResult` with APs as fractions; ``options["ties"]`` records the tie order.
    """
    check_ties(ties)
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
    base = np.flatnonzero(in_split & (counts > 0))  # the detections that are looked at, file order
    group, person_b = img_pos[base], person[base]
    ignored = np.any(gt.person_actions == -1, axis=1)[person_b]
    near = ovmax[base] >= OVR_THRESH
    agent_sc = np.ascontiguousarray(dets.agent_scores[base].T)
    role_sc = np.ascontiguousarray(dets.role_scores[base].transpose(1, 2, 0))
    npos = (gt.person_actions == 1).sum(axis=0)
    agent_ap: dict[str, float] = {}
    role_ap: dict[int, dict[str, float]] = {1: {}, 2: {}}
    sinks: dict[str, Any] = {"agent": {}, "role_scenario_1": {}, "role_scenario_2": {}} if keep_curves else {}
    for a, act in enumerate(gt.actions):
        true = near & (gt.person_actions[person_b, a] == 1)
        k = _counted(group, agent_sc[a], ignored, ties)
        agent_ap[act] = _ap(agent_sc[a][k], first_per_key(person_b[k], true[k]), int(npos[a]), ties,
                            sinks.get("agent"), act)
        if np.isnan(agent_ap[act]):
            warnings.append(f"agent AP of {act!r} is NaN: {len(k)} detections, {int(npos[a])} positives")
        for r, role in enumerate(gt.roles[a][1:3]):
            name = f"{act}-{role}"
            k = _counted(group, role_sc[a, r], ignored, ties)
            cand = np.flatnonzero(true[k])  # the role box matters only where the agent is right
            for scenario, role_hit in zip((1, 2), _role_ok(gt, dets, person, a, r, base[k[cand]])):
                ok = np.zeros(len(k), bool)
                ok[cand] = role_hit
                role_ap[scenario][name] = _ap(role_sc[a, r][k], first_per_key(person_b[k], ok), int(npos[a]),
                                              ties, sinks.get(f"role_scenario_{scenario}"), name)
            if np.isnan(role_ap[1][name]):
                warnings.append(f"role AP of {name} is NaN: {len(k)} detections, {int(npos[a])} positives")

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
               "ties": ties}
    return VcocoResult(float(np.nansum(agent_vals) / len(gt.actions)), mean(role_ap[1]), mean(role_ap[2]),
                       mean(role_ap[1], EXCLUDED_24), mean(role_ap[2], EXCLUDED_24), agent_ap, role_ap[1],
                       role_ap[2], warnings, options, sinks)
