"""The work of one request, run on a pool thread: an uploaded image or video -> hake's JSON.

An image answers exactly the JSON ``hake infer`` writes for it (plus ``overlay``, a PNG data URL,
when asked). A video answers ``{"kind": "video", "source", "fps", "frames": [...one FrameResult
per frame...], "segments": {...the segments document...}}`` (plus ``overlay`` of the frame with
the most persons and ``timeline``, PNG data URLs, when asked).
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hake.datasets.io import read_image
from hake.engine.infer.pipeline import Pipeline, PipelineConfig
from hake.engine.infer.video import open_video, process_video, sibling
from hake.serve.uploads import UploadError


@dataclass
class Limits:
    """What one request may ask: pixels per image or frame, frames per video."""

    max_pixels: int = 40_000_000
    max_video_frames: int = 600


def _png_data_url(rgb: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        raise RuntimeError("cannot encode the overlay")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _with_config(pipeline: Pipeline, config: PipelineConfig) -> Pipeline:
    """The pool's pipeline with this request's thresholds (models shared, nothing reloaded)."""
    return Pipeline(pipeline.detector, pipeline.pose, pipeline.pasta_model, config)


def check_image_size(path: Path, limits: Limits) -> None:
    """413 when the image header announces more than ``limits.max_pixels`` (nothing decoded yet)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
    except Image.DecompressionBombError as err:
        raise UploadError(413, f"image too large: {err}") from None
    except Exception:  # undecodable: read_image gives the message (422)
        return
    if w * h > limits.max_pixels:
        raise UploadError(413, f"image is {w}x{h} = {w * h:,} pixels, more than the {limits.max_pixels:,} allowed")


def analyse_image(pipeline: Pipeline, path: Path, source: str, config: PipelineConfig, limits: Limits,
                  vis: bool) -> dict[str, Any]:
    """hake's JSON of one image file (``source`` is the name recorded and shown)."""
    check_image_size(path, limits)
    image = read_image(path, max_pixels=limits.max_pixels)
    result = _with_config(pipeline, config)(image, source=source)
    out = result.to_dict()
    if vis:
        from hake.viz.overlay import draw_result

        out["overlay"] = _png_data_url(draw_result(image, result))
    return out


def analyse_video(pipeline: Pipeline, path: Path, source: str, config: PipelineConfig, limits: Limits,
                  vis: bool, max_frames: int | None) -> dict[str, Any]:
    """Frames and segments of one short video file (at most ``limits.max_video_frames`` frames)."""
    cap, info = open_video(path)
    cap.release()
    if info.width * info.height > limits.max_pixels:
        raise UploadError(413, f"video frames are {info.width}x{info.height}, more than the "
                               f"{limits.max_pixels:,} pixels allowed")
    wanted = min(max_frames or limits.max_video_frames, limits.max_video_frames)
    if info.frames > limits.max_video_frames and (max_frames is None or max_frames > limits.max_video_frames):
        raise UploadError(413, f"video has {info.frames} frames, more than the {limits.max_video_frames} allowed "
                               f"(ask for fewer with max_frames)")
    work = Path(tempfile.mkdtemp(prefix="video-", dir=path.parent))
    try:
        out_jsonl = work / "video.jsonl"
        report = process_video(_with_config(pipeline, config), path, out_jsonl, max_frames=wanted,
                               timeline=vis)
        frames = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines() if line]
        for f in frames:
            f["source"] = source
        segments = dict(report.segments, video=source)
        out: dict[str, Any] = {"kind": "video", "source": source, "fps": report.fps, "width": info.width,
                               "height": info.height, "frames": frames, "segments": segments}
        if vis:
            out["timeline"] = "data:image/png;base64," + base64.b64encode(
                sibling(out_jsonl, ".timeline.png").read_bytes()).decode("ascii")
            out["overlay"] = _busiest_overlay(path, frames)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _busiest_overlay(path: Path, frames: list[dict[str, Any]]) -> str:
    """Overlay of the frame with the most persons (decoded again; the video is short)."""
    from hake.engine.infer.video import iter_frames
    from hake.structures import FrameResult
    from hake.viz.overlay import draw_result

    best = max(range(len(frames)), key=lambda i: (len(frames[i]["persons"]), -i))
    for index, rgb in iter_frames(path, best + 1):
        if index == best:
            return _png_data_url(draw_result(rgb, FrameResult.from_dict(frames[best])))
    return ""  # pragma: no cover - the frame was decoded once already


def request_config(base: PipelineConfig, **options: Any) -> PipelineConfig:
    """``base`` with the options a request gave (None = keep the server's)."""
    return replace(base, **{k: v for k, v in options.items() if v is not None})
