"""A small deterministic PaSta model for pipeline tests (not shipped): its answers are known by construction.

For a pair with an object, ``closeness = exp(-d / diag_h)`` where d is the distance between the
centres of the human and object boxes and diag_h the human box diagonal. Then
``p(hand: hold) = closeness``, ``p(hand: no_interaction) = 1 - closeness``, every other PaSta 0.05;
``p(hold <object>) = closeness``, ``p(no_interaction <object>) = 1 - closeness``, other HOIs of the
object 0.02 and HOIs of other objects 0. A no-object pair has closeness 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import hake.engine.infer.pipeline as pipeline_module
from hake.cli import app
from hake.structures.contracts import PairBatch, PastaOutput
from hake.vocab import load

HOLD_STATE = 27  # ("hand", "hold") in PaSta-76
HAND_NONE = 57  # ("hand", "no_interaction")
HOLD_VERB = 36
NO_INTERACTION_VERB = 57


def closeness(boxes_h: np.ndarray, boxes_o: np.ndarray, labels: np.ndarray) -> np.ndarray:
    ch = (boxes_h[:, :2] + boxes_h[:, 2:]) / 2
    co = (boxes_o[:, :2] + boxes_o[:, 2:]) / 2
    diag = np.linalg.norm(boxes_h[:, 2:] - boxes_h[:, :2], axis=1)
    c = np.exp(-np.linalg.norm(ch - co, axis=1) / np.maximum(diag, 1e-6))
    return np.where(labels >= 0, c, 0.0).astype(np.float32)


class StandInPasta:
    """Implements the PastaModel protocol; records the batches it was given."""

    def __init__(self) -> None:
        self.vocab = load()
        self.batches: list[PairBatch] = []

    def predict(self, batch: PairBatch) -> PastaOutput:
        self.batches.append(batch)
        v = self.vocab
        c = closeness(batch.boxes_h, batch.boxes_o, batch.object_labels)
        p = len(batch)
        pasta = np.full((p, 76), 0.05, np.float32)
        pasta[:, HOLD_STATE] = c
        pasta[:, HAND_NONE] = 1 - c
        hoi = np.zeros((p, 600), np.float32)
        for k in range(p):
            obj = int(batch.object_labels[k])
            if obj < 0:
                continue
            cand = v.hois_of_object(obj)
            hoi[k, cand] = 0.02
            hoi[k, cand[v.hoi_verb[cand] == HOLD_VERB]] = c[k]
            hoi[k, cand[v.hoi_verb[cand] == NO_INTERACTION_VERB]] = 1 - c[k]
        verb = (hoi[:, :, None] * v.hoi_to_verb_matrix[None]).max(axis=1)
        return PastaOutput(pasta=pasta, hoi=hoi, verb=verb)


runner = CliRunner()


@pytest.fixture
def standin(monkeypatch) -> list[str]:
    """Serve the deterministic stand-in as the PaSta model; records every load."""
    loads: list[str] = []

    def load(name: str = pipeline_module.DEFAULT_PASTA_MODEL, weights=None, device: str = "cpu"):
        loads.append(name)
        return StandInPasta()

    monkeypatch.setattr(pipeline_module, "load_pasta_model", load)
    return loads


def infer(*args: str):
    return runner.invoke(app, ["infer", *args, "--no-progress"])
