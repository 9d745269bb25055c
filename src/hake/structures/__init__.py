"""Typed data of hake: results (persons, objects, PaSta and HOI scores, frames) and the array contracts
between the pipeline and PaSta models (:class:`PairBatch` -> :class:`PastaOutput`). May import only errors.

Conventions: boxes are ``x1, y1, x2, y2`` in pixels of the original image, 0-based; keypoints are
COCO-17 ``(x, y, score)`` rows in pixels; class ids are 0-based HICO indices.
"""

from hake.structures.contracts import PairBatch, PastaModel, PastaOutput
from hake.structures.results import Box, DetectedObject, FrameResult, HoiPrediction, PartState, Person

__all__ = [
    "Box", "DetectedObject", "FrameResult", "HoiPrediction", "PairBatch", "PartState", "PastaModel",
    "PastaOutput", "Person",
]
