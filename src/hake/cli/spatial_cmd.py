"""``hake benchmark spatial``: Spatial-PaSta vs the object prior on HICO-DET test with GT pairs."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import benchmark_app
from hake.cli.common import guarded, write_json
from hake.hub import DEFAULT_PASTA_MODEL as DEFAULT_MODEL


@benchmark_app.command("spatial")
@guarded
def benchmark_spatial(
    gt: Path = typer.Option(..., "--gt", exists=True, dir_okay=False, help="HICO-DET instances_test2015.json."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report here (default: stdout)."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="Zoo name of the Spatial-PaSta weights."),
    weights: Path | None = typer.Option(None, "--weights", exists=True, dir_okay=False,
                                        help="A Spatial-PaSta safetensors file instead of the zoo model."),
    exact_pairs: bool = typer.Option(False, "--exact-pairs",
                                     help="Only identical GT boxes form one candidate (default: merge at IoU 0.7)."),
    max_images: int = typer.Option(0, "--max-images", min=0, help="Evaluate the first N test images only (0 = all)."),
) -> None:
    """Score every unique GT human-object pair for every HOI of its object; report Default and Known-Object mAP."""
    import numpy as np
    import torch

    from hake.datasets.hicodet import load_test_gt
    from hake.engine.bench.spatial import format_table, run_spatial_benchmark, subset_gt
    from hake.zoo import create_model

    torch.set_num_threads(1)
    test = load_test_gt(gt)
    if max_images:
        test = subset_gt(test, np.arange(min(max_images, len(test))))
    net = create_model(weights if weights is not None else model, family="spatial_pasta")
    report = run_spatial_benchmark(test, net, merge_iou=1.0 if exact_pairs else 0.7)
    report["model"] = str(weights) if weights is not None else model
    report["gt"] = gt.name
    typer.echo(format_table(report), err=json_out is None)
    write_json(report, json_out)
