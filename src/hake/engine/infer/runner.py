"""Batch inference over files, folders (recursive) and videos, with resume and an error summary.

Each input gets its outputs under the output folder: an image ``a/b.jpg`` given through the folder
``a`` becomes ``OUT/b.json`` (and ``OUT/b.png`` with visualisation), a video ``v.avi`` becomes
``OUT/v.jsonl`` (and ``OUT/v.mp4``). Outputs never replace an input, another input's results or
a file hake did not write: such a name is passed over for the next candidate (``b.jpg.json``,
``b.jpg~2.json``, ...; :mod:`hake.engine.infer.outputs`, which also says how hake recognises its
own outputs). An input whose results exist is skipped unless ``overwrite`` is set. Any error
while processing one input is recorded with its reason and the batch goes on.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hake.datasets import io as _io
from hake.engine.infer.outputs import (
    IMAGE_OUTPUTS,
    Ledgers,
    choose_stem,
    output_of,
    record_output,
    recorded_source,
    same_source,
    video_outputs,
)
from hake.engine.infer.pipeline import Pipeline
from hake.errors import DataError, HakeError
from hake.structures.results import dumps_json

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


@dataclass
class Collection:
    """Inputs expanded into jobs, inputs that failed to list, and folder files of other types."""

    jobs: list[Job] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _walk(root: Path, out_dir: Path, found: Collection, ledgers: Ledgers) -> list[tuple[Path, Path]]:
    """Supported files under ``root`` (sorted; hidden files, the output folder and hake's own
    outputs left out)."""
    pairs: list[tuple[Path, Path]] = []
    skip_out = out_dir.exists() and _inside(out_dir, root) and out_dir.resolve() != root.resolve()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if (skip_out and _inside(p, out_dir)) or p.suffix in (".json", ".jsonl"):
            continue
        if output_of(p, ledgers) is not None:
            continue
        if _kind(p) is None:
            found.unsupported.append(p)
        else:
            pairs.append((p, rel))
    if not pairs:
        found.failures.append(Failure(root, "folder holds no image or video"))
    return pairs


def collect_inputs(inputs: Iterable[Path], out_dir: Path, vis_video_suffix: str = ".mp4") -> Collection:
    """Expand files and folders (recursively, sorted) into jobs with unique output names.

    Missing paths, files of an unsupported type named on the command line and folders without any
    image or video become failures; other files found in folders are listed as unsupported. An
    output name is never an input file nor another job's output (see the module docstring).
    """
    found = Collection()
    listed: list[tuple[Path, Path]] = []
    ledgers = Ledgers()  # each output ledger read once for the whole listing
    for root in inputs:
        root = Path(root)
        if root.is_dir():
            listed.extend(_walk(root, out_dir, found, ledgers))
        elif root.is_file():
            if _kind(root) is None:
                found.failures.append(Failure(root, f"unsupported file type {root.suffix!r}"))
                continue
            listed.append((root, Path(root.name)))
        else:
            found.failures.append(Failure(root, "no such file or folder"))
    taken: set[Path] = {p.resolve() for p, _ in listed}
    seen: set[Path] = set()
    for path, rel in listed:
        if path.resolve() in seen:  # the same file named twice
            continue
        seen.add(path.resolve())
        kind = _kind(path) or "image"
        suffixes = IMAGE_OUTPUTS if kind == "image" else video_outputs(vis_video_suffix)
        stem = choose_stem(out_dir, rel, path, suffixes, taken, ledgers)
        outs = [out_dir / f"{stem}{s}" for s in suffixes]
        taken.update(o.resolve() for o in outs)
        found.jobs.append(Job(path, kind, outs[0], outs[1]))
    return found


def collect_jobs(
    inputs: Iterable[Path], out_dir: Path, vis_video_suffix: str = ".mp4"
) -> tuple[list[Job], list[Failure]]:
    """:func:`collect_inputs` as (jobs, failures)."""
    found = collect_inputs(inputs, out_dir, vis_video_suffix)
    return found.jobs, found.failures


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file (:func:`hake.datasets.io.read_image`).

    Raises:
        DataError: unreadable, truncated, too large, or pixels that cannot be mapped to 8 bits.
    """
    return _io.read_image(path)


