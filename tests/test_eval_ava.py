"""AVA evaluator + reader: equal to a step-by-step port of the original on random CSV files."""

from __future__ import annotations

import csv
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval_reference import ref_ava
from hake.datasets.ava import read_ava_csv, read_exclusions, read_labelmap
from hake.errors import DataError
from hake.evaluation.ava import evaluate_ava

LABELMAP = "".join(f'item {{\n  name: "{n}"\n  id: {i}\n}}\n' for n, i in (("bend/bow", 1), ("crawl", 2), ("dance", 4)))
coord = st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.5, 0.6, 0.75, 1.0])
frame = st.tuples(st.sampled_from(["vidA", "-5KQ66BBWC4"]), st.sampled_from(["0902", "902", "903", "1000"]))


@st.composite
def rows(draw, with_score: bool):
    out = []
    for _ in range(draw(st.integers(0, 25))):
        v, t = draw(frame)
        out.append([v, t, draw(coord), draw(coord), draw(coord), draw(coord), draw(st.sampled_from([1, 2, 3, 4]))]
                   + ([draw(st.sampled_from([0.1, 0.5, 0.9, 0.95]))] if with_score else []))
    if with_score and draw(st.booleans()):  # one crowded frame: the top-50 cap and ties at its boundary
        v, t = draw(frame)
        for k in range(draw(st.integers(45, 70))):
            out.append([v, t, 0.1, 0.1, 0.5 + (k % 5) / 10, 0.6, 1 + k % 4, draw(st.sampled_from([0.3, 0.6, 0.7]))])
    return out


def write(path: Path, data: list[list]) -> Path:
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(data)
    return path


def run_both(tmp: Path, gt_rows, det_rows, excl_rows, protocol: str, ties: str = "original", sort=None):
    """Fast evaluator == the transliterated original on these CSV rows; returns the fast result."""
    (tmp / "l.pbtxt").write_text(LABELMAP)
    cats, ids = read_labelmap(tmp / "l.pbtxt")
    g, d = write(tmp / "g.csv", gt_rows), write(tmp / "d.csv", det_rows)
    e = write(tmp / "e.csv", excl_rows) if protocol == "v2019" else None
    excluded = read_exclusions(e, protocol)
    res = evaluate_ava(read_ava_csv(g, ids, 0, protocol), read_ava_csv(d, ids, 50, protocol), cats, excluded,
                       protocol, ties=ties)
    ref = ref_ava(str(g), str(d), ids, excluded, protocol, **({} if sort is None else {"sort": sort}))
    for c in range(1, 5):
        if c in ref:
            assert res.per_class_ap[c - 1] == pytest.approx(ref[c], abs=1e-9), c
        else:
            assert math.isnan(res.per_class_ap[c - 1])
    vals = list(ref.values())
    assert (math.isnan(res.mAP) and not vals) or res.mAP == pytest.approx(float(np.mean(vals)), abs=1e-9)
    assert res.options["ties"] == ties
    return res


