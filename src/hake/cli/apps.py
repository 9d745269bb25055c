"""The root typer app and the command groups that several topic modules share."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="hake",
    help="Human activity understanding through body-part states (HAKE).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect and prepare datasets.", no_args_is_help=True)
eval_app = typer.Typer(help="Official-protocol evaluators (HICO-DET, HICO, V-COCO, AVA).", no_args_is_help=True)
train_app = typer.Typer(help="Train models.", no_args_is_help=True)
benchmark_app = typer.Typer(help="Reproducible measurements on real annotations.", no_args_is_help=True)
export_app = typer.Typer(help="Export models (ONNX) and check them.", no_args_is_help=True)
features_app = typer.Typer(help="Extract and cache features.", no_args_is_help=True)



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
