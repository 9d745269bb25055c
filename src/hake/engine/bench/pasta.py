"""``hake benchmark pasta``: part states (PaSta-76) on held-out HAKE-HICO-DET human-object pairs.

Protocol: the images of the HAKE-HICO-DET instance-level annotation are split by the fixed hash
(:func:`hake.datasets.builders.gt_hake.is_heldout`, fold 0: 20 % held out). Models are trained on the
training images only (:func:`hake.datasets.builders.spatial_pairs.training_pairs`). The held-out samples are
the labelled pairs with part states (labels of one pair merged as in training: same object, human
and object IoU ≥ 0.7; PaSta = the OR of their states, a group's ``no_interaction`` cleared when it
has another state), with their ground-truth boxes and object class. For every state the held-out
pairs are ranked by the state's score (stable, descending) and scored with the 11-point VOC AP.
Summaries are means over the states with at least one held-out positive: ``map`` over all 76,
``map_without_no_interaction`` without the six ``no_interaction`` states, and ``per_group`` for
the six part groups (their ``no_interaction`` included).

Methods: ``spatial_pasta`` (one model per training seed, mean ± sd): the model's PaSta logit plus
:data:`PRIOR_WEIGHT` × the log-odds of P(state | object class) counted on the training pairs (a product
of the two experts; the weight was chosen on a validation fold of the training images);
``spatial_pasta_alone`` the model's logits only; ``object_prior`` (score = P(state | object class);
constant within an object, so ties are broken at random, mean ± sd over seeds) and ``chance``
(uniform random scores).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hake.datasets.builders.gt_hake import is_heldout
from hake.datasets.builders.spatial_pairs import PairArrays, training_pairs
from hake.engine.bench.spread import mean_sd, random_tie_break
from hake.evaluation.ap import stable_argsort, voc11_ap
from hake.evaluation.pasta import no_interaction_states
from hake.vocab.core import load as load_vocab
from hake.vocab.sizes import NUM_OBJECTS, NUM_PASTA76

METHODS = ("spatial_pasta", "spatial_pasta_alone", "object_prior", "chance")
#: Weight of the object prior's log-odds added to Spatial-PaSta's PaSta logits; chosen on hash fold 1 of the
#: training images (models trained on folds 2-4, the 12-epoch recipe): PaSta mAP 47.91 % at 0, 48.43 % at 0.5,
#: 48.34 % at 1, 47.98 % at 2.
PRIOR_WEIGHT = 0.5
PROTOCOL = ("HAKE-HICO-DET pairs with part states of the held-out images (sha1 fold 0), GT boxes and object; "
            "PaSta-76 11-point AP per state, means over states with a held-out positive")


def split_pairs(images: Sequence[Any], where: str = "<memory>", fold: int = 0, negatives: int = 2,
                seed: int = 0) -> tuple[PairArrays, PairArrays]:
    """(training rows of the training images, held-out labelled pairs with part states).

    Args:
        images: ``InstanceImage`` s of :func:`hake.datasets.hake_json.load_instance_level`.
        where: the source file, for error messages; fold: the hash fold held out.
        negatives, seed: as :func:`~hake.datasets.builders.spatial_pairs.training_pairs` (training rows only).
    """
    train = training_pairs([im for im in images if not is_heldout(im.name, fold)], where, negatives=negatives,
                           seed=seed)
    test = training_pairs([im for im in images if is_heldout(im.name, fold)], where, negatives=0,
                          person_only=False)
    return train, test.subset(test.has_pasta)


def state_ap(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(S,) 11-point AP of each state, NaN for a state without positives.

    Args:
        labels: (N, S) 0/1 ground truth; scores: (N, S) finite scores (higher = more likely).
    """
    labels, scores = np.asarray(labels) > 0, np.asarray(scores, np.float64)
    out = np.full(labels.shape[1], np.nan)
    for s in np.flatnonzero(labels.any(axis=0)):
        tp = labels[stable_argsort(scores[:, s], descending=True), s].astype(np.float64)
        hits = np.cumsum(tp)
        out[s] = voc11_ap(hits / tp.sum(), hits / np.arange(1, len(tp) + 1))
    return out


def summarise(ap: np.ndarray) -> dict[str, Any]:
    """``{"map", "map_without_no_interaction", "per_group": {group: mAP}}`` of (76,) state APs (NaN = no positive)."""
    keep = np.ones(len(ap), bool)
    keep[no_interaction_states("pasta76")] = False

    def mean(sel: np.ndarray) -> float | None:
        vals = ap[sel & np.isfinite(ap)]
        return float(vals.mean()) if len(vals) else None

    everything = np.ones(len(ap), bool)
    groups = {}
    for name, sl in load_vocab().pasta_slices("pasta76").items():
        sel = np.zeros(len(ap), bool)
        sel[sl] = True
        groups[name] = mean(sel)
    return {"map": mean(everything), "map_without_no_interaction": mean(keep), "per_group": groups}


