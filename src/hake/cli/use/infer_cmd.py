"""``hake infer``: persons, body-part states and activities in photos and videos, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import app
from hake.cli.common import guarded
from hake.cli.options import (
    DETECTOR,
    DEVICE,
    OBJECT_THRESHOLD,
    PASTA_MODEL,
    PERCEPTION,
    PERSON_THRESHOLD,
    POSE,
    PROGRESS,
    THREADS,
    WEIGHTS,
)


@app.command("infer")
@guarded
def infer_command(
    inputs: list[Path] = typer.Argument(..., help="Image files, folders (searched recursively), videos and "
                                        "manifests (.txt: one input per line, relative to the manifest)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for JSON / JSON Lines and overlays."),
    save_vis: bool = typer.Option(False, "--save-vis", help="Also write overlays (.png per image, .mp4 per video)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo inputs whose output already exists."),
    pasta_model: str = PASTA_MODEL,
    weights: Path | None = WEIGHTS,
    detector: str = DETECTOR,
    pose: str = POSE,
    device: str = DEVICE,
    threads: int = THREADS,
    perception: str = PERCEPTION,
    person_threshold: float | None = PERSON_THRESHOLD,
    object_threshold: float = OBJECT_THRESHOLD,
    hoi_threshold: float = typer.Option(0.01, "--hoi-threshold", min=0.0, max=1.0,
                                        help="Minimum HOI score (person score x object score x probability)."),
    top_states: int = typer.Option(3, "--top-states", min=1, help="States reported per body-part group."),
    top_hois: int = typer.Option(5, "--top-hois", min=1, help="HOIs reported per person-object pair."),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Stop each video after N frames."),
    progress: bool = PROGRESS,
    engine: str = typer.Option("local", "--engine", help="local (this process) or ray (Ray Data workers)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Ray workers (--engine ray)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address; default: a local Ray."),
    onnx: Path | None = typer.Option(None, "--onnx", help="Run an exported PaSta model (hake export onnx)."),
    fmt: str = typer.Option("json", "--format", help="json, or ava: videos also get AVA rows <name>.ava.csv "
                            "(with a label map for hake eval ava)."),
) -> None:
    """Find every person, their body-part states (PaSta) and activities (HOIs) in images and videos.

    Writes OUT/<name>.json per image and OUT/<name>.jsonl per video (one frame per line, persons
    with track IDs). Inputs whose output exists are skipped (resume); unreadable inputs are listed
    at the end and make the exit status 1.
    """
    from hake.engine.infer.pipeline import PipelineConfig, person_threshold_for
    from hake.engine.infer.run import InferOptions, infer

    config = PipelineConfig(
        person_threshold=person_threshold_for(person_threshold, perception), object_threshold=object_threshold,
        hoi_threshold=hoi_threshold,
        top_states=top_states, top_hois=top_hois,
    )
    pasta_factory = None
    if onnx is not None:
        from hake.export.runtime import OnnxPastaModel

        def pasta_factory() -> OnnxPastaModel:
            return OnnxPastaModel(onnx, threads=threads, device=device)

    opts = InferOptions(config=config, pasta_model=pasta_model, weights=weights, detector=detector, pose=pose,
                        perception=perception, device=device, threads=threads, save_vis=save_vis,
                        overwrite=overwrite, max_frames=max_frames, progress=progress, engine=engine,
                        workers=workers, address=address, pasta_factory=pasta_factory, format=fmt)
    summary = infer(inputs, out, opts, log=lambda line: typer.echo(line, err=True))
    typer.echo(f"{len(summary.done)} done, {len(summary.skipped)} skipped (output exists), "
               f"{len(summary.failed)} failed; results in {out}", err=True)
    for f in summary.failed:
        typer.echo(f"failed: {f.source}: {f.reason}", err=True)
    if summary.failed:
        raise typer.Exit(1)
