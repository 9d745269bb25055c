"""``hake vocab``: the label-space sizes."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from hake.cli.apps import app
from hake.cli.common import write_json


@app.command("vocab")
def vocab_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print the sizes of HAKE's label spaces (parts, PaSta, verbs, objects, HOIs)."""
    from hake.vocab.core import sizes

    s = sizes()
    if as_json:
        write_json(s, None)
        return
    table = Table(title="HAKE label spaces")
    table.add_column("space")
    table.add_column("size", justify="right")
    for k, v in s.items():
        table.add_row(k, str(v))
    Console().print(table)