def object_prior_scores(train: PairArrays, test: PairArrays) -> np.ndarray:
    """(N_test, 76) P(state | object class) over the labelled training pairs with part states
    (add-one smoothed; a held-out pair's object selects the row)."""
    rows = (train.kind == 0) & train.has_pasta & (train.object >= 0)
    obj = train.object[rows]
    counts = np.zeros((NUM_OBJECTS, NUM_PASTA76))
    np.add.at(counts, obj, train.pasta[rows])
    n = np.bincount(obj, minlength=NUM_OBJECTS)[:, None]
    prior = (counts + 1) / (n + 2)
    return np.asarray(prior[test.object], np.float64)


def _log_odds(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    out: np.ndarray = np.log(q) - np.log1p(-q)
    return out


def spatial_pasta_scores(model: Any, pairs: PairArrays, batch_size: int = 4096) -> np.ndarray:
    """(N, 76) PaSta-76 probabilities of a :class:`~hake.models.spatial.SpatialPasta` for the pairs."""
    import torch

    out = np.zeros((len(pairs), 76), np.float32)
    with torch.no_grad():
        for s in range(0, len(pairs), batch_size):
            b = pairs.subset(np.arange(s, min(s + batch_size, len(pairs))))
            context = torch.from_numpy(b.context) if model.config.context_dim else None
            logits = model(*model.inputs(b.boxes_h, b.boxes_o, b.sizes, b.object), context)
            out[s:s + len(b)] = model.probabilities(logits, torch.from_numpy(b.object))[0].numpy()
    return out


def fit_on_training(train: PairArrays, seed: int, epochs: int | None = None) -> Any:
    """A Spatial-PaSta trained on ``train`` with the shipped recipe (``engine.train.spatial.RECIPE`` and
    ``RECIPE_CONFIG``), seed ``seed`` and optionally another number of epochs."""
    from dataclasses import replace

    from hake.engine.train.spatial import RECIPE, RECIPE_CONFIG, fit_spatial

    options = replace(RECIPE, seed=seed, **({} if epochs is None else {"epochs": epochs}))
    return fit_spatial(train, options, RECIPE_CONFIG)


def run_pasta_benchmark(train: PairArrays, test: PairArrays, models: Sequence[Any] | Callable[[int], Any],
                        model_seeds: int = 3, seeds: int = 5) -> dict[str, Any]:
    """Evaluate Spatial-PaSta, the object prior and chance on the held-out pairs.

    Args:
        train, test: from :func:`split_pairs`.
        models: Spatial-PaSta models trained on ``train`` (one per seed), or ``fit(seed) -> model`` to train
            ``model_seeds`` of them.
        seeds: tie-break / random-score seeds of the baselines.

    Returns:
        ``{"protocol", "results": {method: {"map", "map_without_no_interaction", "per_group", "sd": {...},
        "seeds"}}, "num_train_rows", "num_heldout_pairs", "states_with_positives"}`` (fractions in [0, 1]).
    """
    nets = list(models) if not callable(models) else [models(s) for s in range(model_seeds)]
    prior = object_prior_scores(train, test)
    alone = [spatial_pasta_scores(m, test) for m in nets]
    runs = {
        "spatial_pasta": [summarise(state_ap(test.pasta, _log_odds(p) + PRIOR_WEIGHT * _log_odds(prior)))
                          for p in alone],
        "spatial_pasta_alone": [summarise(state_ap(test.pasta, p)) for p in alone],
        "object_prior": [summarise(state_ap(test.pasta, random_tie_break(prior, np.random.default_rng(s))))
                         for s in range(seeds)],
        "chance": [summarise(state_ap(test.pasta, np.random.default_rng(1000 + s).random(test.pasta.shape)))
                   for s in range(seeds)],
    }
    return {"protocol": PROTOCOL, "results": {k: mean_sd(v) for k, v in runs.items()},
            "num_train_rows": len(train), "num_heldout_pairs": len(test),
            "states_with_positives": int((test.pasta > 0).any(axis=0).sum())}


def format_table(report: dict[str, Any]) -> str:
    """A Markdown table (percent, mean ± sd): mAP, mAP without ``no_interaction``, then per group."""
    groups = list(next(iter(report["results"].values()))["per_group"])
    lines = ["| method | runs | mAP | mAP w/o no_interaction | " + " | ".join(groups) + " |",
             "|---|---|---|---|" + "---|" * len(groups)]

    def cell(v: float | None, sd: float | None) -> str:
        return "–" if v is None or sd is None else f"{v * 100:.2f} ± {sd * 100:.2f}"

    for name, r in report["results"].items():
        cells = [cell(r["map"], r["sd"]["map"]),
                 cell(r["map_without_no_interaction"], r["sd"]["map_without_no_interaction"]),
                 *(cell(r["per_group"][g], r["sd"]["per_group"][g]) for g in groups)]
        lines.append(f"| {name} | {r['seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
