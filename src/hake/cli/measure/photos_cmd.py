"""``hake benchmark photos``: the ``hake infer`` pipeline on a COCO-format folder of real photos."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import benchmark_app
from hake.cli.common import guarded, write_json
from hake.hub import DEFAULT_DETECTOR, DEFAULT_PASTA_MODEL, DEFAULT_PERSON_THRESHOLD, DEFAULT_POSE


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
    pasta_model: str = typer.Option(DEFAULT_PASTA_MODEL, "--pasta-model", help="Zoo name of the PaSta model."),
    weights: Path | None = typer.Option(None, "--weights", help="Trained Activity2Vec weights (.safetensors)."),
    detector: str = typer.Option(DEFAULT_DETECTOR, "--detector",
                                 help="nanodet_m or an .onnx file; +movenet_multipose fuses its persons (default)."),
    pose: str = typer.Option(DEFAULT_POSE, "--pose",
                             help="Pose model: movenet_lightning, movenet_thunder or movenet_multipose."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    threads: int = typer.Option(1, "--threads", min=1, help="CPU threads for the models."),
    person_threshold: float = typer.Option(DEFAULT_PERSON_THRESHOLD, "--person-threshold", min=0.0, max=1.0,
                                           help="Minimum person score (fused scale with the default detector)."),
    object_threshold: float = typer.Option(0.25, "--object-threshold", min=0.0, max=1.0),
    hoi_threshold: float = typer.Option(0.0, "--hoi-threshold", min=0.0, max=1.0,
                                        help="Minimum HOI score scored (default 0: every HOI of each pair)."),
    top_hois: int = typer.Option(600, "--top-hois", min=1, help="HOIs scored per person-object pair."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Box AP, person AP/AR, keypoint AP, HOI mAP, PaSta AP and seconds per photo of the inference pipeline."""
    import torch
    from rich.console import Console
    from rich.progress import Progress

    from hake.engine.bench.photos import load_photo_set, report_table, run_photos_benchmark
    from hake.engine.infer.pipeline import PipelineConfig, build_pipeline

    torch.set_num_threads(threads)
    photos = load_photo_set(images, instances, keypoints, labels, max_images)
    config = PipelineConfig(person_threshold=person_threshold, object_threshold=object_threshold,
                            hoi_threshold=hoi_threshold, top_hois=top_hois)
    pipe = build_pipeline(None, detector=detector, pose=pose, config=config, device=device, threads=threads,
                          pasta_name=pasta_model, weights=weights)
    console = Console(stderr=True)
    with Progress(console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task("hake benchmark photos", total=len(photos.image_ids))
        report = run_photos_benchmark(pipe, photos, on_image=lambda done, total: bar.update(task, completed=done))
    report.update({"detector": detector, "pose": pose, "pasta_model": str(weights or pasta_model),
                   "instances": instances.name})
    console.print(report_table(report, f"{images.name}: {detector} + {pose}, {report['images']} photos"))
    write_json(report, json_out)
