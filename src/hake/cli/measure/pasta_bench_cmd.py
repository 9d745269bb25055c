"""``hake benchmark pasta``: PaSta-76 AP of Spatial-PaSta, the object prior and chance on held-out HAKE pairs."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import benchmark_app
from hake.cli.common import guarded, write_json


@benchmark_app.command("pasta")
@guarded
def benchmark_pasta(
    annotation: Path = typer.Option(..., "--annotation", exists=True, dir_okay=False,
                                    help="HAKE-HICO-DET hico-det-instance-level.tar.gz (or .json)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report here (default: stdout)."),
    model_seeds: int = typer.Option(3, "--model-seeds", min=1, help="Spatial-PaSta training seeds (mean ± sd)."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Training epochs (default: the shipped recipe)."),
    weights: list[Path] | None = typer.Option(None, "--weights", exists=True, dir_okay=False,
                                              help="Evaluate these Spatial-PaSta files (trained on the training "
                                                   "images only) instead of training."),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Seeds of the prior's random tie breaks and of chance."),
    max_images: int = typer.Option(0, "--max-images", min=0, help="Use the first N annotated images only (0 = all)."),
) -> None:
    """Train Spatial-PaSta on the training images, score the held-out pairs' part states, report AP per group."""
    import torch

    from hake.datasets.hake_json import load_instance_level
    from hake.engine.bench.pasta import fit_on_training, format_table, run_pasta_benchmark, split_pairs
    from hake.zoo import create_model

    torch.set_num_threads(1)
    images = load_instance_level(annotation)
    if max_images:
        images = images[:max_images]
    train, test = split_pairs(images, str(annotation))
    if weights:
        report = run_pasta_benchmark(train, test, [create_model(w, family="spatial_pasta") for w in weights],
                                     seeds=seeds)
        report["model"] = [str(w) for w in weights]
    else:
        report = run_pasta_benchmark(train, test, lambda s: fit_on_training(train, s, epochs),
                                     model_seeds=model_seeds, seeds=seeds)
        report["model"] = "trained here on the training images"
    report["annotation"] = annotation.name
    typer.echo(format_table(report), err=json_out is None)
    write_json(report, json_out)