def tie_heavy_rows(seed: int) -> tuple[list, list, list]:
    """GT, detection and exclusion rows: 2-decimal scores from a few levels, duplicated detections and
    GT boxes, frames whose GT rows all carry unevaluated labels (3, 7), 2-column GT rows, and crowded
    frames over the 50 cap with ties at its boundary."""
    rng = np.random.default_rng(seed)
    frames = [("vidA", f"{t:04d}") for t in range(902, 907)] + [("-5KQ66BBWC4", "0902")]
    boxes = [[0.1, 0.1, 0.5, 0.6], [0.5, 0.5, 0.9, 0.9], [0.12, 0.1, 0.5, 0.62], [0.0, 0.0, 1.0, 1.0]]
    gt, dets = [], []
    for v, t in frames:
        kind = rng.integers(0, 4)
        if kind == 0:  # only unevaluated labels
            gt += [[v, t, *boxes[int(rng.integers(0, 4))], int(rng.choice([3, 7])), int(p)] for p in range(2)]
        elif kind == 1:
            gt.append([v, t])
        elif kind == 2:
            for p in range(int(rng.integers(1, 4))):
                b = boxes[int(rng.integers(0, 4))]
                gt += [[v, t, *b, int(a), p] for a in rng.choice([1, 2, 3, 4], int(rng.integers(1, 3)))]
    levels = np.round(rng.random(int(rng.integers(1, 4))), 2).tolist()
    for _ in range(int(rng.integers(0, 60))):
        if dets and rng.random() < 0.3:
            dets.append(list(dets[int(rng.integers(0, len(dets)))]))
            continue
        v, t = frames[int(rng.integers(0, len(frames)))]
        b = boxes[int(rng.integers(0, 4))] if rng.random() < 0.7 else np.round(rng.random(4), 1).tolist()
        dets.append([v, t, *b, int(rng.choice([1, 2, 3, 4])), float(rng.choice(levels))])
    if rng.random() < 0.5:  # a crowded frame: more than 50 rows, ties at the cap
        v, t = frames[int(rng.integers(0, len(frames)))]
        for k in range(int(rng.integers(45, 90))):
            dets.append([v, t, *boxes[k % 4], 1 + k % 4, float(rng.choice([0.3, 0.6, 0.7, *levels]))])
    order = rng.permutation(len(dets)) if rng.random() < 0.3 else np.arange(len(dets))
    excl = [[v, t] for v, t in frames if rng.random() < 0.15]
    return gt, [dets[i] for i in order], excl


@pytest.mark.parametrize("protocol", ["v2019", "head"])
@pytest.mark.parametrize("seed", range(120))
def test_equals_the_original_on_tie_heavy_files(seed: int, protocol: str, tmp_path) -> None:
    run_both(tmp_path, *tie_heavy_rows(seed), protocol)


@pytest.mark.parametrize("seed", range(0, 120, 4))
def test_stable_option_is_the_original_with_a_stable_sort(seed: int, tmp_path) -> None:
    run_both(tmp_path, *tie_heavy_rows(seed), "head", ties="stable", sort=lambda a: np.argsort(a, kind="stable"))


def test_frame_with_only_unevaluated_gt_labels_counts_its_detections(tmp_path) -> None:
    """head: frame 0903 has GT rows, all of action 3 (not in the label map): it is a GT frame, so its
    detection of class 1 is a false positive; frame 0905 has no GT row at all and is ignored."""
    gt = [["v", "0902", 0.1, 0.1, 0.5, 0.5, 1, 0], ["v", "0903", 0.1, 0.1, 0.5, 0.5, 3, 0]]
    det = [["v", "0902", 0.1, 0.1, 0.5, 0.5, 1, 0.5], ["v", "0903", 0.1, 0.1, 0.5, 0.5, 1, 0.9],
           ["v", "0905", 0.1, 0.1, 0.5, 0.5, 1, 0.95]]
    res = run_both(tmp_path, gt, det, [], "head")
    assert res.per_class_ap[0] == pytest.approx(0.5)  # FP (0.9) then TP (0.5)
    gt[1] = ["v", "0903"]  # a 2-column row names the frame as well
    assert run_both(tmp_path, gt, det, [], "head").per_class_ap[0] == pytest.approx(0.5)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(False), rows(True), st.lists(frame, max_size=2), st.sampled_from(["v2019", "head"]),
       st.booleans())
def test_matches_reference_on_random_files(gt_rows, det_rows, excl, protocol, person_id) -> None:
    if person_id:  # real GT files carry a person id as 8th column, which the original reads as the score
        gt_rows = [r + [k % 3] for k, r in enumerate(gt_rows)]
    with tempfile.TemporaryDirectory() as tmp:
        run_both(Path(tmp), gt_rows, det_rows, [list(x) for x in excl], protocol)


