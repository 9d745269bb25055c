"""Streaming video inference with ByteTrack person IDs, on a clip cut from OpenCV's vtest.avi."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import FIXTURES
from hake.engine.infer.pipeline import PipelineConfig, build_pipeline
from hake.engine.infer.tracking import PersonTracker
from hake.engine.infer.video import iter_frames, process_video
from hake.errors import DataError
from hake.structures import FrameResult, Person
from hake.viz.overlay import PANEL_WIDTH
from pipeline_standin import StandInPasta

CLIP = FIXTURES / "video" / "vtest_clip.avi"  # frames 100-107 of vtest.avi, crop x 320-640, y 110-350


def iou(a, b) -> float:
    lt = np.maximum(a[:2], b[:2])
    rb = np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(rb - lt, 0, None))
    return float(inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter))


def frame(boxes, scores=None) -> FrameResult:
    scores = scores or [0.9] * len(boxes)
    return FrameResult("synthetic", 640, 480, persons=[Person(box=b, score=s) for b, s in zip(boxes, scores)])


def test_tracker_keeps_ids_of_moving_people_and_gives_newcomers_new_ones() -> None:
    tracker = PersonTracker(frame_rate=10)
    seen = []
    for t in range(6):
        boxes = [(10 + 5 * t, 10, 60 + 5 * t, 150), (300 - 4 * t, 20, 350 - 4 * t, 170)]
        if t >= 3:
            boxes.append((500, 300, 540, 400))  # someone walks in at frame 3
        seen.append([p.track_id for p in tracker.update(frame(boxes)).persons])
    assert seen[0] == [None, None]  # tentative until seen twice
    a, b = seen[1][:2]
    assert a is not None and b is not None and a != b
    assert all(ids[:2] == [a, b] for ids in seen[1:])
    assert seen[3][2] is None and seen[4][2] == seen[5][2] not in (a, b, None)
    assert tracker.update(frame([])).persons == []


def test_frames_are_streamed_one_by_one() -> None:
    frames = iter_frames(CLIP)
    index, first = next(frames)  # a generator: nothing else is decoded yet
    assert index == 0 and first.shape == (240, 320, 3) and first.dtype == np.uint8
    assert [i for i, _ in frames] == list(range(1, 8))
    assert [i for i, _ in iter_frames(CLIP, max_frames=3)] == [0, 1, 2]


def test_unreadable_videos_are_data_errors(tmp_path) -> None:
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI this is not a video")
    with pytest.raises(DataError, match="broken.avi"):
        list(iter_frames(bad))
    with pytest.raises(DataError, match="no such file"):
        list(iter_frames(tmp_path / "missing.avi"))


def test_video_people_keep_their_track_ids(tmp_path) -> None:
    # the photo default (0.1 on the fused scale) finds faint walkers whose IDs can swap in this 8-frame clip
    pipe = build_pipeline(pasta_model=StandInPasta(), pose="movenet_lightning",
                          config=PipelineConfig(person_threshold=0.35))
    out = tmp_path / "clip.jsonl"
    vis = tmp_path / "clip.avi"
    ticks = []
    assert process_video(pipe, CLIP, out, vis, on_frame=lambda done, total: ticks.append((done, total))).frames == 8
    assert ticks[-1] == (8, 8)
    frames = [FrameResult.from_dict(json.loads(line)) for line in out.read_text().splitlines()]
    assert [f.frame_index for f in frames] == list(range(8))
    # the couple walking side by side (two tall boxes near x = 175-245) is found in every frame
    # (confident, unambiguous detections only: two people on the left merge into one box for a
    # frame, and which of them keeps the ID there is the tracker's guess)
    links = 0
    for prev, cur in zip(frames, frames[1:]):
        for p in prev.persons:
            if p.track_id is None or p.score < 0.5:
                continue
            overlaps = sorted((iou(np.array(p.box), np.array(q.box)) for q in cur.persons), reverse=True)
            best = max(cur.persons, key=lambda q: iou(np.array(p.box), np.array(q.box)))
            if overlaps[0] > 0.5 and best.score >= 0.5 and (len(overlaps) < 2 or overlaps[1] < 0.3):
                assert best.track_id == p.track_id, f"frame {cur.frame_index}: ID changed"
                links += 1
    assert links >= 2 * 6  # at least the two walkers, linked across 6 consecutive frame pairs
    ids = [{p.track_id for p in f.persons} - {None} for f in frames[1:]]
    assert all(len(s) >= 2 for s in ids)
    for f in frames:  # IDs are unique within a frame
        tracked = [p.track_id for p in f.persons if p.track_id is not None]
        assert len(tracked) == len(set(tracked))
    cap = cv2.VideoCapture(str(vis))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    ok, first = cap.read()
    cap.release()
    assert ok and first.shape == (240, 320 + PANEL_WIDTH, 3)
    assert not list(tmp_path.glob(".*partial*"))  # temporary files were renamed
