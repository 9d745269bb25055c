"""Streaming video inference: frames are decoded one at a time with OpenCV, never all in memory.

Outputs of a video ``v`` (``out_jsonl`` = ``OUT/v.jsonl``):

- ``v.jsonl``: one :class:`FrameResult` per line (raw per-frame values, persons with track IDs);
- ``v.segments.json``: per track the smoothed part states and activities, and the activity
  segments (:mod:`hake.engine.infer.segments`);
- optionally ``v.mp4`` (H.264, yuv420p, ``faststart``: plays in browsers; written through PyAV),
  ``v.timeline.png`` (tracks x time, :mod:`hake.viz.timeline`) and ``v.ava.csv`` (AVA rows).

While a video runs its frames go to ``v.partial.jsonl``, one flushed line per frame. Only a video
read to its end becomes ``v.jsonl`` (which is what resume looks for). A video that ends before the
frame count its container announces, a Ctrl-C or any other error leaves ``v.partial.jsonl`` with
the frames done and a last status line ``{"partial": true, "reason": ..., "frames_read": ...,
"frames_expected": ...}`` (and a playable ``v.partial.mp4``); a truncated video then raises
:class:`DataError` naming frames read against expected, so the batch lists it as failed (exit
status 1) and a resumed run does it again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hake.engine.infer.outputs import record_output
from hake.engine.infer.pipeline import Pipeline
from hake.engine.infer.tracking import PersonTracker
from hake.errors import DataError
from hake.structures import FrameResult
from hake.structures.results import dumps_json

#: A container's frame count may be an estimate (duration x fps) for some formats: a video counts
#: as truncated when it yields fewer than ``expected - max(1, 1 % of expected)`` frames.
TRUNCATION_TOLERANCE = 0.01


@dataclass
class VideoInfo:
    """Frame rate, size (pixels) and frame count (as the container reports it; may be 0)."""

    fps: float
    width: int
    height: int
    frames: int


@dataclass
class VideoReport:
    """What :func:`process_video` did: frames read, frames the container announced (0 = unknown)."""

    frames: int
    expected: int
    fps: float
    segments: dict[str, Any]


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


def is_truncated(read: int, expected: int) -> bool:
    """True when ``read`` frames fall short of the ``expected`` count (0 = unknown: never truncated)."""
    return expected > 0 and read < expected - max(1, int(TRUNCATION_TOLERANCE * expected))


def partial_path(path: Path) -> Path:
    """``OUT/v.jsonl`` -> ``OUT/v.partial.jsonl`` (where an unfinished video's output lives)."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def sibling(out_jsonl: Path, suffix: str) -> Path:
    """``OUT/v.jsonl`` -> ``OUT/v<suffix>`` (e.g. ``.segments.json``, ``.timeline.png``, ``.ava.csv``)."""
    return out_jsonl.with_name(out_jsonl.stem + suffix)


def read_frames(path: Path) -> Iterator[FrameResult]:
    """The frames of a ``.jsonl`` written by :func:`process_video` (a partial file's status line skipped).

    Raises:
        DataError: a line is not JSON or not a frame (names file and line).
    """
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                if isinstance(d, dict) and d.get("partial") is True:
                    continue
                yield FrameResult.from_dict(d)
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise DataError(f"not a frame result: {err}", file=path, record=f"line {n}") from None


class H264Writer:
    """Annotated frames to an H.264 MP4 (yuv420p, ``+faststart``) through PyAV; plays in browsers.

    Frames are (H, W, 3) uint8 RGB; odd sizes are padded by one black pixel row/column.
    """

    def __init__(self, path: Path, fps: float) -> None:
        import av

        self.path = path
        self._container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        self._stream: Any = None
        self._rate = Fraction(fps if fps and fps > 0 else 10.0).limit_denominator(1001)

    def write(self, rgb: np.ndarray) -> None:
        """Encode one frame (every frame must have the size of the first)."""
        import av

        h, w = rgb.shape[:2]
        if self._stream is None:
            self._stream = self._container.add_stream("libx264", rate=self._rate)
            self._stream.width, self._stream.height = w + w % 2, h + h % 2
            self._stream.pix_fmt = "yuv420p"
            self._stream.codec_context.thread_count = 1
            self._stream.options = {"crf": "23", "preset": "veryfast"}
        if w % 2 or h % 2:
            rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the file (playable even after an interruption)."""
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()


class MjpgWriter:
    """Annotated frames to an MJPG ``.avi`` through OpenCV (frames (H, W, 3) uint8 RGB)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps if fps and fps > 0 else 10.0
        self._writer: cv2.VideoWriter | None = None

    def write(self, rgb: np.ndarray) -> None:
        """Encode one frame."""
        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"MJPG"), self.fps,
                                           (rgb.shape[1], rgb.shape[0]))
            if not self._writer.isOpened():
                raise DataError("cannot write video (codec unavailable)", file=self.path)
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.release()