def temp_name(path: Path, suffix: str = ".partial") -> Path:
    """A temporary name beside ``path`` unique to this process and call (hidden, ends in ``suffix``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _refuse_input_overwrite(job: Job, out: Path) -> None:
    if out.exists() and out.resolve() == job.source.resolve():
        raise DataError("refusing to write an output over its own input", file=out)


def run_image(pipeline: Pipeline, job: Job, save_vis: bool) -> None:
    """Analyse one image; write its JSON (and PNG overlay) atomically, never over the input."""
    _refuse_input_overwrite(job, job.out_json)
    if save_vis:
        _refuse_input_overwrite(job, job.out_vis)
    image = read_image(job.source)
    result = pipeline(image, source=str(job.source))
    text = dumps_json(result.to_dict(), where=str(job.out_json), indent=1) + "\n"
    if save_vis:
        from hake.viz.overlay import draw_result

        vis = cv2.cvtColor(draw_result(image, result), cv2.COLOR_RGB2BGR)
        job.out_vis.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(job.out_vis, ".partial.png")
        try:
            if not cv2.imwrite(str(tmp), vis):
                raise DataError("cannot write the overlay", file=job.out_vis)
            os.replace(tmp, job.out_vis)
        finally:
            tmp.unlink(missing_ok=True)
        record_output(job.out_vis, job.source)
    _write_atomic(job.out_json, text)
    record_output(job.out_json, job.source)


def resume_state(job: Job) -> str:
    """``"todo"`` (no usable output), ``"done"`` (output of this input) or ``"other"`` (output of another input)."""
    if not job.out_json.exists():
        return "todo"
    recorded = recorded_source(job.out_json)
    if recorded is None:
        return "todo"
    return "done" if same_source(recorded, job.source) else "other"


def _describe(err: Exception) -> str:
    """hake's own messages as they are; other exceptions with their type (``ValueError: ...``)."""
    text = str(err).strip()
    if isinstance(err, HakeError):
        return text or type(err).__name__
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _reason(err: Exception, source: Path) -> str:
    """The error message without a leading ``file <source>:`` (the summary names the file already)."""
    text = _describe(err)
    prefix = f"file {source}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def run_jobs(
    jobs: list[Job],
    make_pipeline: Callable[[], Pipeline],
    save_vis: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    max_frames: int | None = None,
    video_format: str = "json",
) -> Summary:
    """Process ``jobs`` in order; the pipeline is built on the first input that needs it.

    Videos also get ``<name>.segments.json``, with ``save_vis`` a timeline ``<name>.timeline.png``,
    and with ``video_format="ava"`` AVA rows ``<name>.ava.csv`` (:mod:`hake.engine.infer.video`).

    Per input, any error (bad data, a model that cannot predict, a pipeline that cannot be built)
    is recorded in :attr:`Summary.failed` and the batch continues; ``KeyboardInterrupt`` stops it.
    """
    from tqdm import tqdm

    from hake.engine.infer.video import process_video

    summary = Summary()
    pipeline: Pipeline | None = None
    build_error: str | None = None
    bar = tqdm(jobs, desc="hake infer", unit="input", disable=not progress, dynamic_ncols=True)
    for job in bar:
        bar.set_postfix_str(job.source.name, refresh=False)
        if not overwrite:
            state = resume_state(job)
            if state == "done":
                summary.skipped.append(job.source)
                continue
            if state == "other":
                summary.failed.append(Failure(job.source, f"{job.out_json} holds the results of another input "
                                              f"({recorded_source(job.out_json)}); use another --out or --overwrite"))
                continue
        if pipeline is None and build_error is None:
            try:
                pipeline = make_pipeline()
            except Exception as err:  # a bad model file fails every input, with its reason, not the batch
                build_error = f"cannot build the pipeline: {_describe(err)}"
        if pipeline is None:
            summary.failed.append(Failure(job.source, build_error or "no pipeline"))
            continue
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
                                  max_frames=max_frames, on_frame=tick, timeline=save_vis,
                                  ava=video_format == "ava")
                finally:
                    frames.close()
        except Exception as err:  # one input's failure (bad data, a model that cannot predict) is its own
            summary.failed.append(Failure(job.source, _reason(err, job.source)))
            continue
        summary.done.append(job.source)
    return summary
