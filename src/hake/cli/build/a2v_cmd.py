"""Activity2Vec commands: ``hake data synth``, ``hake data keypoints``, ``hake train a2v``,
``hake features extract``."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import data_app, features_app, train_app
from hake.cli.common import guarded, write_json


@data_app.command("synth")
@guarded
def synth_command(
    out: Path = typer.Option(..., "--out", help="Folder to write images/, train.json, test.json, keypoints.json."),
    n: int = typer.Option(400, "--n", help="Number of images."),
    size: int = typer.Option(128, "--size", help="Image side in pixels."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Draw a synthetic HAKE-HICO-DET set whose part states are visible by construction.

    For smoke tests of training only: figures on it are not benchmarks.
    """
    from hake.datasets.builders.synth import generate

    meta = generate(out, n, size=size, seed=seed)
    typer.echo(f"wrote {meta['n']} images ({meta['n_test']} held out) to {out}")


@data_app.command("keypoints")
@guarded
def keypoints_command(
    images: Path = typer.Argument(..., help="Folder of images (searched recursively)."),
    out: Path = typer.Option(..., "--out", help="Keypoint cache file to write (JSON)."),
    annotation: Path | None = typer.Option(None, "--annotation", help="Instance-level annotation: pose its "
                                           "human boxes instead of detected persons."),
    pose: str = typer.Option("movenet_thunder", "--pose", help="Pose model (zoo short name)."),
    detector: str = typer.Option("nanodet_m", "--detector", help="Person detector when no annotation is given."),
    threads: int = typer.Option(1, "--threads", help="onnxruntime threads."),
) -> None:
    """Fill a keypoint cache with the pipeline's pose estimator."""
    from hake.engine.train.keypoints import annotated_person_boxes, fill_keypoint_cache, image_files
    from hake.zoo import create_model

    boxes = annotated_person_boxes(annotation) if annotation else None
    det = None if boxes is not None else create_model(detector, family="detector", threads=threads)
    n = fill_keypoint_cache(image_files(images), out, create_model(pose, family="pose", threads=threads),
                            detector=det, boxes=boxes)
    typer.echo(f"cached poses of {n} images in {out}")


@train_app.command("a2v")
@guarded
def train_a2v_command(
    config: Path | None = typer.Option(None, "--config", help="YAML config (see configs/a2v_*.yaml)."),
    data: Path | None = typer.Option(None, "--data", help="Dataset folder (overrides data.root); a folder "
                                     "from `hake data synth` gets the synthetic defaults."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (overrides out)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs."),
    resume: str | None = typer.Option(None, "--resume", help="Checkpoint to resume, or 'last'."),
    progress: bool = typer.Option(False, "--progress", help="Show Lightning's progress bar."),
) -> None:
    """Train Activity2Vec / PaSta-R; writes RUN/metrics.json and RUN/model.safetensors.

    On a `hake data synth` folder the run is a smoke test, and metrics.json says so (`smoke_test`).
    """
    from hake.engine.train.a2v import train
    from hake.engine.train.a2v_config import resolve_config

    cfg = resolve_config(config, data=data, out=out, epochs=epochs, resume=resume)
    metrics = train(cfg, progress=progress)
    metrics.pop("loss_history", None)
    write_json(metrics, None)


@features_app.command("extract")
@guarded
def features_extract_command(
    weights: Path = typer.Option(..., "--weights", help="Trained Activity2Vec model.safetensors."),
    data: Path = typer.Option(..., "--data", help="Dataset folder (images + annotation)."),
    out: Path = typer.Option(..., "--out", help="Cache folder to write (index.json + shards)."),
    split: str = typer.Option("train.json", "--split", help="Annotation file inside --data."),
    keypoints: str = typer.Option("keypoints.json", "--keypoints", help="Keypoint cache inside --data ('' = none)."),
    image_size: int = typer.Option(0, "--image-size", help="Resize longer side (0 = keep)."),
    shard_rows: int = typer.Option(4096, "--shard-rows", help="Pairs per safetensors shard."),
) -> None:
    """Cache per-pair RoI features and f_pasta of a frozen Activity2Vec in safetensors shards."""
    import torch

    from hake.datasets.keypoint_cache import KeypointCache
    from hake.datasets.torch import InstanceDataset
    from hake.engine.train.features import extract_features
    from hake.zoo import create_model

    torch.set_num_threads(1)
    a2v = create_model(weights, family="activity2vec").a2v
    kp = KeypointCache(data / keypoints) if keypoints and (data / keypoints).is_file() else None
    ds = InstanceDataset(data / split, data, keypoints=kp, image_size=image_size or None, n_verbs=a2v.spec.n_verbs)
    index = extract_features(a2v, ds, out, shard_rows=shard_rows, weights=str(weights))
    typer.echo(f"cached {index['rows']} pairs in {len(index['shards'])} shard(s) under {out}")
