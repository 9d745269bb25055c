"""``hake benchmark pasta-r`` and ``hake train pasta-r``: PaSta-R reasoners and baselines on GT-HAKE."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hake.datasets.gt_hake import GtHakeData

REASONERS = ("linear", "mlp", "gcn", "seq", "tree")

#: ``progress(step, total, loss)`` after each training batch.
Progress = Callable[[int, int, float], None]


@contextmanager
def progress_bar(desc: str) -> Iterator[Progress]:
    """A tqdm bar of training batches, as a :data:`Progress` callback; closed on exit."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=desc, unit="batch", leave=False)

    def update(step: int, total: int, loss: float) -> None:
        bar.total = total
        bar.update(step - bar.n)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    try:
        yield update
    finally:
        bar.close()


def train_one(data: GtHakeData, cfg: Any, desc: str) -> tuple[Any, dict[str, Any]]:
    """Train one reasoner on the training split and evaluate it on the held-out split, with a progress bar."""
    from hake.engine.train.pasta_r import run_gt_hake

    with progress_bar(desc) as update:
        return run_gt_hake(data, cfg, update)


def benchmark_results(data: GtHakeData, reasoners: list[str], inputs: list[str], seed: int) -> dict[str, Any]:
    """``{name: metrics}``: each reasoner per input ("linear" = pasta+object, "linear:pasta") and baselines.

    Reasoner entries also hold ``seconds`` (wall) and ``cpu_seconds`` of training and evaluation.
    """
    from hake.engine.bench.baselines import BASELINES, baseline_scores
    from hake.engine.train.pasta_r import TrainConfig, evaluate_scores, metrics_of

    results: dict[str, Any] = {}
    for kind in reasoners:
        for inp in inputs:
            wall, cpu = time.perf_counter(), time.process_time()
            _, m = train_one(data, TrainConfig(kind=kind, input=inp, seed=seed), f"{kind} [{inp}]")
            results[kind if inp == "pasta+object" else f"{kind}:{inp}"] = {
                "default": m["default"], "known_object": m["known_object"],
                "seconds": round(time.perf_counter() - wall, 1), "cpu_seconds": round(time.process_time() - cpu, 1)}
    train, test = data.split()
    for name in BASELINES:
        results[name] = metrics_of(evaluate_scores(baseline_scores(name, train, test), test, train))
    return results


def results_table(results: dict[str, Any], title: str) -> Any:
    """A rich Table of :func:`benchmark_results`."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("model", "Default mAP", "few@1", "few@5", "few@10", "Known-Object mAP", "CPU s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in results.items():
        d = m["default"]
        table.add_row(name, *(f"{d[k]:.4f}" for k in ("mAP", "few@1", "few@5", "few@10")),
                      f"{m['known_object']['mAP']:.4f}", str(m.get("cpu_seconds", "-")))
    return table
