"""The root typer app and the command groups that several topic modules share."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="hake",
    help="Human activity understanding through body-part states (HAKE).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: wraps to any width, never cuts a default short
)


def _group(help_text: str) -> typer.Typer:
    """A command group with the root's plain (click) help."""
    return typer.Typer(rich_markup_mode=None, help=help_text, no_args_is_help=True)


data_app = _group("Inspect and prepare datasets.")
eval_app = _group("Official-protocol evaluators (HICO-DET, HICO, V-COCO, AVA).")
train_app = _group("Train models.")
benchmark_app = _group("Reproducible measurements on real annotations.")
export_app = _group("Export models (ONNX) and check them.")
features_app = _group("Extract and cache features.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        from hake import __version__

        try:
            installed = version("hake-action")
        except PackageNotFoundError:  # running from a source tree that is not installed
            installed = __version__
        typer.echo(f"hake {installed}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print hake's version and exit."),
) -> None:
    """Human activity understanding through body-part states (HAKE)."""


for _sub, _name in [
    (data_app, "data"), (eval_app, "eval"), (train_app, "train"),
    (benchmark_app, "benchmark"), (export_app, "export"), (features_app, "features"),
]:
    app.add_typer(_sub, name=_name)
