"""Smoothing, flicker, activity segments and AVA rows on synthetic tracks whose answers are known by construction."""

from __future__ import annotations

import csv
import json
import math

import pytest

from hake.engine.infer.segments import SegmentBuilder, Smoothing, segments_of_frames, write_ava_csv
from hake.structures import FrameResult, HoiPrediction, PartState, Person
from hake.viz.timeline import save_timeline
from hake.vocab import load

V = load()
RIDE_HORSE = int(next(h for h in range(600) if V.verbs117[V.hoi_verb[h]] == "ride"
                      and V.objects[V.hoi_object[h]] == "horse"))


def person(tid: int | None, hand: list[tuple[str, float]], box=(100.0, 50.0, 200.0, 250.0)) -> Person:
    return Person(box=box, score=0.9, track_id=tid,
                  pasta={"hand": [PartState("hand", s, 0, p) for s, p in hand]})


def frame(t: int, persons: list[Person], hois: list[tuple[int, int, float]] = ()) -> FrameResult:
    hs = [HoiPrediction(person=i, object_index=0, hoi=h, verb=V.verbs117[V.hoi_verb[h]],
                        object=V.objects[V.hoi_object[h]], score=s, box_h=persons[i].box, box_o=(0, 0, 10, 10))
          for i, h, s in hois]
    return FrameResult("synthetic", 400, 300, frame_index=t, persons=persons, hois=hs)


def test_flicker_of_a_noisy_state_drops_with_smoothing() -> None:
    # the hand holds (0.6 vs 0.4) but every 4th frame the raw scores swap: the raw top state changes
    # into and out of each swap (10 swaps, the last at frame 39: flicker 19/39); the average of "hold"
    # stays near 0.6 > "no_interaction"
    frames = [frame(t, [person(1, [("hold", 0.6), ("no_interaction", 0.4)] if t % 4 != 3
                                else [("no_interaction", 0.6), ("hold", 0.4)])]) for t in range(40)]
    doc = segments_of_frames(frames, fps=10.0)
    fl = doc["flicker"]["part_states"]
    assert fl["comparisons"] == 39 and fl["raw"] == pytest.approx(19 / 39)
    assert fl["smoothed"] == 0.0
    assert [p[0] for p in doc["tracks"][0]["parts"]["hand"]] == ["hold"]
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc  # valid JSON, no NaN


def test_ema_follows_the_documented_formula() -> None:
    b = SegmentBuilder(fps=10.0, smoothing=Smoothing(tau_s=0.5))
    b.add(frame(0, [person(3, [("hold", 1.0)])]))
    b.add(frame(2, [person(3, [("hold", 0.0)])]))  # seen again 2 frames later
    a = 1 - math.exp(-2 / (10.0 * 0.5))
    assert b.tracks[3].pasta[("hand", "hold")] == pytest.approx(1 - a)


def test_activity_segment_ends_after_max_gap_frames_without_the_activity() -> None:
    frames = []
    for t in range(30):
        hois = [(0, RIDE_HORSE, 0.5)] if t < 10 else []
        frames.append(frame(t, [person(7, [("hold", 0.9)])], hois))
    frames.append(frame(30, [person(None, [])]))  # an untracked person is ignored
    doc = segments_of_frames(frames, fps=10.0, video="synthetic", smoothing=Smoothing(max_gap=5, min_frames=3))
    (seg,) = doc["segments"]
    assert (seg["track_id"], seg["hoi"], seg["verb"], seg["object"]) == (7, RIDE_HORSE, "ride", "horse")
    assert (seg["start_frame"], seg["end_frame"]) == (0, 14)  # last seen at 9, kept for max_gap = 5 frames
    assert (seg["start_s"], seg["end_s"]) == (0.0, 1.4)
    a = 1 - math.exp(-1 / 5)
    scores = [0.5] * 10 + [0.5 * (1 - a) ** k for k in range(1, 6)]
    assert seg["mean_score"] == pytest.approx(sum(scores) / 15, abs=1e-5)
    (track,) = doc["tracks"]
    assert track["activities"] == [[RIDE_HORSE, 0, 14], [None, 15, 29]]


def test_short_runs_are_not_segments_and_two_tracks_stay_apart() -> None:
    frames = [frame(t, [person(1, []), person(2, [], box=(250.0, 50.0, 350.0, 250.0))],
                    [(0, RIDE_HORSE, 0.3)] + ([(1, RIDE_HORSE, 0.3)] if t == 0 else [])) for t in range(10)]
    doc = segments_of_frames(frames, fps=10.0, smoothing=Smoothing(max_gap=0, min_frames=3))
    assert [(s["track_id"], s["start_frame"], s["end_frame"]) for s in doc["segments"]] == [(1, 0, 9)]


def test_ava_rows_at_whole_seconds_are_normalised_and_one_based(tmp_path) -> None:
    frames = [frame(t, [person(5, [])], [(0, RIDE_HORSE, 0.4)]) for t in range(25)]
    b = SegmentBuilder(fps=10.0, video="clip")
    for f in frames:
        b.add(f)
    rows = b.ava_rows()
    assert [r[1] for r in rows] == [0, 1, 2]  # frames 0, 10, 20
    video, ts, x1, y1, x2, y2, action, score = rows[1]
    assert (video, x1, y1, x2, y2) == ("clip", 0.25, 50 / 300, 0.5, 250 / 300)
    assert action == int(V.hoi_verb[RIDE_HORSE]) + 1 and score == pytest.approx(0.4)
    path = tmp_path / "clip.ava.csv"
    write_ava_csv(rows, path)
    assert len(list(csv.reader(path.open()))) == 3
    labelmap = (tmp_path / "clip.ava.labelmap.pbtxt").read_text()
    assert labelmap.count("item {") == 117 and f'name: "ride"\n  id: {action}\n' in labelmap


def test_timeline_picture_has_a_row_per_track(tmp_path) -> None:
    from PIL import Image

    frames = [frame(t, [person(1, []), person(2, [], box=(250.0, 50.0, 350.0, 250.0))],
                    [(0, RIDE_HORSE, 0.4)] if t < 12 else []) for t in range(20)]
    doc = segments_of_frames(frames, fps=10.0, video="two")
    path = save_timeline(doc, tmp_path / "two.timeline.png")
    with Image.open(path) as im:
        assert im.size[0] == 1000 and im.size[1] > 100
        pixels = im.convert("RGB").getcolors(1 << 20)
    colours = {c for _, c in pixels}
    assert (0xd9, 0xd9, 0xd9) in colours  # frames without activity
    assert (31, 119, 180) in colours  # tab20's first colour: ride horse
