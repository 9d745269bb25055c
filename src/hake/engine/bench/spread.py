"""Repeated runs: mean ± sd over seeds and splits of nested metric dictionaries, random tie breaks (numpy)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _stack(runs: list[Any]) -> Any:
    """Nested dict of lists -> nested dict of (mean, sd) pairs."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: _stack([r[k] for r in runs]) for k in first}
    values = np.asarray(runs, np.float64)
    values = values[np.isfinite(values)]  # a Few@k without any class is NaN in every run
    if not len(values):
        return None, None
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), sd


def _pick(tree: Any, i: int) -> Any:
    return {k: _pick(v, i) for k, v in tree.items()} if isinstance(tree, dict) else tree[i]


def mean_sd(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """``{**mean of runs, "sd": sd of runs, "seeds": len(runs)}`` for runs of identically nested float dicts.

    The sd is the sample standard deviation (ddof 1), 0 for a single run; non-finite run values are left
    out, and a value that is non-finite in every run becomes None (JSON null), so the result is valid JSON.
    """
    if not runs:
        raise ValueError("mean_sd needs at least one run")
    both = _stack(runs)
    return {**_pick(both, 0), "sd": _pick(both, 1), "seeds": len(runs)}


def random_tie_break(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scores of the same shape whose order equals that of ``scores`` where they differ, random among
    equal ones: the rank (1..R) of each entry by (score, random key), divided by R (R = ``scores.size``)."""
    s = np.asarray(scores, np.float64)
    flat = s.reshape(-1)
    order = np.lexsort((rng.random(flat.size), flat))
    out = np.empty(flat.size, np.float64)
    out[order] = np.arange(1, flat.size + 1) / max(flat.size, 1)
    return out.reshape(s.shape)
