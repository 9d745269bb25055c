"""Average precision: the 11-point VOC rule (HICO-DET, HICO, PaSta) and the all-point rule (V-COCO, AVA).

Pure numpy. The vectorised helpers work on *segments*: detections of all classes laid out one
class after another (each class's detections already in rank order), so a whole benchmark is
scored without a Python loop over detections.

Conventions shared with the official code (see EVAL_PROTOCOLS.md):

- 11-point thresholds are the floats ``k * 0.1`` for k = 0..10 (``0.30000000000000004`` ...), and
  ``ap = sum_k max(prec[rec >= t_k] or 0) / 11`` accumulated in that order, as the MATLAB loop does.
- A class with no positives has 11-point AP 0 (its recall is NaN, so no threshold is reached).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The 11 recall thresholds of the VOC 11-point rule, as MATLAB's ``0:0.1:1`` loop produces them.
VOC11_THRESHOLDS: np.ndarray = np.array([k * 0.1 for k in range(11)], dtype=np.float64)


def voc11_ap(rec: np.ndarray, prec: np.ndarray) -> float:
    """11-point VOC AP of one class.

    Args:
        rec: (K,) recall after each ranked detection (may be NaN when there are no positives).
        prec: (K,) precision after each ranked detection.

    Returns:
        ``sum_k max(prec[rec >= k*0.1] or 0) / 11`` as a Python float.
    """
    rec = np.asarray(rec, dtype=np.float64)
    prec = np.asarray(prec, dtype=np.float64)
    ap = 0.0
    for t in VOC11_THRESHOLDS:
        sel = prec[rec >= t]
        p = float(sel.max()) if sel.size else 0.0
        ap = ap + p / 11
    return ap


def all_point_ap(rec: np.ndarray, prec: np.ndarray) -> float:
    """VOC all-point AP (area under the precision envelope), as V-COCO's and AVA's ``voc_ap``.

    ``mrec = [0, rec, 1]``, ``mpre = [0, prec, 0]``, ``mpre`` made non-increasing from the right,
    then ``sum((mrec[i+1] - mrec[i]) * mpre[i+1])`` over the points where recall changes.
    Inputs are promoted to float64 exactly as the originals' ``np.concatenate`` does.
    """
    mrec = np.concatenate(([0.0], np.asarray(rec), [1.0]))
    mpre = np.concatenate(([0.0], np.asarray(prec), [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def segment_starts(counts: np.ndarray) -> np.ndarray:
    """(C,) start offset of each segment given the (C,) segment lengths."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts


