"""``hake models``: the model zoo (name, task, size, licence, sha256, source) from :mod:`hake.hub`."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from hake.cli.apps import app
from hake.cli.common import guarded, write_json


@app.command("models")
@guarded
def models_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    full: bool = typer.Option(False, "--full", help="Show the whole sha256."),
) -> None:
    """List every model of the zoo: name, task, file size, licence, sha256 and source."""
    from hake import hub

    rows: list[dict[str, Any]] = []
    for name in hub.names():
        entry = hub.manifest()[name]
        path = hub.model_dir() / str(entry["file"])
        rows.append({"name": name, "task": hub.FAMILIES.get(hub.family_of(name), hub.family_of(name)),
                     "bytes": path.stat().st_size if path.is_file() else None, "licence": entry.get("licence"),
                     "sha256": entry.get("sha256"), "source": entry.get("source"), "file": str(path)})
    if as_json:
        write_json(rows, None)
        return
    table = Table(title=f"hake models (weights in {hub.model_dir()})")
    for col in ("name", "task", "MB", "licence", "sha256"):
        table.add_column(col, no_wrap=col != "task", justify="right" if col == "MB" else "left")
    for r in rows:
        size = "missing" if r["bytes"] is None else f"{r['bytes'] / 1e6:.1f}"
        sha = str(r["sha256"])
        table.add_row(r["name"], hub.family_of(r["name"]), size, str(r["licence"]), sha if full else sha[:12] + "…")
    console = Console()
    console.print(table)
    for r in rows:
        console.print(f"[bold]{r['name']}[/bold]: {r['task']}; source: {r['source']}", highlight=False)
