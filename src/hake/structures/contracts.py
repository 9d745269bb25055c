"""The interface every PaSta model implements, so the pipeline can swap them.

A *PaSta model* looks at human-object pairs of one image and returns, per pair, PaSta-76
probabilities, 600 HOI probabilities and 117 verb probabilities. Spatial-PaSta (box layout only),
Activity2Vec (pixels) and their ONNX exports all implement :class:`PastaModel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

#: What set a part state (codes of :attr:`PastaOutput.evidence`): the layout model's person-alone
#: prior (no object), the box layout with the object, or the pose (keypoints and part boxes).
EVIDENCE: tuple[str, ...] = ("prior", "layout", "pose")


@dataclass
class PairBatch:
    """Human-object pairs of one image.

    Attributes:
        image_size: (width, height) in pixels.
        boxes_h: (P, 4) float32 human boxes x1, y1, x2, y2, pixels, 0-based.
        boxes_o: (P, 4) float32 object boxes; for a pair without an object use the human box.
        object_labels: (P,) int64 HICO object index 0..79, or -1 for "no object".
        keypoints: (P, 17, 3) float32 COCO-17 (x, y, score) of the human, or None.
        part_boxes: (P, 10, 4) float32 part boxes of the human (HAKE order), or None.
        image: (H, W, 3) uint8 RGB pixels, or None for models that do not look at pixels.
    """

    image_size: tuple[int, int]
    boxes_h: np.ndarray
    boxes_o: np.ndarray
    object_labels: np.ndarray
    keypoints: np.ndarray | None = None
    part_boxes: np.ndarray | None = None
    image: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.boxes_h.shape[0])


@dataclass
class PastaOutput:
    """Per-pair predictions, all probabilities in [0, 1].

    Attributes:
        pasta: (P, 76) PaSta-76 probabilities (groups foot..head, see ``vocab.pasta_slices``).
        hoi: (P, 600) HOI probabilities; HOIs whose object differs from the pair's are 0.
        verb: (P, 117) verb probabilities.
        evidence: optional (P, 76) int8 code per state into :data:`EVIDENCE` (which evidence set it),
            or None for models that do not say.
    """

    pasta: np.ndarray
    hoi: np.ndarray
    verb: np.ndarray
    evidence: np.ndarray | None = None


@runtime_checkable
class PastaModel(Protocol):
    """Anything that turns :class:`PairBatch` into :class:`PastaOutput`."""

    def predict(self, batch: PairBatch) -> PastaOutput: ...
