"""HICO image-level mAP with Few@1/5/10, Default and Known-Object (pure numpy).

Reproduces hico_benchmark ``eval_vo.m`` / ``eval_pr_score_label.m`` (EVAL_PROTOCOLS.md): per
class, every test image whose label is not 0 (ambiguous) counts; unknown labels (NaN, object
absent) are negatives; ranking is a stable descending sort with NaN scores first; 11-point AP.
Known-Object additionally gives unknown-label images the score -1e10. Means are taken over the
classes with at least one positive (all 600 on the official test set) and report how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hake.datasets.hico import check_scores
from hake.errors import DataError
from hake.evaluation.ap import PRCurves, segment_voc11_points
from hake.evaluation.result import TwoModeResult
from hake.vocab.sizes import NUM_HOIS

FEW_K = (1, 5, 10)
KO_SCORE = -1e10


@dataclass
class HicoMode:
    """One setting: fractions in [0, 1] and (600,) per-class AP; ``n_classes`` averaged per value."""

    mAP: float
    few: dict[int, float]
    per_class_ap: np.ndarray
    n_classes: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """mAP and Few@k as fractions (NaN as None), per-class AP, classes averaged per value."""
        out: dict[str, Any] = {"mAP": _nan_to_none(self.mAP)}
        out.update({f"few@{k}": _nan_to_none(v) for k, v in self.few.items()})
        out["per_class_ap"] = self.per_class_ap.tolist()
        out["n_classes"] = dict(self.n_classes)
        return out

    @property
    def few_1(self) -> float:
        return self.few[1]

    @property
    def few_5(self) -> float:
        return self.few[5]

    @property
    def few_10(self) -> float:
        return self.few[10]

    def __getitem__(self, key: str) -> float:
        """``mode["few@5"]`` style access to the summary values."""
        if key == "mAP":
            return self.mAP
        if key.startswith("few@"):
            return self.few[int(key[4:])]
        raise KeyError(key)


class HicoResult(TwoModeResult[HicoMode]):
    """Default and Known-Object :class:`HicoMode` plus the options used."""


def _nan_to_none(v: float) -> float | None:
    return None if np.isnan(v) else v


def _fp_above_exact(score: np.ndarray, pidx: np.ndarray, nidx: np.ndarray) -> np.ndarray:
    """Negatives ranked above each positive, by a full stable ranking (NaN first, then descending)."""
    inc = np.sort(np.concatenate((pidx, nidx)))
    nan = np.isnan(score[inc])
    order = inc[np.lexsort((inc, np.where(nan, 0.0, -score[inc]), ~nan))]
    is_pos = np.isin(order, pidx)
    return np.cumsum(~is_pos)[is_pos]


def _fp_above(score: np.ndarray, pidx: np.ndarray, nidx: np.ndarray,
              known_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each positive in rank order, the negatives ranked above it: (Default, Known-Object).

    Rank: NaN scores first, then descending score, ties in image order (a stable sort). Each
    negative is bucketed among the (few) sorted positives with a binary search, so no full sort
    is needed. Known-Object puts the unknown negatives (``~known_n``) at -1e10, i.e. below every
    positive scoring above -1e10. Ties between a negative and a positive, NaN next to +inf, or a
    positive at or below -1e10 fall back to the exact ranking.
    """
    if not len(pidx):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sp, sn = score[pidx], score[nidx]
    nan_p, nan_n = np.isnan(sp), np.isnan(sn)
    has_nan = bool(nan_p.any() or nan_n.any())
    wp = np.where(nan_p, -np.inf, -sp) if has_nan else -sp
    wn = np.where(nan_n, -np.inf, -sn) if has_nan else -sn
    o = np.lexsort((pidx, wp))
    wp_s = wp[o]
    left = np.searchsorted(wp_s, wn, "left")
    tied = bool((wp_s[np.minimum(left, len(wp_s) - 1)] == wn).any())
    clash = has_nan and bool(np.isposinf(sp).any() or np.isposinf(sn).any())
    if tied or clash:
        fp = _fp_above_exact(score, pidx, nidx)
    else:
        fp = np.cumsum(np.bincount(left, minlength=len(pidx) + 1))[:len(pidx)]
    if known_n.all():
        return fp, fp
    if tied or clash or bool((sp <= KO_SCORE).any()):
        ko_score = score.copy()
        ko_score[nidx[~known_n]] = KO_SCORE
        return fp, _fp_above_exact(ko_score, pidx, nidx)
    return fp, np.cumsum(np.bincount(left[known_n], minlength=len(pidx) + 1))[:len(pidx)]


def _points(fp: list[np.ndarray], npos: np.ndarray, curves: list[PRCurves] | None) -> np.ndarray:
    """11-point AP of every class from the false positives above each of its positives."""
    k = np.concatenate([np.arange(1, n + 1, dtype=np.float64) for n in npos]) if len(fp) else np.zeros(0)
    fp_all = np.concatenate(fp).astype(np.float64) if fp else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rec = k / np.repeat(npos.astype(np.float64), npos)
    prec = k / (fp_all + k)
    if curves is not None:
        curves.append(PRCurves(rec, prec, npos))
    return segment_voc11_points(rec, prec, npos)


def _class_ap(positive: np.ndarray, negative: np.ndarray, scores: np.ndarray, known: np.ndarray,
              curves: list[PRCurves] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C,) Default AP, Known-Object AP and positive counts.

    Args: (N, C) positive / negative masks (unknown counts as negative), scores and known-label mask.
    """
    n = scores.shape[0]
    pos_t, neg_t = np.ascontiguousarray(positive.T), np.ascontiguousarray(negative.T)
    npos, nneg = pos_t.sum(axis=1), neg_t.sum(axis=1)
    p_split = np.split(np.flatnonzero(pos_t), np.cumsum(npos)[:-1])
    n_split = np.split(np.flatnonzero(neg_t), np.cumsum(nneg)[:-1])
    scores_t, known_t = np.ascontiguousarray(scores.T), np.ascontiguousarray(known.T)
    both = []
    for c in range(scores.shape[1]):
        pidx, nidx = p_split[c] - c * n, n_split[c] - c * n
        both.append(_fp_above(scores_t[c], pidx, nidx, known_t[c, nidx]))
    ap = _points([b[0] for b in both], npos, curves)
    ap_ko = _points([b[1] for b in both], npos, curves)
    return ap, ap_ko, npos


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
    curves: list[PRCurves] | None = [] if keep_curves else None
    ap_def, ap_ko, npos = _class_ap(labels == 1, (labels == -1) | unknown, scores, ~unknown, curves)
    options = {"ap": "voc11", "unknown_label": -1, "ko_unknown_score": KO_SCORE, "nan_scores": "rank first",
               "mean_over": "classes with at least one positive test image", "num_images": int(len(labels))}
    return HicoResult(_mode(ap_def, npos, train_pos_count), _mode(ap_ko, npos, train_pos_count), options,
                      dict(zip(("default", "known_object"), curves or [])))
