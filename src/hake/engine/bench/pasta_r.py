"""``hake benchmark pasta-r`` and ``hake train pasta-r``: PaSta-R reasoners and baselines on GT-HAKE.

Settings (HICO image-level protocol, :func:`hake.evaluation.hico.evaluate_hico`, on the held-out split):

- ``default``: the reasoner reads the part states only (PaSta + part flags); Default mode, so HOIs of
  objects absent from the image count as negatives;
- ``known_object``: the same PaSta-only reasoner in the Known-Object mode (HOIs of absent objects are
  left out at evaluation, as HICO defines it);
- ``known_object_gt_objects``: the reasoner also reads the objects present, taken from the image's own
  ground-truth HOIs, and HOIs of absent objects are zeroed (Known-Object with ground-truth objects).

Each learned result is the mean ± sd over ``runs`` runs, run r using seed ``seed + r`` and hash fold r
(:func:`hake.datasets.builders.gt_hake.is_heldout`). Baselines (``object_prior`` needs the objects, so it is
reported in ``known_object_gt_objects`` only; ``pasta_prior`` reads PaSta only; ``chance`` scores at
random) are constant within a class, so their ties are broken at random: :data:`TIE_SEEDS` seeds per
fold. ``classes`` gives, per run, how many HOIs each mean covers (those with a held-out positive) and
how many of the 138 rare HOIs are among them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from hake.datasets.builders.gt_hake import GtHakeData
from hake.engine.bench.spread import mean_sd, random_tie_break

REASONERS = ("linear", "mlp", "gcn", "seq", "tree")
SETTINGS = ("default", "known_object", "known_object_gt_objects")
TIE_SEEDS = 5

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


def train_one(data: GtHakeData, cfg: Any, desc: str, fold: int = 0) -> tuple[Any, dict[str, Any]]:
    """Train one reasoner on the training split of ``fold`` and evaluate it on its held-out split."""
    from hake.engine.train.pasta_r import run_gt_hake

    with progress_bar(desc) as update:
        return run_gt_hake(data, cfg, update, fold=fold)


def _classes(n_classes: dict[str, int], test: GtHakeData) -> dict[str, int]:
    from hake.vocab.core import load as load_vocab

    rare = load_vocab().rare_hois
    return {**n_classes, "rare": int((test.hois[:, rare].sum(axis=0) > 0).sum()), "rare_of": int(len(rare))}


def _reasoner_runs(data: GtHakeData, kind: str, runs: int, seed: int) -> dict[str, Any]:
    from hake.engine.train.pasta_r import TrainConfig

    per_run, classes = [], []
    wall, cpu = time.perf_counter(), time.process_time()
    for r in range(runs):
        _, only = train_one(data, TrainConfig(kind=kind, input="pasta", seed=seed + r), f"{kind} [pasta] run {r}", r)
        _, with_obj = train_one(data, TrainConfig(kind=kind, input="pasta+object", seed=seed + r),
                                f"{kind} [pasta+object] run {r}", r)
        per_run.append({"default": only["default"], "known_object": only["known_object"],
                        "known_object_gt_objects": with_obj["known_object"]})
        classes.append(_classes(only["n_classes"], data.split(r)[1]))
    out = mean_sd(per_run)
    out.update(splits=runs, classes=classes, seconds=round((time.perf_counter() - wall) / runs, 1),
               cpu_seconds=round((time.process_time() - cpu) / runs, 1))
    return out


def _tie_broken_metrics(scores: np.ndarray, rng: np.random.Generator, train: GtHakeData,
                        test: GtHakeData) -> dict[str, dict[str, float]]:
    from hake.engine.train.pasta_r import evaluate_scores, metrics_of

    return metrics_of(evaluate_scores(random_tie_break(scores, rng), test, train))


def _baseline_runs(data: GtHakeData, runs: int) -> dict[str, Any]:
    from hake.engine.bench.baselines import object_prior, pasta_prior

    per: dict[str, list[dict[str, Any]]] = {"object_prior": [], "pasta_prior": [], "chance": []}
    for r in range(runs):
        train, test = data.split(r)
        obj_scores, pasta_scores = object_prior(train, test), pasta_prior(train, test)[0]
        for t in range(TIE_SEEDS):
            rng = np.random.default_rng(1000 * r + t)
            o = _tie_broken_metrics(obj_scores, rng, train, test)
            per["object_prior"].append({"known_object_gt_objects": o["known_object"]})
            p = _tie_broken_metrics(pasta_scores, rng, train, test)
            per["pasta_prior"].append({"default": p["default"], "known_object": p["known_object"]})
            c = _tie_broken_metrics(rng.random(test.hois.shape), rng, train, test)
            per["chance"].append({"default": c["default"], "known_object": c["known_object"],
                                  "known_object_gt_objects": c["known_object"]})
    return {name: {**mean_sd(r), "splits": runs} for name, r in per.items()}


def benchmark_results(data: GtHakeData, reasoners: list[str], runs: int = 3, seed: int = 0) -> dict[str, Any]:
    """``{name: {setting: {mAP, few@1, few@5, few@10}, "sd": {...}, "seeds", "splits", ...}}`` for each
    reasoner and baseline (see the module doc); values are fractions in [0, 1], NaN-free."""
    results = {kind: _reasoner_runs(data, kind, runs, seed) for kind in reasoners}
    results.update(_baseline_runs(data, runs))
    return results


def _cell(m: dict[str, Any], setting: str, key: str) -> str:
    if setting not in m:
        return "–"
    return f"{m[setting][key]:.4f} ± {m['sd'][setting][key]:.4f}"


def results_table(results: dict[str, Any], title: str) -> Any:
    """A rich Table of :func:`benchmark_results` (mean ± sd)."""
    from rich.table import Table

    table = Table(title=title)
    cols = ("model", "runs", "Default mAP", "Default few@1", "few@5", "few@10", "Known-Object mAP",
            "KO, GT objects given", "CPU s")
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in results.items():
        table.add_row(name, str(m["seeds"]), *(_cell(m, "default", k) for k in ("mAP", "few@1", "few@5", "few@10")),
                      _cell(m, "known_object", "mAP"), _cell(m, "known_object_gt_objects", "mAP"),
                      str(m.get("cpu_seconds", "-")))
    return table
