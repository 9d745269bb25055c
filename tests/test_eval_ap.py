"""Shared AP code: the 11-point thresholds, all-point AP, segment helpers and the stable sorts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval_reference import ref_all_point, ref_voc11
from hake.evaluation.ap import (
    VOC11_THRESHOLDS,
    all_point_ap,
    reversed_ascending,
    segment_first_argmax,
    segment_voc11,
    stable_argsort,
    voc11_ap,
)


def test_thresholds_are_matlab_floats() -> None:
    assert VOC11_THRESHOLDS[3] == 0.30000000000000004 and VOC11_THRESHOLDS[6] == 0.6000000000000001
    assert VOC11_THRESHOLDS[7] == 0.7000000000000001 and VOC11_THRESHOLDS[10] == 1.0
    np.testing.assert_array_equal(VOC11_THRESHOLDS, np.arange(0, 1.1, 0.1))
    # recall exactly 0.3 does not reach the fourth threshold
    assert voc11_ap(np.array([0.3]), np.array([1.0])) == pytest.approx(3 / 11)


flags = st.lists(st.booleans(), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(flags, min_size=1, max_size=5), st.lists(st.integers(0, 12), min_size=5, max_size=5))
def test_segment_voc11_equals_reference(classes, extra) -> None:
    tp = np.array([f for c in classes for f in c], bool)
    counts = np.array([len(c) for c in classes])
    npos = np.array([sum(c) + e for c, e in zip(classes, extra)])
    ap, rec = segment_voc11(tp, counts, npos)
    for i, c in enumerate(classes):
        ctp = np.cumsum(c)
        r = [(t / npos[i]) if npos[i] else math.nan for t in ctp]
        p = [t / (k + 1) for k, t in enumerate(ctp)]
        assert ap[i] == pytest.approx(ref_voc11(r, p), abs=1e-15)
        assert ap[i] == pytest.approx(voc11_ap(np.array(r), np.array(p)), abs=1e-15)
        if c:
            assert (math.isnan(rec[i]) and math.isnan(r[-1])) or rec[i] == r[-1]
        else:
            assert rec[i] == 0


@settings(max_examples=200, deadline=None)
@given(flags, st.integers(0, 5))
def test_all_point_equals_reference(c, extra) -> None:
    npos = sum(c) + extra
    if not c or not npos:
        return
    ctp = np.cumsum(c).astype(float)
    r, p = ctp / npos, ctp / np.arange(1, len(c) + 1)
    assert all_point_ap(r, p) == ref_all_point(list(r), list(p))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 0.5, 1.0, -1.0, np.inf, -np.inf]), max_size=40))
def test_stable_sorts(values) -> None:
    x = np.array(values, float)
    np.testing.assert_array_equal(stable_argsort(x), np.argsort(x, kind="stable"))
    np.testing.assert_array_equal(stable_argsort(x, descending=True), np.argsort(-x, kind="stable"))
    np.testing.assert_array_equal(reversed_ascending(x), np.argsort(x, kind="stable")[::-1])


def test_segment_first_argmax() -> None:
    v = np.array([0.5, 0.7, 0.7, 0.1, np.nan, 0.3, np.nan, np.inf])
    counts = np.array([3, 1, 4])
    assert segment_first_argmax(v[[0, 1, 2, 3, 5, 7, 1, 2]], counts).tolist() == [1, 3, 5]
    assert segment_first_argmax(v[[0, 1, 2, 3, 4, 5, 6, 7]], counts, nan_is_max=True).tolist() == [1, 3, 4]
    starts = [0, 3, 4]
    got = segment_first_argmax(v, counts, nan_is_max=True)
    for s, n, g in zip(starts, counts, got):
        assert g - s == np.argmax(v[s:s + n])  # np.argmax semantics, NaN included


@pytest.mark.parametrize("seed", range(40))
def test_grouped_descending_is_the_per_group_argsort(seed: int) -> None:
    """Group by group (ascending), each group's ``argsort()[::-1]`` over its members in input order:
    ``original`` makes exactly that call, ``stable`` its stable variant; sparse group ids too."""
    from hake.evaluation.ranking import grouped_descending

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    group = rng.integers(0, 12, n) * (1 if seed % 2 else 1000)
    scores = rng.choice(np.round(rng.random(3), 2), n).astype(np.float32)
    for ties, sort in (("original", lambda a: a.argsort()), ("stable", lambda a: np.argsort(a, kind="stable"))):
        expect = []
        for g in np.unique(group):
            members = np.flatnonzero(group == g)
            expect.extend(members[sort(scores[members])[::-1]].tolist())
        assert grouped_descending(group, scores, ties).tolist() == expect, ties
