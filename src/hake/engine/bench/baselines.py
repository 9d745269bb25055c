"""Frequency baselines for GT-HAKE (numpy only).

- ``object_prior``: score(sample, HOI h) = P(h | object of h present), the training frequency of
  h among training samples containing its object; 0 when the object is absent.
- ``pasta_prior``: for each HOI h, the single PaSta p*(h) (no ``no_interaction`` state) that
  co-occurs with h most often in training; score(sample, h) = P(h | p*(h)) when p*(h) is active in
  the sample, else 0 (ties keep sample order, as the evaluator's stable sort does).
"""

from __future__ import annotations

import numpy as np

from hake.datasets.builders.gt_hake import GtHakeData
from hake.vocab.core import load as load_vocab

BASELINES = ("object_prior", "pasta_prior")


def object_prior(train: GtHakeData, test: GtHakeData) -> np.ndarray:
    """(N_test, 600) scores P(h | object of h present) from ``train``."""
    obj = load_vocab().hoi_object
    with_obj = train.objects[:, obj].sum(axis=0)  # (600,) samples containing each HOI's object
    freq = np.divide(train.hois.sum(axis=0), with_obj, out=np.zeros(600), where=with_obj > 0)
    return test.objects[:, obj] * freq[None, :]


def interaction_pasta() -> np.ndarray:
    """(76,) bool, True for PaSta-76 states other than a group's ``no_interaction``."""
    keep = np.ones(76, bool)
    for s in load_vocab().pasta_slices("pasta76").values():
        keep[s.stop - 1] = False
    return keep


def pasta_prior(train: GtHakeData, test: GtHakeData) -> tuple[np.ndarray, np.ndarray]:
    """(N_test, 600) scores and (600,) the chosen PaSta p*(h) (-1 for HOIs without training samples)."""
    co = train.hois.T.astype(np.float64) @ train.pasta.astype(np.float64)  # (600, 76) co-occurrences
    co[:, ~interaction_pasta()] = -1
    best = co.argmax(axis=1)
    best[train.hois.sum(axis=0) == 0] = -1
    n_p = train.pasta.sum(axis=0).astype(np.float64)  # (76,)
    cols = np.maximum(best, 0)
    freq = np.divide(co[np.arange(600), cols], n_p[cols], out=np.zeros(600), where=(n_p[cols] > 0) & (best >= 0))
    return test.pasta[:, cols] * freq[None, :], best


def baseline_scores(name: str, train: GtHakeData, test: GtHakeData) -> np.ndarray:
    """Scores of the baseline called ``name`` (one of :data:`BASELINES`)."""
    if name == "object_prior":
        return object_prior(train, test)
    if name == "pasta_prior":
        return pasta_prior(train, test)[0]
    raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
