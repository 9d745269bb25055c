"""Evaluation plots with matplotlib (Agg, no display): PR curves and a per-class AP chart.

Both plot the ``k`` worst and ``k`` best classes among those with an AP (NaN classes are left
out), so a 600-class benchmark stays readable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def worst_and_best(ap: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``k`` lowest and ``k`` highest finite APs (ascending AP, stable)."""
    ap = np.asarray(ap, np.float64)
    idx = np.flatnonzero(np.isfinite(ap))
    idx = idx[np.argsort(ap[idx], kind="stable")]
    return idx[:k], idx[::-1][:k]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_per_class_ap(names: Sequence[str], ap: np.ndarray, path: str | Path, k: int = 15,
                      title: str = "per-class AP") -> Path:
    """Horizontal bar chart of the ``k`` worst and ``k`` best classes; AP as fractions; PNG."""
    worst, best = worst_and_best(ap, k)
    sel = np.concatenate([worst, best[::-1]])
    sel = sel[np.sort(np.unique(sel, return_index=True)[1])]
    fig = _figure(8, max(3.0, 0.25 * len(sel) + 1))
    ax = fig.add_subplot(1, 1, 1)
    colours = ["tab:red" if i in set(worst.tolist()) else "tab:green" for i in sel]
    ax.barh(np.arange(len(sel)), np.asarray(ap)[sel], color=colours)
    ax.set_yticks(np.arange(len(sel)), [names[i] for i in sel], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("AP")
    ax.set_title(f"{title} (red: worst {len(worst)}, green: best {len(best)})")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_pr_curves(names: Sequence[str], ap: np.ndarray, curve: Callable[[int], tuple[np.ndarray, np.ndarray]],
                   path: str | Path, k: int = 5, title: str = "precision-recall") -> Path:
    """PR curves of the ``k`` worst and ``k`` best classes side by side; ``curve(i)`` -> (rec, prec)."""
    worst, best = worst_and_best(ap, k)
    fig = _figure(11, 4.5)
    for col, (label, sel) in enumerate((("worst", worst), ("best", best))):
        ax = fig.add_subplot(1, 2, col + 1)
        for i in sel:
            rec, prec = curve(int(i))
            if len(rec):
                ax.plot(np.asarray(rec, np.float64), np.asarray(prec, np.float64), lw=1.2,
                        marker="o" if len(rec) < 30 else None, ms=3, label=f"{names[i]} ({ap[i]:.3f})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{title}: {label} {len(sel)}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
