"""Every command's help is readable at 80 columns and every option says what it does."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from hake.cli import app


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, group)]
    if hasattr(group, "list_commands"):  # a group (typer vendors its own click classes)
        ctx = typer.Context(group)
        for name in group.list_commands(ctx):
            sub = group.get_command(ctx, name)
            assert sub is not None
            found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_there_are_many_commands_to_check() -> None:
    assert len(COMMANDS) > 20 and any(path == ("infer",) for path, _ in COMMANDS)


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "hake")
def test_help_fits_80_columns_and_every_option_has_help(path: tuple[str, ...]) -> None:
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert res.exit_code == 0, res.output
    long = [line for line in res.output.splitlines() if len(line) > 80]
    assert not long, f"lines over 80 columns: {long}"
    assert "…" not in res.output  # nothing cut short
    command = dict(COMMANDS)[path]
    missing = [p.name for p in command.params
               if p.param_type_name == "option" and not p.hidden and not (p.help or "").strip()]
    assert not missing, f"options without help: {missing}"
