"""``hake benchmark spatial``: Spatial-PaSta vs the object prior and chance on HICO-DET test with GT pairs."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import benchmark_app
from hake.cli.common import guarded, write_json
from hake.hub import FAMILY_DEFAULTS

DEFAULT_MODEL = FAMILY_DEFAULTS["spatial_pasta"]


@benchmark_app.command("spatial")
@guarded
def benchmark_spatial(
    gt: Path = typer.Option(..., "--gt", exists=True, dir_okay=False, help="HICO-DET instances_test2015.json."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report here (default: stdout)."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="Zoo name of the Spatial-PaSta weights."),
    weights: list[Path] | None = typer.Option(None, "--weights", exists=True, dir_okay=False,
                                              help="Spatial-PaSta safetensors files instead of the zoo model "
                                                   "(repeat: one per training seed, reported as mean ± sd)."),
    protocol: str = typer.Option("gt_pairs_raw", "--protocol",
                                 help="gt_pairs_raw (every GT entry, as published) or gt_pairs_merged "
                                      "(entries overlapping at IoU 0.7 are one candidate)."),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Seeds of the prior's random tie breaks and of chance."),
    pair_nms: bool = typer.Option(True, "--pair-nms/--no-pair-nms",
                                  help="Pair NMS over each image's candidates (every method alike)."),
    max_images: int = typer.Option(0, "--max-images", min=0, help="Evaluate the first N test images only (0 = all)."),
) -> None:
    """Score every GT human-object pair for every HOI of its object; report Default and Known-Object mAP."""
    import numpy as np
    import torch

    from hake.datasets.hicodet import load_test_gt
    from hake.engine.bench.spatial import format_table, run_spatial_benchmark, subset_gt
    from hake.zoo import create_model

    torch.set_num_threads(1)
    test = load_test_gt(gt)
    if max_images:
        test = subset_gt(test, np.arange(min(max_images, len(test))))
    sources: list[str | Path] = list(weights) if weights else [model]
    nets = [create_model(s, family="spatial_pasta") for s in sources]
    report = run_spatial_benchmark(test, nets, protocol=protocol, seeds=seeds, use_pair_nms=pair_nms)
    report["model"] = [str(s) if isinstance(s, Path) else s for s in sources]
    report["gt"] = gt.name
    typer.echo(format_table(report), err=json_out is None)
    write_json(report, json_out)
