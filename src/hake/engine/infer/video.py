"""Streaming video inference: frames are decoded one at a time with OpenCV, never all in memory.

Results are written as JSON Lines (one :class:`FrameResult` per line, persons with track IDs) and,
optionally, as an annotated video. Both are written to a temporary name and renamed when the whole
video is done, so an interrupted run leaves no output that a resumed run would skip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hake.engine.infer.pipeline import Pipeline
from hake.engine.infer.tracking import PersonTracker
from hake.errors import DataError


@dataclass
class VideoInfo:
    """Frame rate, size (pixels) and frame count (as the container reports it; may be 0)."""

    fps: float
    width: int
    height: int
    frames: int


def open_video(path: Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open ``path`` for reading; :class:`DataError` if OpenCV cannot decode it."""
    if not Path(path).is_file():
        raise DataError("no such file", file=path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataError("cannot open as a video (unknown container or codec)", file=path)
    info = VideoInfo(
        fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        frames=max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))),
    )
    return cap, info


def iter_frames(path: Path, max_frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (0-based frame index, (H, W, 3) uint8 RGB frame), decoding one frame at a time.

    Raises:
        DataError: the file cannot be opened or holds no decodable frame.
    """
    cap, _ = open_video(path)
    index = 0
    try:
        while max_frames is None or index < max_frames:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise DataError("no decodable frame", file=path)


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def process_video(
    pipeline: Pipeline,
    path: Path,
    out_jsonl: Path,
    out_video: Path | None = None,
    max_frames: int | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> int:
    """Run ``pipeline`` on every frame of ``path`` with person tracking.

    Args:
        pipeline: the configured pipeline.
        path: the input video.
        out_jsonl: JSON Lines output, one :class:`FrameResult` per frame (``frame_index`` 0-based).
        out_video: annotated video (``.mp4`` mp4v or ``.avi`` MJPG), or None.
        max_frames: stop after this many frames (None = all).
        on_frame: progress callback ``(frames done, total frames or 0)``.

    Returns:
        The number of frames processed.
    """
    from hake.viz.overlay import draw_result

    cap, info = open_video(path)
    cap.release()
    tracker = PersonTracker(frame_rate=info.fps or 30.0, activation_threshold=pipeline.config.person_threshold)
    total = min(info.frames, max_frames) if max_frames else info.frames
    out_jsonl.parent.mkdir(parents=True, exist_ok=True)
    tmp_json = _partial(out_jsonl)
    tmp_video = _partial(out_video) if out_video is not None else None
    writer = None
    done = 0
    try:
        with open(tmp_json, "w", encoding="utf-8") as fh:
            for index, frame in iter_frames(path, max_frames):
                result = tracker.update(pipeline(frame, source=str(path), frame_index=index))
                fh.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
                if tmp_video is not None:
                    vis = cv2.cvtColor(draw_result(frame, result, fixed_height=True), cv2.COLOR_RGB2BGR)
                    if writer is None:
                        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if tmp_video.suffix == ".avi" else "mp4v"))
                        writer = cv2.VideoWriter(str(tmp_video), fourcc, info.fps or 10.0, (vis.shape[1], vis.shape[0]))
                        if not writer.isOpened():
                            raise DataError("cannot write video (codec unavailable)", file=out_video)
                    writer.write(vis)
                done = index + 1
                if on_frame is not None:
                    on_frame(done, total)
        if writer is not None:
            writer.release()
            writer = None
            os.replace(tmp_video, out_video)
        os.replace(tmp_json, out_jsonl)
    finally:
        if writer is not None:
            writer.release()
        for tmp in (tmp_json, tmp_video):
            if tmp is not None and tmp.exists():
                tmp.unlink()
    return done
