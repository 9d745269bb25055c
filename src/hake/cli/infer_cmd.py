"""``hake infer``: persons, body-part states and activities in photos and videos, offline."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from hake.cli.apps import app
from hake.cli.common import guarded
from hake.errors import HakeError


@app.command("infer")
@guarded
def infer_command(
    inputs: list[Path] = typer.Argument(..., help="Image files, folders (searched recursively), videos and "
                                        "manifests (.txt: one input per line, relative to the manifest)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for JSON / JSON Lines and overlays."),
    save_vis: bool = typer.Option(False, "--save-vis", help="Also write overlays (.png per image, .mp4 per video)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo inputs whose output already exists."),
    pasta_model: str = typer.Option("spatial_pasta.hake_hicodet", "--pasta-model", help="Zoo name of the PaSta model."),
    weights: Path | None = typer.Option(None, "--weights", help="Trained Activity2Vec weights (.safetensors)."),
    detector: str = typer.Option("nanodet_m", "--detector", help="Detector: nanodet_m or an .onnx file."),
    pose: str = typer.Option("movenet_lightning", "--pose",
                             help="Pose model: movenet_lightning, movenet_thunder or movenet_multipose."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    threads: int = typer.Option(1, "--threads", min=1, help="CPU threads for the models."),
    person_threshold: float = typer.Option(0.35, "--person-threshold", min=0.0, max=1.0),
    object_threshold: float = typer.Option(0.25, "--object-threshold", min=0.0, max=1.0),
    hoi_threshold: float = typer.Option(0.01, "--hoi-threshold", min=0.0, max=1.0,
                                        help="Minimum HOI score (person score x object score x probability)."),
    top_states: int = typer.Option(3, "--top-states", min=1, help="States reported per body-part group."),
    top_hois: int = typer.Option(5, "--top-hois", min=1, help="HOIs reported per person-object pair."),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Stop each video after N frames."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    engine: str = typer.Option("local", "--engine", help="local (this process) or ray (Ray Data workers)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Ray workers (--engine ray)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address; default: a local Ray."),
    onnx: Path | None = typer.Option(None, "--onnx", help="Run an exported PaSta model (hake export onnx)."),
) -> None:
    """Find every person, their body-part states (PaSta) and activities (HOIs) in images and videos.

    Writes OUT/<name>.json per image and OUT/<name>.jsonl per video (one frame per line, persons
    with track IDs). Inputs whose output exists are skipped (resume); unreadable inputs are listed
    at the end and make the exit status 1.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from hake.engine.pipeline import PipelineConfig, build_pipeline
    from hake.engine.runner import collect_jobs, run_jobs

    config = PipelineConfig(
        person_threshold=person_threshold, object_threshold=object_threshold, hoi_threshold=hoi_threshold,
        top_states=top_states, top_hois=top_hois,
    )

    def make_pipeline():  # built lazily: a fully resumed batch loads no model
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        onnx_model = None
        if onnx is not None:
            from hake.export.runtime import OnnxPastaModel

            onnx_model = OnnxPastaModel(onnx, threads=threads, device=device)
        return build_pipeline(onnx_model, detector=detector, pose=pose, config=config, device=device,
                              threads=threads, pasta_name=pasta_model, weights=weights)

    from hake.engine.batch import expand_manifests, run_pipeline_on_ray

    jobs, failures = collect_jobs(expand_manifests(inputs), out)
    if engine == "ray":
        report = run_pipeline_on_ray(jobs, make_pipeline, workers=workers, address=address, save_vis=save_vis,
                                     overwrite=overwrite, max_frames=max_frames, threads_per_worker=threads)
        typer.echo(report.line(), err=True)
        summary = report.summary()
    elif engine == "local":
        summary = run_jobs(jobs, make_pipeline, save_vis=save_vis, overwrite=overwrite, progress=progress,
                           max_frames=max_frames)
    else:
        raise HakeError(f"--engine must be local or ray, got {engine!r}")
    summary.failed = failures + summary.failed
    typer.echo(f"{len(summary.done)} done, {len(summary.skipped)} skipped (output exists), "
               f"{len(summary.failed)} failed; results in {out}", err=True)
    for f in summary.failed:
        typer.echo(f"failed: {f.source}: {f.reason}", err=True)
    if summary.failed:
        raise typer.Exit(1)
