"""``hake infer`` end to end: inputs -> jobs -> a pipeline built lazily -> local or Ray runner -> summary."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hake.engine.infer.pipeline import PipelineConfig, build_pipeline
from hake.engine.infer.ray_runner import expand_manifests, run_pipeline_on_ray
from hake.engine.infer.runner import Summary, collect_jobs, run_jobs
from hake.errors import HakeError
from hake.hub import DEFAULT_DETECTOR, DEFAULT_PASTA_MODEL, DEFAULT_POSE


@dataclass
class InferOptions:
    """Everything ``hake infer`` takes besides inputs and output folder (see its ``--help``).

    ``pasta_factory`` builds a ready PaSta model (e.g. an ONNX export) instead of ``pasta_model``/``weights``.
    """

    config: PipelineConfig = field(default_factory=PipelineConfig)
    pasta_model: str = DEFAULT_PASTA_MODEL
    weights: Path | None = None
    detector: str = DEFAULT_DETECTOR
    pose: str = DEFAULT_POSE
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


def pipeline_factory(opts: InferOptions) -> Callable[[], Any]:
    """A function building the pipeline of ``opts`` (called lazily: a fully resumed batch loads no model)."""

    def make() -> Any:
        import torch

        torch.set_num_threads(opts.threads)
        model = opts.pasta_factory() if opts.pasta_factory is not None else None
        return build_pipeline(model, detector=opts.detector, pose=opts.pose, config=opts.config, device=opts.device,
                              threads=opts.threads, pasta_name=opts.pasta_model, weights=opts.weights)

    return make


def infer(inputs: Sequence[Path], out: Path, opts: InferOptions, log: Callable[[str], None] = print) -> Summary:
    """Run the pipeline over ``inputs`` (files, folders, videos, manifests) writing results under ``out``.

    Returns the :class:`Summary`; inputs that could not even be listed are among ``failed``.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(opts.threads))
    jobs, failures = collect_jobs(expand_manifests(list(inputs)), out)
    make = pipeline_factory(opts)
    if opts.engine == "ray":
        report = run_pipeline_on_ray(jobs, make, workers=opts.workers, address=opts.address, save_vis=opts.save_vis,
                                     overwrite=opts.overwrite, max_frames=opts.max_frames,
                                     threads_per_worker=opts.threads)
        log(report.line())
        summary = report.summary()
    elif opts.engine == "local":
        summary = run_jobs(jobs, make, save_vis=opts.save_vis, overwrite=opts.overwrite, progress=opts.progress,
                           max_frames=opts.max_frames)
    else:
        raise HakeError(f"--engine must be local or ray, got {opts.engine!r}")
    summary.failed = failures + summary.failed
    return summary
