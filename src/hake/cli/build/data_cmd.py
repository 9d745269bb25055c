"""``hake data stats``: detect an annotation file's format and print its counts."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from hake.cli.apps import data_app
from hake.cli.common import guarded, write_json


def _top(hist: list[int], names: list[str], k: int) -> str:
    order = sorted(range(len(hist)), key=lambda i: (-hist[i], i))[:k]
    return ", ".join(f"{names[i]} ({hist[i]})" for i in order if hist[i] > 0) or "-"


@data_app.command("stats")
@guarded
def stats_command(
    path: Path = typer.Argument(..., help="Annotation file (.json or .tar.gz): HAKE image/instance level "
                                          "or HICO-DET test GT."),
    as_json: bool = typer.Option(False, "--json", help="Print all counts and histograms as JSON."),
    top: int = typer.Option(10, "--top", min=1, help="How many of the most frequent HOIs/PaSta to list."),
) -> None:
    """Detect the format and print counts: images, labels, labels without part states, histograms."""
    from hake.datasets.stats import dataset_stats
    from hake.vocab import load

    stats = dataset_stats(path)
    if as_json:
        write_json(stats, None)
        return
    vocab = load()
    table = Table(title=f"{path.name} ({stats['format']})")
    table.add_column("count")
    table.add_column("value", justify="right")
    for key, value in stats.items():
        if isinstance(value, int):
            table.add_row(key, str(value))
    hoi_names = [vocab.hoi_name(i) for i in range(600)]
    table.add_row(f"top {top} HOIs", _top(stats["hoi_histogram"], hoi_names, top))
    if "pasta_histogram" in stats:
        pasta_names = [f"{g}: {s}" for g, s in vocab.pasta["pasta76"]]
        table.add_row(f"top {top} PaSta", _top(stats["pasta_histogram"], pasta_names, top))
    Console(width=160).print(table)