def _writer(path: Path, fps: float) -> H264Writer | MjpgWriter:
    return MjpgWriter(path, fps) if path.suffix.lower() == ".avi" else H264Writer(path, fps)


def _status(reason: str, read: int, expected: int) -> str:
    return json.dumps({"partial": True, "reason": reason, "frames_read": read, "frames_expected": expected}) + "\n"


def process_video(
    pipeline: Pipeline,
    path: Path,
    out_jsonl: Path,
    out_video: Path | None = None,
    max_frames: int | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    timeline: bool = False,
    ava: bool = False,
) -> VideoReport:
    """Run ``pipeline`` on every frame of ``path`` with person tracking; write the outputs above.

    Args:
        pipeline: the configured pipeline.
        path: the input video.
        out_jsonl: JSON Lines output, one :class:`FrameResult` per frame (``frame_index`` 0-based).
        out_video: annotated video (``.mp4`` H.264 or ``.avi`` MJPG), or None.
        max_frames: stop after this many frames (None = all; a stop here is not a truncation).
        on_frame: progress callback ``(frames done, total frames or 0)``.
        timeline: also write ``<name>.timeline.png``.
        ava: also write ``<name>.ava.csv`` (AVA rows, :func:`hake.engine.infer.segments.ava_rows`).

    Returns:
        Frames read and expected, the frame rate and the segments document.

    Raises:
        DataError: the video cannot be opened, has no frame, or ends early (partial output kept).
    """
    from hake.engine.infer.segments import SegmentBuilder, write_ava_csv

    cap, info = open_video(path)
    cap.release()
    fps = info.fps or 10.0
    tracker = PersonTracker(frame_rate=fps, activation_threshold=pipeline.config.person_threshold)
    expected = min(info.frames, max_frames) if max_frames else info.frames
    out_jsonl.parent.mkdir(parents=True, exist_ok=True)
    tmp_json = partial_path(out_jsonl)
    tmp_video = partial_path(out_video) if out_video is not None else None
    writer = _writer(tmp_video, fps) if tmp_video is not None else None
    builder = SegmentBuilder(fps=fps, video=path.stem)
    done = 0
    status = "interrupted"
    drop = False  # an input that yields no frame at all leaves nothing behind
    with open(tmp_json, "w", encoding="utf-8") as fh:
        try:
            for index, frame in iter_frames(path, max_frames):
                result = tracker.update(pipeline(frame, source=str(path), frame_index=index))
                fh.write(dumps_json(result.to_dict(), where=f"{out_jsonl} frame {index}", separators=(",", ":")) + "\n")
                fh.flush()
                builder.add(result)
                if writer is not None:
                    writer.write(_overlay(frame, result))
                done = index + 1
                if on_frame is not None:
                    on_frame(done, expected)
            status = "truncated" if is_truncated(done, expected) and max_frames is None else "complete"
        except BaseException as err:
            status = "interrupted" if isinstance(err, KeyboardInterrupt) else f"error: {err}"
            drop = done == 0 and not isinstance(err, KeyboardInterrupt)
            raise
        finally:
            if writer is not None:
                writer.close()
            if drop:
                for tmp in (tmp_json, tmp_video):
                    if tmp is not None:
                        tmp.unlink(missing_ok=True)
            elif status != "complete":
                fh.write(_status(status, done, expected))
                fh.flush()
                for tmp in (tmp_json, tmp_video):  # the partial outputs stay this input's
                    if tmp is not None and tmp.is_file():
                        record_output(tmp, path)
    if status == "truncated":
        raise DataError(f"video ended early: {done} of {expected} frames read "
                        f"(frames done are in {tmp_json.name})", file=path)
    segments = builder.finish()
    written = [sibling(out_jsonl, ".segments.json")]
    _write_json(written[0], segments)
    if timeline:
        from hake.viz.timeline import save_timeline

        written.append(sibling(out_jsonl, ".timeline.png"))
        save_timeline(segments, written[-1])
    if ava:
        written += [sibling(out_jsonl, ".ava.csv"), sibling(out_jsonl, ".ava.labelmap.pbtxt")]
        write_ava_csv(builder.ava_rows(), written[-2])
    if tmp_video is not None and out_video is not None:
        os.replace(tmp_video, out_video)
        written.append(out_video)
    os.replace(tmp_json, out_jsonl)
    for out in [*written, out_jsonl]:
        record_output(out, path)
    return VideoReport(frames=done, expected=expected, fps=fps, segments=segments)


def _overlay(frame: np.ndarray, result: FrameResult) -> np.ndarray:
    from hake.viz.overlay import draw_result

    return draw_result(frame, result, fixed_height=True)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(dumps_json(data, where=str(path), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
