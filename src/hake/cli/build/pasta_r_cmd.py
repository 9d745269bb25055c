"""``hake train pasta-r`` and ``hake benchmark pasta-r`` (PaSta-R on GT-HAKE)."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import benchmark_app, train_app
from hake.cli.common import guarded, write_json
from hake.datasets.builders.gt_hake import SPLIT_RULE
from hake.engine.bench.pasta_r import REASONERS


def _setup_torch() -> None:
    import torch

    torch.set_num_threads(1)


@train_app.command("pasta-r")
@guarded
def train_pasta_r(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="HAKE annotation tarball or JSON."),
    reasoner: str = typer.Option("linear", "--reasoner", help="linear, mlp, gcn, seq or tree."),
    input_: str = typer.Option("pasta+object", "--input", help="pasta or pasta+object."),
    level: str = typer.Option("image", "--level", help="image (HAKE-HICO) or instance (HAKE-HICO-DET pairs)."),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Output folder."),
    seed: int = typer.Option(0, "--seed", help="Random seed of initialisation and batch order."),
    epochs: int | None = typer.Option(None, "--epochs", help="Default: the reasoner's GT-HAKE profile."),
    hidden: int | None = typer.Option(None, "--hidden", help="Hidden width; default: the GT-HAKE profile."),
    language: bool = typer.Option(False, "--language", help="Add the language stream L."),
) -> None:
    """Train a PaSta-R reasoner on GT-HAKE and evaluate it on the fixed 20 % held-out split."""
    _setup_torch()
    from hake.datasets.builders.gt_hake import load_gt_hake
    from hake.engine.bench.pasta_r import progress_bar
    from hake.engine.train.pasta_r import TrainConfig, train_and_save

    cfg = TrainConfig(kind=reasoner, input=input_, epochs=epochs, hidden=hidden, language=language, seed=seed)
    gt = load_gt_hake(data, level)
    with progress_bar(f"{reasoner} [{input_}]") as update:
        metrics = train_and_save(gt, cfg, out, {"data": data.name, "level": level}, update)
    if metrics is not None:
        d, k = metrics["default"], metrics["known_object"]
        typer.echo(f"{reasoner} [{input_}] held-out mAP {d['mAP']:.4f} (known object {k['mAP']:.4f}) -> {out}")


@benchmark_app.command("pasta-r")
@guarded
def benchmark_pasta_r(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="HAKE annotation tarball or JSON."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the results as JSON here."),
    level: str = typer.Option("image", "--level", help="image or instance."),
    reasoners: str = typer.Option(",".join(REASONERS), "--reasoners", help="Comma-separated subset."),
    runs: int = typer.Option(3, "--runs", min=1, max=5, help="Runs per reasoner: run r = seed + r on hash fold r."),
    seed: int = typer.Option(0, "--seed", help="Seed of run 0 (run r uses seed + r)."),
) -> None:
    """Train every PaSta-R reasoner with and without the object input, and the baselines, on GT-HAKE.

    Settings: default (PaSta only), known_object (PaSta only, Known-Object evaluation) and
    known_object_gt_objects (the ground-truth objects are an input); mean ± sd over runs.
    """
    _setup_torch()
    from rich.console import Console

    from hake.datasets.builders.gt_hake import load_gt_hake
    from hake.engine.bench.pasta_r import SETTINGS, benchmark_results, results_table

    gt = load_gt_hake(data, level)
    results = benchmark_results(gt, [r.strip() for r in reasoners.split(",") if r.strip()], runs, seed)
    Console(width=180).print(results_table(results, f"GT-HAKE {level} level, held-out splits (mAP, mean ± sd)"))
    if json_out is not None:
        write_json({"results": results, "settings": list(SETTINGS), "level": level, "data": data.name,
                    "split": SPLIT_RULE + "; run r holds out fold r (hash % 5 == r)", "runs": runs, "seed": seed},
                   json_out)
