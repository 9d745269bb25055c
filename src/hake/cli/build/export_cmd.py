"""``hake export onnx`` and ``hake export check``: models out of PyTorch, and proof they still agree."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from hake.cli.apps import export_app
from hake.cli.common import guarded, write_json
from hake.errors import HakeError


@export_app.command("onnx")
@guarded
def export_onnx_command(
    out: Path = typer.Option(..., "--out", "-o", help="The .onnx file to write."),
    model: str | None = typer.Option(None, "--model", help="Zoo name, or spatial_pasta / pasta_r for the defaults."),
    weights: Path | None = typer.Option(None, "--weights", help="A PaSta-R or Activity2Vec .safetensors file."),
    opset: int = typer.Option(17, "--opset", min=16, help="ONNX opset version."),
) -> None:
    """Export Activity2Vec, Spatial-PaSta or PaSta-R to ONNX with dynamic batch and person axes."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from hake.export.onnx_export import export_onnx, load_source
    from hake.hub import resolve_name

    torch.set_num_threads(1)
    if (model is None) == (weights is None):
        raise HakeError("give exactly one of --model NAME and --weights FILE")
    source = f"file:{weights.resolve()}" if weights is not None else f"zoo:{resolve_name(model or '')}"
    net, _ = load_source(source)
    info = export_onnx(net, out, source=source, opset=opset)
    typer.echo(f"wrote {out} ({info.family}; inputs {', '.join(info.inputs)}; outputs {', '.join(info.outputs)})",
               err=True)


@export_app.command("check")
@guarded
def export_check_command(
    onnx_file: Path = typer.Argument(..., help="A .onnx file written by `hake export onnx`."),
    weights: Path | None = typer.Option(None, "--weights",
                                        help="Compare with this file instead of the recorded source."),
    annotations: Path | None = typer.Option(None, "--annotations",
                                            help="Real inputs: HAKE annotations (PaSta-R) or HICO-DET test "
                                                 "ground truth (Spatial-PaSta)."),
    level: str = typer.Option("image", "--level", help="Annotation level: image or instance."),
    images: list[Path] = typer.Option([], "--images", help="Photos with people (default: the examples folder)."),
    limit: int = typer.Option(256, "--limit", min=1, help="At most this many annotated samples."),
    out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON here."),
) -> None:
    """Compare onnxruntime with PyTorch on real inputs; exit status 1 if max |diff| >= 1e-4."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from hake.export.check import check_onnx

    report = check_onnx(onnx_file, weights=weights, annotations=annotations, images=images, limit=limit,
                        level=level)
    if out is not None:
        write_json(report.to_dict(), out)
    worst = max(report.max_abs_diff.values(), default=float("nan"))
    verdict = "PASS" if report.passed else "FAIL"
    typer.echo(f"{verdict} {onnx_file}: {report.family}, {report.rows} rows in {report.runs} run(s) from "
               f"{report.inputs}; max |onnxruntime - PyTorch| = {worst:.3g} (tolerance {report.tolerance:g})")
    for name, diff in report.max_abs_diff.items():
        typer.echo(f"  {name}: {diff:.3g}")
    if not report.passed:
        raise typer.Exit(1)
