"""``hake benchmark photos``: the ``hake infer`` pipeline on a COCO-format folder of real photos."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import benchmark_app
from hake.cli.common import guarded, write_json
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


@benchmark_app.command("photos")
@guarded
def benchmark_photos(
    images: Path = typer.Option(..., "--images", exists=True, file_okay=False, help="Folder of the photos."),
    instances: Path = typer.Option(..., "--instances", exists=True, dir_okay=False,
                                   help="COCO instances JSON of these photos (boxes of the 80 classes)."),
    keypoints: Path | None = typer.Option(None, "--keypoints", exists=True, dir_okay=False,
                                          help="COCO person keypoints JSON (for keypoint AP)."),
    labels: Path | None = typer.Option(None, "--labels", exists=True, dir_okay=False,
                                       help="HOI and part-state labels (hoi_labels_*.json) for HOI and PaSta AP."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report here (default: stdout)."),
    max_images: int = typer.Option(0, "--max-images", min=0, help="Benchmark the first N photos only (0 = all)."),
    pasta_model: str = PASTA_MODEL,
    weights: Path | None = WEIGHTS,
    detector: str = DETECTOR,
    pose: str = POSE,
    device: str = DEVICE,
    threads: int = THREADS,
    perception: str = PERCEPTION,
    person_threshold: float | None = PERSON_THRESHOLD,
    object_threshold: float = OBJECT_THRESHOLD,
    hoi_threshold: float = typer.Option(0.0, "--hoi-threshold", min=0.0, max=1.0,
                                        help="Minimum HOI score scored (default 0: every HOI of each pair)."),
    top_hois: int = typer.Option(600, "--top-hois", min=1, help="HOIs scored per person-object pair."),
    progress: bool = PROGRESS,
) -> None:
    """Box AP, person AP/AR, keypoint AP, HOI mAP, PaSta AP and seconds per photo of the inference pipeline."""
    import torch
    from rich.console import Console
    from rich.progress import Progress

    from hake.engine.bench.photos import load_photo_set, report_table, run_photos_benchmark
    from hake.engine.infer.pipeline import PipelineConfig, build_pipeline, person_threshold_for

    torch.set_num_threads(threads)
    photos = load_photo_set(images, instances, keypoints, labels, max_images)
    config = PipelineConfig(person_threshold=person_threshold_for(person_threshold, perception),
                            object_threshold=object_threshold, hoi_threshold=hoi_threshold, top_hois=top_hois)
    pipe = build_pipeline(None, detector=detector, pose=pose, config=config, device=device, threads=threads,
                          pasta_name=pasta_model, weights=weights, perception=perception)
    console = Console(stderr=True)
    with Progress(console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task("hake benchmark photos", total=len(photos.image_ids))
        report = run_photos_benchmark(pipe, photos, on_image=lambda done, total: bar.update(task, completed=done))
    report.update({"detector": detector, "pose": pose, "perception": perception,
                   "pasta_model": str(weights or pasta_model), "instances": instances.name})
    console.print(report_table(report, f"{images.name}: {detector} + {pose} ({perception}), {report['images']} photos"))
    write_json(report, json_out)
