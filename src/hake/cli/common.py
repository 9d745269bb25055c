"""Helpers shared by CLI commands: JSON output and turning HakeError into a clean exit."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from hake.errors import HakeError
from hake.structures.results import dumps_json


def write_json(data: Any, path: Path | None) -> None:
    """Write ``data`` as indented, strict JSON to ``path`` (creating folders), or to stdout if None.

    NaN and infinity are written as ``null`` with a warning (:func:`hake.structures.results.dumps_json`).
    """
    text = dumps_json(data, where=str(path or "stdout"), indent=2, default=_default)
    if path is None:
        typer.echo(text)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")


def _default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


@contextmanager
def user_errors() -> Iterator[None]:
    """Print a HakeError (bad input) as one line on stderr and exit with status 2."""
    try:
        yield
    except HakeError as err:
        print(f"error: {err}", file=sys.stderr)
        raise typer.Exit(2) from None


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator form of :func:`user_errors` for command functions."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return fn(*args, **kwargs)

    return wrapper
