"""Rank orders of the Python originals (V-COCO, AVA) and hake's stable alternative (pure numpy).

``vsrl_eval.py`` and the AVA ``metrics.py`` rank with ``a.argsort()[::-1]``: numpy's default sort,
which is not stable. On tied scores its order depends on the array (length, dtype, element order),
the numpy version and the CPU (SIMD sorts), so the original's answer on ties is the answer of that
call on that array under the user's numpy. ``ties="original"`` reproduces it by making the same
call on an array with the same dtype and the same elements in the same order (EVAL_PROTOCOLS.md,
"Ties in the Python originals"); ``ties="stable"`` is a fixed order (stable ascending sort,
reversed), one answer on every machine but not the original's on ties.
"""

from __future__ import annotations

import numpy as np

from hake.errors import DataError
from hake.evaluation.ap import reversed_ascending

#: The tie orders the V-COCO and AVA evaluators offer; ``original`` is the default.
TIES: tuple[str, ...] = ("original", "stable")


def check_ties(ties: str) -> str:
    """Return ``ties`` if it is one of :data:`TIES`; raise :class:`DataError` otherwise."""
    if ties not in TIES:
        raise DataError(f"unknown tie order {ties!r}; use one of {', '.join(TIES)}", field="ties")
    return ties


def original_descending(scores: np.ndarray) -> np.ndarray:
    """``scores.argsort()[::-1]`` exactly as the originals write it (default sort kind, reversed).

    Args:
        scores: (N,) the very array the original sorts (its dtype, its element order).

    Returns:
        (N,) int64 positions, high score first; tie order as numpy's default sort leaves it.
    """
    order: np.ndarray = np.asarray(scores).argsort()[::-1]
    return order


def descending(scores: np.ndarray, ties: str) -> np.ndarray:
    """(N,) positions high to low: :func:`original_descending` or, with ``ties="stable"``,
    :func:`hake.evaluation.ap.reversed_ascending` (ties in reverse input order)."""
    order: np.ndarray = original_descending(scores) if ties == "original" else reversed_ascending(scores)
    return order


def _small_int(values: np.ndarray) -> np.ndarray:
    """``values`` as int16 where they fit (numpy's stable sort is a radix sort there), else int64."""
    out: np.ndarray = values.astype(np.int16 if len(values) and 0 <= values.min() and values.max() < 2**15
                                    else np.int64)
    return out


def grouped_descending(group: np.ndarray, scores: np.ndarray, ties: str) -> np.ndarray:
    """Visit items group by group, each group high score first, as a per-group ``argsort()[::-1]``.

    This is the order in which ``vsrl_eval.py`` visits detections: images one after another and,
    in each image, ``agent_scores.argsort()[::-1]`` over that image's detections in file order.

    Args:
        group: (N,) non-negative int group of each item (e.g. the image's position); groups are
            visited in ascending order.
        scores: (N,) scores without NaN, in the dtype the original sorts (float32 for V-COCO);
            within a group, items are taken in input order to build the array that is sorted.
        ties: ``original``: a group with tied scores gets ``member_scores.argsort()[::-1]`` on the
            exact array (member scores in input order); a group without ties has only one
            descending order. ``stable``: ties in reverse input order, in every group.

    Returns:
        (N,) int64 positions into the inputs: the visiting order.
    """
    group = np.asarray(group)
    scores = np.asarray(scores)
    n = len(scores)
    if n == 0:
        return np.zeros(0, np.int64)
    if group.max() >= 4 * n:  # sparse group ids: renumber them 0..G-1 in the same order
        group = np.unique(group, return_inverse=True)[1].reshape(-1)
    # ascending by score (stable only where the stable order is asked for), then stably by group
    order: np.ndarray = np.argsort(scores, kind="stable" if ties == "stable" else None)
    g_key = _small_int(group)
    order = order[np.argsort(g_key[order], kind="stable")]
    counts = np.bincount(group)
    first_of_group = np.cumsum(counts) - counts
    g_sorted = group[order]
    starts = first_of_group[g_sorted]
    ends = starts + counts[g_sorted]
    order = order[starts + ends - 1 - np.arange(n)]  # reverse each group: descending score
    if ties == "stable":
        return order
    s = scores[order]
    tied = (g_sorted[1:] == g_sorted[:-1]) & (s[1:] == s[:-1])  # g_sorted is unchanged by the reversal
    if not tied.any():
        return order
    by_group = np.argsort(g_key, kind="stable")  # members of each group in input order
    tied_groups = np.unique(g_sorted[1:][tied])
    lows, highs = first_of_group[tied_groups].tolist(), (first_of_group + counts)[tied_groups].tolist()
    for lo, hi in zip(lows, highs):
        members = by_group[lo:hi]
        order[lo:hi] = members[scores[members].argsort()[::-1]]  # the original's call on its array
    return order
