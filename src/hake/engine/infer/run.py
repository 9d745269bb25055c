"""``hake infer`` end to end: inputs -> jobs -> a pipeline built lazily -> local or Ray runner -> summary."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hake import hub
from hake.engine.infer.pipeline import PASTA_FAMILIES, PipelineConfig, build_pipeline, perception_preset, split_detector
from hake.engine.infer.ray_runner import expand_manifests, run_pipeline_on_ray
from hake.engine.infer.runner import Summary, collect_inputs, run_jobs
from hake.errors import HakeError
from hake.hub import DEFAULT_DETECTOR, DEFAULT_PASTA_MODEL, DEFAULT_PERCEPTION, DEFAULT_POSE


@dataclass
class InferOptions:
    """Everything ``hake infer`` takes besides inputs and output folder (see its ``--help``).

    ``pasta_factory`` builds a ready PaSta model (e.g. an ONNX export) instead of ``pasta_model``/``weights``.
    ``config.person_threshold`` is used as given with any ``perception``; ``hake infer`` passes the
    preset's when none is asked for (:func:`~hake.engine.infer.pipeline.person_threshold_for`).
    """

    config: PipelineConfig = field(default_factory=PipelineConfig)
    pasta_model: str = DEFAULT_PASTA_MODEL
    weights: Path | None = None
    detector: str = DEFAULT_DETECTOR
    pose: str = DEFAULT_POSE
    perception: str = DEFAULT_PERCEPTION
    device: str = "cpu"
    threads: int = 1
    save_vis: bool = False
    overwrite: bool = False
    max_frames: int | None = None
    progress: bool = True
    engine: str = "local"
    workers: int = 2
    address: str | None = None
    pasta_factory: Callable[[], Any] | None = None
    format: str = "json"  # "json", or "ava": videos also get AVA rows (<name>.ava.csv)


def pipeline_factory(opts: InferOptions) -> Callable[[], Any]:
    """A function building the pipeline of ``opts`` (called lazily: a fully resumed batch loads no model)."""

    def make() -> Any:
        import torch

        torch.set_num_threads(opts.threads)
        model = opts.pasta_factory() if opts.pasta_factory is not None else None
        return build_pipeline(model, detector=opts.detector, pose=opts.pose, config=opts.config, device=opts.device,
                              threads=opts.threads, pasta_name=opts.pasta_model, weights=opts.weights,
                              perception=opts.perception)

    return make


def _check_model(text: str, families: tuple[str, ...], option: str, what: str) -> None:
    """Refuse ``text`` unless it names a zoo model of ``families`` or an existing weight file (no loading)."""
    names = hub.manifest()
    for fam in families:
        if text in names and hub.family_of(text) == fam or f"{fam}.{text}" in names or text == fam:
            return
    if text in names or text in hub.FAMILY_DEFAULTS:
        known = ", ".join(n for fam in families for n in hub.names(fam))
        raise HakeError(f"{option} {text!r} is a {hub.family_of(hub.resolve_name(text))} model, not a {what}; "
                        f"use one of {known}")
    path = Path(text)
    if path.suffix in (".onnx", ".safetensors"):
        if not path.is_file():
            raise HakeError(f"{option}: weight file not found: {path}")
        return
    known = ", ".join(n.split(".", 1)[1] if len(families) == 1 else n for fam in families for n in hub.names(fam))
    raise HakeError(f"{option}: unknown {what} {text!r}; known: {known} (or a weight file)")


def _check_out(out: Path) -> None:
    """Refuse an output folder that is a file or cannot be written (before any model is loaded)."""
    if out.exists() and not out.is_dir():
        raise HakeError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HakeError(f"--out {out}: cannot create the folder ({err.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise HakeError(f"--out {out}: folder is not writable")


def check_options(opts: InferOptions, out: Path) -> None:
    """Validate model names, weight files, the device and the output folder before any model loads.

    Raises:
        HakeError: the first problem found, in words a user can act on.
    """
    from hake.zoo import check_device

    check_device(opts.device)
    if opts.format not in ("json", "ava"):
        raise HakeError(f"--format must be json or ava, got {opts.format!r}")
    if opts.format == "ava" and opts.engine != "local":
        raise HakeError("--format ava runs with --engine local")
    base, sources = split_detector(opts.detector)
    _check_model(base, ("detector",), "--detector", "detector")
    for source in sources:
        _check_model(source, ("pose",), "--detector", "person source")
    _check_model(opts.pose, ("pose",), "--pose", "pose model")
    perception_preset(opts.perception)
    if opts.weights is not None:
        if not Path(opts.weights).is_file():
            raise HakeError(f"--weights: weight file not found: {opts.weights}")
    elif opts.pasta_factory is None:
        _check_model(opts.pasta_model, PASTA_FAMILIES, "--pasta-model", "PaSta model")
    _check_out(out)


def infer(inputs: Sequence[Path], out: Path, opts: InferOptions, log: Callable[[str], None] = print) -> Summary:
    """Run the pipeline over ``inputs`` (files, folders, videos, manifests) writing results under ``out``.

    Returns the :class:`Summary`; inputs that could not even be listed are among ``failed``, files
    of other types found in folders are logged as skipped.

    Raises:
        HakeError: a bad option (model name, weight file, device, output folder), before any model loads.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(opts.threads))
    check_options(opts, out)
    found = collect_inputs(expand_manifests(list(inputs)), out)
    jobs, failures = found.jobs, found.failures
    for path in found.unsupported:
        log(f"skipped: {path}: unsupported file type {path.suffix or '(none)'!r}")
    make = pipeline_factory(opts)
    if opts.engine == "ray":
        report = run_pipeline_on_ray(jobs, make, workers=opts.workers, address=opts.address, save_vis=opts.save_vis,
                                     overwrite=opts.overwrite, max_frames=opts.max_frames,
                                     threads_per_worker=opts.threads)
        log(report.line())
        summary = report.summary()
    elif opts.engine == "local":
        summary = run_jobs(jobs, make, save_vis=opts.save_vis, overwrite=opts.overwrite, progress=opts.progress,
                           max_frames=opts.max_frames, video_format=opts.format)
    else:
        raise HakeError(f"--engine must be local or ray, got {opts.engine!r}")
    summary.failed = failures + summary.failed
    return summary
