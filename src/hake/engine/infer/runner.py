"""Batch inference over files, folders (recursive) and videos, with resume and an error summary.

Each input gets its outputs under the output folder: an image ``a/b.jpg`` given through the folder
``a`` becomes ``OUT/b.json`` (and ``OUT/b.png`` with visualisation), a video ``v.avi`` becomes
``OUT/v.jsonl`` (and ``OUT/v.mp4``). An input whose JSON output exists is skipped unless
``overwrite`` is set. A corrupt or unreadable input is recorded with its reason and the batch goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hake.engine.infer.pipeline import Pipeline
from hake.errors import DataError, HakeError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})


@dataclass
class Job:
    """One input and where its outputs go."""

    source: Path
    kind: str  # "image" or "video"
    out_json: Path
    out_vis: Path


@dataclass
class Failure:
    """An input that could not be processed, and why."""

    source: Path
    reason: str


@dataclass
class Summary:
    """What a batch did: inputs processed, skipped (output existed) and failed."""

    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no input failed."""
        return not self.failed


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def collect_jobs(
    inputs: Iterable[Path], out_dir: Path, vis_video_suffix: str = ".mp4"
) -> tuple[list[Job], list[Failure]]:
    """Expand files and folders (recursively, sorted) into jobs; missing paths become failures.

    Files inside a folder keep their path relative to that folder; outputs that would collide get
    the input's suffix in their name (``b.png.json``).
    """
    jobs: list[Job] = []
    failures: list[Failure] = []
    taken: set[Path] = set()
    for root in inputs:
        root = Path(root)
        if root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file() and _kind(p))
            pairs = [(p, p.relative_to(root)) for p in files]
        elif root.is_file():
            if _kind(root) is None:
                failures.append(Failure(root, f"unsupported file type {root.suffix!r}"))
                continue
            pairs = [(root, Path(root.name))]
        else:
            failures.append(Failure(root, "no such file or folder"))
            continue
        for path, rel in pairs:
            kind = _kind(path)
            stem = rel.with_suffix("")
            if (out_dir / stem) in taken:
                stem = rel.with_name(rel.name)
            taken.add(out_dir / stem)
            if kind == "image":
                jobs.append(Job(path, kind, out_dir / f"{stem}.json", out_dir / f"{stem}.png"))
            else:
                jobs.append(Job(path, kind, out_dir / f"{stem}.jsonl", out_dir / f"{stem}{vis_video_suffix}"))
    return jobs, failures


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file, EXIF orientation applied.

    Raises:
        DataError: the file cannot be read or decoded, or is truncated.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            rgb = ImageOps.exif_transpose(im).convert("RGB")
    except UnidentifiedImageError:
        raise DataError("not a readable image (unknown or corrupt format)", file=path) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"cannot decode image: {err}", file=path) from None
    return np.asarray(rgb, dtype=np.uint8)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_image(pipeline: Pipeline, job: Job, save_vis: bool) -> None:
    """Analyse one image; write its JSON (and PNG overlay) atomically."""
    image = read_image(job.source)
    result = pipeline(image, source=str(job.source))
    if save_vis:
        from hake.viz.overlay import draw_result

        vis = cv2.cvtColor(draw_result(image, result), cv2.COLOR_RGB2BGR)
        job.out_vis.parent.mkdir(parents=True, exist_ok=True)
        tmp = job.out_vis.with_name(f".{job.out_vis.stem}.partial.png")
        if not cv2.imwrite(str(tmp), vis):
            raise DataError("cannot write the overlay", file=job.out_vis)
        os.replace(tmp, job.out_vis)
    _write_atomic(job.out_json, json.dumps(result.to_dict(), indent=1) + "\n")


def _reason(err: Exception, source: Path) -> str:
    """The error message without a leading ``file <source>:`` (the summary names the file already)."""
    text = str(err).strip() or type(err).__name__
    prefix = f"file {source}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def run_jobs(
    jobs: list[Job],
    make_pipeline: Callable[[], Pipeline],
    save_vis: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    max_frames: int | None = None,
) -> Summary:
    """Process ``jobs`` in order; the pipeline is built on the first input that needs it.

    Per input, bad data (:class:`HakeError`, OS errors, OpenCV decode errors) is recorded in
    :attr:`Summary.failed` and the batch continues.
    """
    from tqdm import tqdm

    from hake.engine.infer.video import process_video

    summary = Summary()
    pipeline: Pipeline | None = None
    bar = tqdm(jobs, desc="hake infer", unit="input", disable=not progress, dynamic_ncols=True)
    for job in bar:
        bar.set_postfix_str(job.source.name, refresh=False)
        if job.out_json.exists() and not overwrite:
            summary.skipped.append(job.source)
            continue
        if pipeline is None:
            pipeline = make_pipeline()
        try:
            if job.kind == "image":
                run_image(pipeline, job, save_vis)
            else:
                frames = tqdm(desc=job.source.name, unit="frame", leave=False, disable=not progress)

                def tick(done: int, total: int, frames: tqdm = frames) -> None:
                    frames.total = total or None
                    frames.update(done - frames.n)

                try:
                    process_video(pipeline, job.source, job.out_json, job.out_vis if save_vis else None,
                                  max_frames=max_frames, on_frame=tick)
                finally:
                    frames.close()
        except (HakeError, OSError, cv2.error) as err:
            summary.failed.append(Failure(job.source, _reason(err, job.source)))
            continue
        summary.done.append(job.source)
    return summary
