"""Mean ± sd over repeated runs (seeds, splits) of nested metric dictionaries (numpy only)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _stack(runs: list[Any]) -> Any:
    """Nested dict of lists -> nested dict of (mean, sd) pairs."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: _stack([r[k] for r in runs]) for k in first}
    values = np.asarray(runs, np.float64)
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), sd


def _pick(tree: Any, i: int) -> Any:
    return {k: _pick(v, i) for k, v in tree.items()} if isinstance(tree, dict) else tree[i]


def mean_sd(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """``{**mean of runs, "sd": sd of runs, "seeds": len(runs)}`` for runs of identically nested float dicts.

    The sd is the sample standard deviation (ddof 1), 0 for a single run; every value is a finite float.
    """
    if not runs:
        raise ValueError("mean_sd needs at least one run")
    both = _stack(runs)
    return {**_pick(both, 0), "sd": _pick(both, 1), "seeds": len(runs)}
