"""``hake train pasta-r``, ``hake benchmark pasta-r`` and ``hake explain`` (PaSta-R on GT-HAKE)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from hake.cli.apps import app, benchmark_app, train_app
from hake.cli.common import guarded, write_json
from hake.engine.gt_hake import SPLIT_RULE

REASONERS = ("linear", "mlp", "gcn", "seq", "tree")


def _setup_torch() -> None:
    import torch

    torch.set_num_threads(1)


def _progress_bar(desc: str) -> tuple[Any, Any]:
    from tqdm import tqdm

    bar = tqdm(total=0, desc=desc, unit="batch", leave=False)

    def update(step: int, total: int, loss: float) -> None:
        bar.total = total
        bar.update(step - bar.n)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    return bar, update


def _train_one(data: Any, cfg: Any, desc: str) -> tuple[Any, dict[str, Any]]:
    from hake.engine.pasta_r_train import run_gt_hake

    bar, update = _progress_bar(desc)
    try:
        return run_gt_hake(data, cfg, update)
    finally:
        bar.close()


@train_app.command("pasta-r")
@guarded
def train_pasta_r(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="HAKE annotation tarball or JSON."),
    reasoner: str = typer.Option("linear", "--reasoner", help="linear, mlp, gcn, seq or tree."),
    input_: str = typer.Option("pasta+object", "--input", help="pasta or pasta+object."),
    level: str = typer.Option("image", "--level", help="image (HAKE-HICO) or instance (HAKE-HICO-DET pairs)."),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Output folder."),
    seed: int = typer.Option(0, "--seed"),
    epochs: int | None = typer.Option(None, "--epochs", help="Default: the reasoner's GT-HAKE profile."),
    hidden: int | None = typer.Option(None, "--hidden", help="Hidden width; default: the GT-HAKE profile."),
    language: bool = typer.Option(False, "--language", help="Add the language stream L."),
) -> None:
    """Train a PaSta-R reasoner on GT-HAKE and evaluate it on the fixed 20 % held-out split."""
    _setup_torch()
    from hake.engine import distributed as D
    from hake.engine.gt_hake import load_gt_hake
    from hake.engine.pasta_r_train import TrainConfig
    from hake.models.pasta_r import save_pasta_r

    info = D.init_from_env()  # DDP under torchrun / SLURM; a no-op in a plain run
    cfg = TrainConfig(kind=reasoner, input=input_, epochs=epochs, hidden=hidden, language=language, seed=seed)
    cfg = cfg.resolved()
    gt = load_gt_hake(data, level)
    try:
        model, metrics = _train_one(gt, cfg, f"{reasoner} [{input_}]")
    finally:
        D.shutdown()
    metrics["world_size"] = info.world_size
    if not info.is_main:
        return
    out.mkdir(parents=True, exist_ok=True)
    save_pasta_r(model, out / "model.safetensors")
    write_json({"train": cfg.to_dict(), "model": model.config_dict(), "data": data.name, "level": level,
                "split": SPLIT_RULE, "n_train": metrics["n_train"], "n_heldout": metrics["n_heldout"],
                "distributed": D.describe(info, cfg.batch_size)}, out / "config.json")
    write_json(metrics, out / "metrics.json")
    d, k = metrics["default"], metrics["known_object"]
    typer.echo(f"{reasoner} [{input_}] held-out mAP {d['mAP']:.4f} (known object {k['mAP']:.4f}) -> {out}")


def benchmark_results(data: Any, reasoners: list[str], inputs: list[str], seed: int) -> dict[str, Any]:
    """``{name: metrics}``: each reasoner per input ("linear" = pasta+object, "linear:pasta") and baselines.

    Reasoner entries also hold ``seconds`` (wall) and ``cpu_seconds`` of training and evaluation.
    """
    from hake.engine.baselines import BASELINES, baseline_scores
    from hake.engine.pasta_r_train import TrainConfig, evaluate_scores, metrics_of

    results: dict[str, Any] = {}
    for kind in reasoners:
        for inp in inputs:
            wall, cpu = time.perf_counter(), time.process_time()
            _, m = _train_one(data, TrainConfig(kind=kind, input=inp, seed=seed), f"{kind} [{inp}]")
            results[kind if inp == "pasta+object" else f"{kind}:{inp}"] = {
                "default": m["default"], "known_object": m["known_object"],
                "seconds": round(time.perf_counter() - wall, 1), "cpu_seconds": round(time.process_time() - cpu, 1)}
    train, test = data.split()
    for name in BASELINES:
        results[name] = metrics_of(evaluate_scores(baseline_scores(name, train, test), test, train))
    return results


@benchmark_app.command("pasta-r")
@guarded
def benchmark_pasta_r(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="HAKE annotation tarball or JSON."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the results as JSON here."),
    level: str = typer.Option("image", "--level", help="image or instance."),
    reasoners: str = typer.Option(",".join(REASONERS), "--reasoners", help="Comma-separated subset."),
    inputs: str = typer.Option("pasta+object,pasta", "--inputs", help="Comma-separated: pasta+object, pasta."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train and evaluate every PaSta-R reasoner and the two frequency baselines on GT-HAKE."""
    _setup_torch()
    from rich.console import Console
    from rich.table import Table

    from hake.engine.gt_hake import load_gt_hake

    gt = load_gt_hake(data, level)
    results = benchmark_results(gt, [r.strip() for r in reasoners.split(",") if r.strip()],
                                [i.strip() for i in inputs.split(",") if i.strip()], seed)
    table = Table(title=f"GT-HAKE {level} level, held-out split (mAP, fractions)")
    for col in ("model", "Default mAP", "few@1", "few@5", "few@10", "Known-Object mAP", "CPU s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in results.items():
        d = m["default"]
        table.add_row(name, *(f"{d[k]:.4f}" for k in ("mAP", "few@1", "few@5", "few@10")),
                      f"{m['known_object']['mAP']:.4f}", str(m.get("cpu_seconds", "-")))
    Console().print(table)
    if json_out is not None:
        write_json({"results": results, "level": level, "data": data.name, "split": SPLIT_RULE, "seed": seed},
                   json_out)


@app.command("explain")
@guarded
def explain_command(
    pasta: str | None = typer.Option(None, "--pasta", help='Part states, e.g. "hand:hold,head:look at".'),
    objects: str | None = typer.Option(None, "--objects", help='Objects present, e.g. "horse".'),
    input_file: Path | None = typer.Option(None, "--input", exists=True, dir_okay=False,
                                           help='JSON {"pasta": [76], "objects": [...], "parts": [10]}.'),
    model_name: str = typer.Option("pasta_r.hake_hico", "--model", help="Zoo name or a .safetensors file."),
    top: int = typer.Option(5, "--top", min=1, help="HOIs to explain."),
    features: int = typer.Option(5, "--features", min=1, help="Contributions listed per HOI."),
    steps: int = typer.Option(64, "--steps", min=1, help="Integrated-gradient steps (non-linear reasoners)."),
    all_features: bool = typer.Option(False, "--all-features", help="Also list part flags and objects."),
    json_out: Path | None = typer.Option(None, "--json", help="Write JSON here ('-' for stdout)."),
) -> None:
    """List, for each top HOI, the part states that contributed most to its score."""
    _setup_torch()
    import numpy as np
    import torch

    from hake.datasets.io import read_json
    from hake.engine.explain import explain, explanation_dict, explanation_text
    from hake.engine.pasta_input import input_from_json, objects_vector, parts_from_pasta, pasta_vector
    from hake.errors import HakeError
    from hake.models.pasta_r import load_pasta_r
    from hake.models.zoo import create_model

    model = load_pasta_r(model_name) if model_name.endswith(".safetensors") else create_model(model_name)
    spec = model.in_spec
    if input_file is not None:
        p, parts, obj = input_from_json(read_json(input_file), sum(spec.group_dims), str(input_file))
    elif pasta is not None:
        p, parts, obj = pasta_vector(pasta, spec.pasta_space), None, None
    else:
        raise HakeError("give --pasta or --input")
    if objects is not None:
        obj = objects_vector(objects)
    chunks = [p]
    if spec.n_parts:
        chunks.append(parts if parts is not None else parts_from_pasta(p, spec.pasta_space))
    if spec.n_objects:
        if obj is None:
            raise HakeError("this reasoner reads the objects present: give --objects")
        chunks.append(obj)
    items = explain(model, torch.from_numpy(np.concatenate(chunks)), top, features, steps,
                    pasta_only=not all_features)
    if json_out is None:
        typer.echo(explanation_text(model, items))
    else:
        write_json(explanation_dict(model, items), None if str(json_out) == "-" else json_out)