def test_known_values(tmp_path) -> None:
    gt = [["v", "0902", 0.1, 0.1, 0.5, 0.5, 1, 0], ["v", "0902", 0.5, 0.5, 0.9, 0.9, 1, 1],
          ["v", "0903", 0.1, 0.1, 0.5, 0.5, 2, 0], ["v", "0904", 0.1, 0.1, 0.5, 0.5, 4, 0]]
    det = [["v", "0902", 0.1, 0.1, 0.5, 0.5, 1, 0.9],   # TP
           ["v", "0902", 0.1, 0.1, 0.5, 0.5, 1, 0.8],   # same best GT, taken: FP (no fallback)
           ["v", "0902", 0.5, 0.5, 0.9, 0.9, 1, 0.7],   # TP
           ["v", "0905", 0.1, 0.1, 0.5, 0.5, 2, 0.99],  # frame without GT: FP in v2019, ignored by head
           ["v", "0903", 0.1, 0.1, 0.5, 0.5, 2, 0.5],   # TP
           ["v", "0903", 0.1, 0.1, 0.5, 0.5, 3, 0.5]]   # class 3 is not in the label map
    (tmp_path / "l.pbtxt").write_text(LABELMAP)
    cats, ids = read_labelmap(tmp_path / "l.pbtxt")
    assert cats[2] == {"id": 4, "name": "dance"} and ids == {1, 2, 4}
    g, d = write(tmp_path / "g.csv", gt), write(tmp_path / "d.csv", det)
    res = evaluate_ava(read_ava_csv(g, ids, 0), read_ava_csv(d, ids, 50), cats, set(), "v2019")
    # class 1: TP FP TP of 2 -> envelope 1 up to recall .5, 2/3 up to 1 -> 0.5 + 0.5*2/3
    assert res.per_class_ap[0] == pytest.approx(0.5 + 1 / 3)
    assert res.per_class_ap[1] == pytest.approx(0.5)  # FP (0.99) then TP
    assert res.per_class_ap[3] == 0.0 and math.isnan(res.per_class_ap[2])
    assert res.mAP == pytest.approx(np.mean([0.5 + 1 / 3, 0.5, 0.0]))
    head = evaluate_ava(read_ava_csv(g, ids, 0, "head"), read_ava_csv(d, ids, 50, "head"), cats, None, "head")
    assert head.per_class_ap[1] == pytest.approx(1.0)
    write(tmp_path / "e.csv", [["v", "903"]])
    ex = evaluate_ava(read_ava_csv(g, ids, 0), read_ava_csv(d, ids, 50), cats, read_exclusions(tmp_path / "e.csv"))
    assert math.isnan(ex.per_class_ap[1]) and ex.to_dict()["per_class_ap"]["crawl"] is None


def test_top50_cap(tmp_path) -> None:
    det = [["v", "0902", 0.1, 0.1, 0.5, 0.5, 1, s / 100] for s in range(60)]
    rows = read_ava_csv(write(tmp_path / "d.csv", det), {1}, 50)
    assert len(rows.scores) == 50 and rows.scores[0] == 0.59 and rows.scores[-1] == 0.10
    assert list(rows.frame_keys) == ["v,0902"] and rows.boxes[0].tolist() == [0.1, 0.1, 0.5, 0.5]


def test_bad_rows(tmp_path) -> None:
    p = write(tmp_path / "d.csv", [["v", "0902", 0.1, 0.1, 0.5, 0.5, 1, 0.5], ["v", "0902", 0.1, 0.1, 0.5, 0.5]])
    with pytest.raises(DataError, match=r"d\.csv.*row 1.*expected 2, 7 or 8 columns, got 6"):
        read_ava_csv(p, {1}, 50)
    p = write(tmp_path / "n.csv", [["v", "0902", "nan", 0.1, 0.5, 0.5, 1, 0.5]])
    with pytest.raises(DataError, match=r"n\.csv.*row 0"):
        read_ava_csv(p, {1}, 50)
    p = write(tmp_path / "e.csv", [["v", "0902", "x"]])
    with pytest.raises(DataError, match=r"e\.csv.*row 0.*2 columns"):
        read_exclusions(p)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(True), st.sampled_from([0, 50, 3]), st.sampled_from(["v2019", "head"]))