def segment_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum of integer ``values`` restarting at every segment (exact for integers)."""
    values = np.asarray(values, dtype=np.int64)
    total = np.cumsum(values)
    starts = segment_starts(counts)
    before = np.concatenate(([0], total))[starts]
    out: np.ndarray = total - np.repeat(before, counts)
    return out


def segment_first_argmax(values: np.ndarray, counts: np.ndarray, nan_is_max: bool = False) -> np.ndarray:
    """Index (into ``values``) of the first maximum of each non-empty segment.

    Args:
        values: (P,) float values laid out segment after segment.
        counts: (C,) segment lengths, all > 0.
        nan_is_max: follow ``np.argmax`` (the first NaN wins) instead of ignoring NaN the way a
            strict ``>`` loop does. With ``False`` NaN values must not occur.

    Returns:
        (C,) int64 positions of the first maximal element of each segment.
    """
    values = np.asarray(values, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64)
    if len(counts) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = segment_starts(counts)
    seg = np.repeat(np.arange(len(counts)), counts)
    v = values
    if nan_is_max:
        v = np.where(np.isnan(values), np.inf, values)
        has_nan = np.maximum.reduceat(np.isnan(values), starts)
    seg_max = np.maximum.reduceat(v, starts)
    is_max = v == seg_max[seg]
    if nan_is_max:
        # where a segment holds a NaN only NaNs count as its maximum (an +inf does not)
        is_max &= np.where(has_nan[seg], np.isnan(values), True)
    pos = np.where(is_max, np.arange(len(v)), len(v))
    return np.minimum.reduceat(pos, starts)


@dataclass
class PRCurves:
    """Precision/recall after every ranked detection of many classes (segments one after another)."""

    rec: np.ndarray
    prec: np.ndarray
    counts: np.ndarray

    def get(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """(recall, precision) arrays of class ``c``."""
        start = int(np.sum(self.counts[:c]))
        return self.rec[start:start + self.counts[c]], self.prec[start:start + self.counts[c]]

    @classmethod
    def from_list(cls, curves: list[tuple[np.ndarray, np.ndarray]]) -> PRCurves:
        """Curves of many classes, one (recall, precision) pair per class, laid out as segments."""
        counts = np.array([len(r) for r, _ in curves], np.int64)
        return cls(_cat([r for r, _ in curves]), _cat([p for _, p in curves]), counts)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    """float64 concatenation of 1-D arrays (empty list: an empty array)."""
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def segment_voc11(tp: np.ndarray, counts: np.ndarray, npos: np.ndarray,
                  curves: list[PRCurves] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """11-point AP and final recall of many classes at once.

    Args:
        tp: (M,) bool, true positive flag of every ranked detection, class segments one after
            another, each segment in rank order (FP = not TP).
        counts: (C,) number of detections per class (segments may be empty).
        npos: (C,) number of positives per class.

    Returns:
        ap: (C,) float64 11-point AP (0 for a class without positives or detections).
        recall: (C,) final recall ``tp_total / npos`` (NaN with detections and no positives,
            0 without detections, as the official code reports).

    When a list is passed as ``curves``, a :class:`PRCurves` of every class is appended to it.
    """
    counts = np.asarray(counts, dtype=np.int64)
    npos = np.asarray(npos, dtype=np.float64)
    starts = segment_starts(counts)
    tp_cum = segment_cumsum(tp, counts).astype(np.float64)
    rank = np.arange(len(tp_cum), dtype=np.int64) - np.repeat(starts, counts)
    fp_cum = (rank + 1).astype(np.float64) - tp_cum
    with np.errstate(divide="ignore", invalid="ignore"):
        rec = tp_cum / np.repeat(npos, counts)
    prec = tp_cum / (fp_cum + tp_cum)
    if curves is not None:
        curves.append(PRCurves(rec, prec, counts))
    tp = np.asarray(tp, bool)
    seg = np.repeat(np.arange(len(counts)), counts)
    ap = segment_voc11_points(rec[tp], prec[tp], np.bincount(seg[tp], minlength=len(counts)))
    recall = np.zeros(len(counts), dtype=np.float64)
    has = counts > 0
    recall[has] = rec[starts[has] + counts[has] - 1]
    return ap, recall


def segment_voc11_points(rec: np.ndarray, prec: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """11-point AP of many classes from their PR points (segments; recall non-decreasing per segment).

    Only the points matter, so a caller may pass just the points at the true positives: the
    points after a false positive never raise the maximum precision at a recall level.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_cls = len(counts)
    starts = segment_starts(counts)
    ends = starts + counts
    prec_ext = np.concatenate((np.asarray(prec, np.float64), [-np.inf]))
    seg = np.repeat(np.arange(n_cls), counts)
    ap = np.zeros(n_cls, dtype=np.float64)
    for t in VOC11_THRESHOLDS:
        below = np.bincount(seg, weights=~(rec >= t), minlength=n_cls).astype(np.int64)
        first = starts + below
        ok = first < ends
        p = np.zeros(n_cls, dtype=np.float64)
        if ok.any():
            idx = np.empty(2 * int(ok.sum()), dtype=np.int64)
            idx[0::2] = first[ok]
            idx[1::2] = ends[ok]
            p[ok] = np.maximum.reduceat(prec_ext, idx)[0::2]
        ap = ap + p / 11
    return ap


def stable_argsort(values: np.ndarray, descending: bool = False) -> np.ndarray:
    """Stable argsort of a 1-D float array (ties in input order), ascending or descending.

    Uses numpy's fast default sort and re-sorts only the runs of tied values by index, so it
    costs about one quicksort when ties are rare. NaN values must not occur.
    """
    v = np.asarray(values)
    key = -v if descending else v
    order = np.argsort(key)
    if len(order) < 2:
        return order
    ks = key[order]
    tie = ks[1:] == ks[:-1]
    if tie.any():
        in_run = np.zeros(len(order), bool)
        in_run[1:] |= tie
        in_run[:-1] |= tie
        run = np.cumsum(np.concatenate(([True], ~tie)))
        pos = np.flatnonzero(in_run)
        order[pos] = order[pos][np.lexsort((order[pos], run[pos]))]
    return order


def stable_descending(scores: np.ndarray) -> np.ndarray:
    """Order of ``scores`` from high to low, ties in input order (MATLAB ``sort(-s)``)."""
    return stable_argsort(np.asarray(scores, dtype=np.float64), descending=True)


def reversed_ascending(scores: np.ndarray) -> np.ndarray:
    """``np.argsort(scores)[::-1]`` with a stable sort: high to low, ties in reverse input order.

    The ``ties="stable"`` order of the V-COCO and AVA evaluators: one answer on every machine.
    It equals the originals' order only where numpy's default sort happens to keep ties in input
    order (see :func:`hake.evaluation.ranking.original_descending`).
    """
    return stable_argsort(np.asarray(scores))[::-1]

