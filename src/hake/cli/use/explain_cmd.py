"""``hake explain``: which part states made PaSta-R predict an activity."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import app
from hake.cli.common import guarded, write_json
from hake.hub import DEFAULT_PASTA_R


@app.command("explain")
@guarded
def explain_command(
    pasta: str | None = typer.Option(None, "--pasta", help='Part states, e.g. "hand:hold,head:look at".'),
    objects: str | None = typer.Option(None, "--objects", help='Objects present, e.g. "horse".'),
    input_file: Path | None = typer.Option(None, "--input", exists=True, dir_okay=False,
                                           help='JSON {"pasta": [76], "objects": [...], "parts": [10]}, or a '
                                                'hake infer result (prints each state with its evidence).'),
    model_name: str = typer.Option(DEFAULT_PASTA_R, "--model", help="Zoo name or a .safetensors file."),
    top: int = typer.Option(5, "--top", min=1, help="HOIs to explain."),
    features: int = typer.Option(5, "--features", min=1, help="Contributions listed per HOI."),
    steps: int = typer.Option(64, "--steps", min=1, help="Integrated-gradient steps (non-linear reasoners)."),
    all_features: bool = typer.Option(False, "--all-features", help="Also list part flags and objects."),
    json_out: Path | None = typer.Option(None, "--json", help="Write JSON here ('-' for stdout)."),
) -> None:
    """List, for each top HOI, the part states that contributed most to its score; for a hake infer
    result, which evidence (pose, layout, prior) set each person's part states."""
    from hake.datasets.io import read_json
    from hake.engine.infer.explain_input import evidence_text, is_infer_result, state_evidence

    raw = read_json(input_file) if input_file is not None else None
    if raw is not None and is_infer_result(raw):
        persons = state_evidence(raw, str(input_file))
        if json_out is None:
            typer.echo(evidence_text(persons))
        else:
            write_json({"source": raw.get("source"), "persons": persons}, None if str(json_out) == "-" else json_out)
        return
    import torch

    torch.set_num_threads(1)

    from hake.engine.infer.explain import explain, explanation_dict, explanation_text
    from hake.engine.infer.explain_input import explain_input
    from hake.zoo import create_model

    model = create_model(model_name, family="pasta_r")
    x = explain_input(model.in_spec, pasta=pasta, objects=objects, raw=raw, where=str(input_file))
    items = explain(model, torch.from_numpy(x), top, features, steps, pasta_only=not all_features)
    if json_out is None:
        typer.echo(explanation_text(model, items))
    else:
        write_json(explanation_dict(model, items), None if str(json_out) == "-" else json_out)