def test_reader_equals_original_reader(det_rows, capacity, protocol) -> None:
    """Kept rows equal the original's heap + sort, ties included; per frame, each action's rows in the
    original's order (the order between different actions with equal scores is not used by anything)."""
    from eval_reference import ref_ava_read

    with tempfile.TemporaryDirectory() as tmp:
        p = write(Path(tmp) / "d.csv", det_rows)
        got = read_ava_csv(p, {1, 2, 4}, capacity, protocol)
        boxes, labels, scores, all_keys = ref_ava_read(str(p), {1, 2, 4}, capacity, protocol)
    assert list(got.frame_keys) == list(boxes) and set(got.all_frame_keys.tolist()) == all_keys
    for f, k in enumerate(got.frame_keys):
        sel = got.frame == f
        mine = [(s, int(a), *b) for s, a, b in zip(got.scores[sel], got.labels[sel], got.boxes[sel].tolist())]
        theirs = [(s, a, *b) for s, a, b in zip(scores[k], labels[k], boxes[k])]
        assert sorted(mine) == sorted(theirs), k
        for a in {x[1] for x in theirs}:
            assert [x for x in mine if x[1] == a] == [x for x in theirs if x[1] == a], (k, a)


def test_python_csv_path_equals_pyarrow_path(tmp_path, monkeypatch) -> None:
    """Without pyarrow the csv-module reader gives the same rows (also for 7/8-column mixes)."""
    import hake.datasets.ava as ava

    rng = np.random.default_rng(3)
    rows = [["v", str(900 + k % 4), *rng.random(4).round(2).tolist(), int(1 + k % 5), round(float(rng.random()), 1)]
            for k in range(300)]
    p = write(tmp_path / "d.csv", rows)
    fast = read_ava_csv(p, {1, 2, 4}, 50)
    monkeypatch.setattr(ava, "_parse_arrow", lambda *a: None)
    slow = read_ava_csv(p, {1, 2, 4}, 50)
    assert list(fast.frame_keys) == list(slow.frame_keys)
    for f in range(len(fast.frame_keys)):
        for a in (1, 2, 4):
            sel_f, sel_s = (fast.frame == f) & (fast.labels == a), (slow.frame == f) & (slow.labels == a)
            np.testing.assert_array_equal(fast.scores[sel_f], slow.scores[sel_s])
            np.testing.assert_array_equal(fast.boxes[sel_f], slow.boxes[sel_s])
    mixed = write(tmp_path / "m.csv", [r[:7] if k % 2 else r for k, r in enumerate(rows[:20])])
    got = read_ava_csv(mixed, {1, 2, 4}, 0)
    assert set(got.scores.tolist()) >= {1.0}


def test_frames_of_ungrouped_rows(monkeypatch) -> None:
    """Frame keys and first-appearance order are the same whether rows come grouped or shuffled."""
    import hake.datasets.ava as ava

    vcode = np.array([0, 1, 0, 1, 0, 0, 1])
    ts = np.array([902.0, 902.0, 903.0, 902.0, 902.0, 904.0, 903.0])
    runs = ava._frames(["a", "b"], vcode, ts, "v2019")
    monkeypatch.setattr(ava, "RUNS_LIMIT", 0)
    pairs = ava._frames(["a", "b"], vcode, ts, "v2019")
    assert list(runs[0]) == list(pairs[0]) == ["a,0902", "b,0902", "a,0903", "a,0904", "b,0903"]
    assert runs[1].tolist() == pairs[1].tolist() == [0, 1, 2, 1, 0, 3, 4]
