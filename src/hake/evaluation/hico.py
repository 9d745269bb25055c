"""HICO image-level mAP with Few@1/5/10, Default and Known-Object (pure numpy).

Reproduces hico_benchmark ``eval_vo.m`` / ``eval_pr_score_label.m`` (EVAL_PROTOCOLS.md): per
class, every test image whose label is not 0 (ambiguous) counts; unknown labels (NaN, object
absent) are negatives; ranking is a stable descending sort with NaN scores first; 11-point AP.
Known-Object additionally gives unknown-label images the score -1e10. Means are taken over the
classes with at least one positive (all 600 on the official test set) and report how many.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hake.datasets.hico import NUM_HOIS, check_scores
from hake.errors import DataError
from hake.evaluation.ap import PRCurves, segment_voc11_points

FEW_K = (1, 5, 10)
KO_SCORE = -1e10


@dataclass
class HicoMode:
    """One setting: fractions in [0, 1] and (600,) per-class AP; ``n_classes`` averaged per value."""

    mAP: float
    few: dict[int, float]
    per_class_ap: np.ndarray
    n_classes: dict[str, int]

    def to_dict(self) -> dict:
        clean = lambda v: None if np.isnan(v) else v  # noqa: E731
        out: dict = {"mAP": clean(self.mAP)}
        out.update({f"few@{k}": clean(v) for k, v in self.few.items()})
        out["per_class_ap"] = self.per_class_ap.tolist()
        out["n_classes"] = dict(self.n_classes)
        return out

    def __getitem__(self, key: str) -> float:
        """``mode["few@5"]`` style access to the summary values."""
        if key == "mAP":
            return self.mAP
        if key.startswith("few@"):
            return self.few[int(key[4:])]
        raise KeyError(key)


@dataclass
class HicoResult:
    default: HicoMode
    known_object: HicoMode
    options: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict, repr=False)  # mode -> PRCurves, with keep_curves

    def to_dict(self) -> dict:
        return {"default": self.default.to_dict(), "known_object": self.known_object.to_dict(),
                "options": dict(self.options)}


def _fp_above(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """For each positive in rank order, the number of negatives ranked above it.

    Rank: NaN scores first, then descending score, ties in image order (a stable sort). Each
    negative is bucketed among the (few) sorted positives with a binary search, so no full sort
    is needed; a class with a negative tied to a positive (or NaN next to +inf) is sorted exactly.
    """
    pidx = np.flatnonzero(pos)
    if not len(pidx):
        return np.zeros(0, np.int64)
    nan = np.isnan(score)
    has_nan = bool(nan.any())
    w = np.where(nan, -np.inf, -score) if has_nan else -score
    nidx = np.flatnonzero(neg)
    wp = w[pidx]
    o = np.lexsort((pidx, wp))
    wp_s, wn = wp[o], w[nidx]
    left = np.searchsorted(wp_s, wn, "left")
    tied = (wp_s[np.minimum(left, len(wp_s) - 1)] == wn).any()
    clash = has_nan and bool((np.isposinf(score) & (pos | neg)).any()) and bool((nan & (pos | neg)).any())
    if not (tied or clash):
        return np.cumsum(np.bincount(left, minlength=len(pidx) + 1))[:len(pidx)]
    inc = np.flatnonzero(pos | neg)
    order = inc[np.lexsort((inc, np.where(nan[inc], 0.0, -score[inc]), ~nan[inc]))]
    is_pos = pos[order]
    return np.cumsum(~is_pos)[is_pos]


def _class_ap(labels_t: np.ndarray, scores_t: np.ndarray, curves: list | None) -> tuple[np.ndarray, np.ndarray]:
    """(C,) AP and positive counts from (C, N) labels (+1 / -1 / 0) and scores (one loop over classes)."""
    positive = labels_t == 1
    negative = labels_t == -1
    npos = positive.sum(axis=1)
    fp = [_fp_above(scores_t[c], positive[c], negative[c]) for c in range(len(labels_t))]
    k = np.concatenate([np.arange(1, n + 1, dtype=np.float64) for n in npos]) if len(fp) else np.zeros(0)
    fp_all = np.concatenate(fp).astype(np.float64) if fp else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rec = k / np.repeat(npos.astype(np.float64), npos)
    prec = k / (fp_all + k)
    if curves is not None:
        curves.append(PRCurves(rec, prec, npos))
    return segment_voc11_points(rec, prec, npos), npos


def _mode(ap: np.ndarray, npos: np.ndarray, train_pos_count: np.ndarray) -> HicoMode:
    has = npos > 0
    sel = {"mAP": has}
    sel.update({f"few@{k}": has & (train_pos_count <= k) for k in FEW_K})
    mean = {k: float(ap[m].mean()) if m.any() else float("nan") for k, m in sel.items()}
    return HicoMode(mean["mAP"], {k: mean[f"few@{k}"] for k in FEW_K}, ap, {k: int(m.sum()) for k, m in sel.items()})


def evaluate_hico(labels: np.ndarray, scores: np.ndarray, train_pos_count: np.ndarray,
                  keep_curves: bool = False) -> HicoResult:
    """Evaluate image-level HOI scores.

    Args:
        labels: (N, 600) float, +1 / -1 / 0 (ambiguous) / NaN (unknown: object absent).
        scores: (N, 600) float confidence; NaN allowed (ranks first).
        train_pos_count: (600,) positive training images per HOI (Few@k uses ``<= k``).
        keep_curves: also return the PR curves (``result.curves["default"|"known_object"]``).

    Returns:
        :class:`HicoResult` with Default and Known-Object ``mAP``, ``few@1/5/10`` as fractions.
    """
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[1] != NUM_HOIS:
        raise DataError(f"expected labels of shape (N, {NUM_HOIS}), got {labels.shape}", field="labels")
    bad = ~np.isnan(labels) & ~np.isin(labels, (-1.0, 0.0, 1.0))
    if bad.any():
        i, h = np.argwhere(bad)[0]
        raise DataError(f"label {labels[i, h]} for HOI {h} is not one of 1/0/-1/NaN", record=int(i), field="labels")
    scores = check_scores(scores, len(labels))
    train_pos_count = np.asarray(train_pos_count).reshape(-1)
    if train_pos_count.shape != (NUM_HOIS,):
        raise DataError(f"expected {NUM_HOIS} counts", field="train_pos_count")
    unknown = np.isnan(labels)
    curves: list | None = [] if keep_curves else None
    lab_t = np.where(unknown, -1.0, labels).T
    ap_def, npos = _class_ap(lab_t, np.ascontiguousarray(scores.T), curves)
    ap_ko, _ = _class_ap(lab_t, np.where(unknown, KO_SCORE, scores).T.copy(), curves)
    options = {"ap": "voc11", "unknown_label": -1, "ko_unknown_score": KO_SCORE, "nan_scores": "rank first",
               "mean_over": "classes with at least one positive test image", "num_images": int(len(labels))}
    return HicoResult(_mode(ap_def, npos, train_pos_count), _mode(ap_ko, npos, train_pos_count), options,
                      dict(zip(("default", "known_object"), curves or [])))
