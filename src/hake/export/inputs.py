"""Real inputs for checking an exported model against PyTorch.

- PaSta-R (GT-HAKE inputs): the PaSta-76 multi-hots, part flags and object multi-hots of a HAKE
  annotation file (image or instance level, read by :mod:`hake.datasets.builders.gt_hake`), or the PaSta
  probabilities of the default PaSta model on the human-object pairs found in photos.
- Activity2Vec / Spatial-PaSta: photos run through the shipped detector and pose model; the
  human-object pairs the pipeline would hand to the PaSta model are recorded (:func:`pair_batches`)
  and converted with the model's own preprocessing. Spatial-PaSta, which reads no pixels, can also
  be checked on the ground-truth pairs of HICO-DET test images (:func:`hicodet_pair_batches`).

Every function returns a list of input dicts (name -> numpy array), one per graph run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hake.errors import HakeError
from hake.structures.contracts import PairBatch, PastaOutput

Inputs = dict[str, np.ndarray]


def default_images() -> list[Path]:
    """The sample photos of the repository's ``examples/`` folder (empty when not there)."""
    from hake.engine.infer.runner import IMAGE_SUFFIXES

    folder = Path(__file__).resolve().parents[3] / "examples"
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


class _Recorder:
    """A PastaModel that keeps the pair batches it is given and predicts nothing."""

    def __init__(self) -> None:
        self.batches: list[PairBatch] = []

    def predict(self, batch: PairBatch) -> PastaOutput:
        self.batches.append(batch)
        n = len(batch)
        return PastaOutput(np.zeros((n, 76), np.float32), np.zeros((n, 600), np.float32),
                           np.zeros((n, 117), np.float32))


def pair_batches(images: Sequence[Path], threads: int = 1) -> list[PairBatch]:
    """Human-object pairs (with pixels) of each photo that has a person, via the shipped perception."""
    from hake.engine.infer.pipeline import build_pipeline
    from hake.engine.infer.runner import read_image

    rec = _Recorder()
    pipe = build_pipeline(pasta_model=rec, threads=threads)
    for path in images:
        pipe(read_image(Path(path)), source=str(path))
    if not rec.batches:
        raise HakeError(f"no person found in {len(images)} image(s); give photos with people (--images)")
    return rec.batches


def hake_annotation_inputs(path: Path, group_dims: Sequence[int], n_parts: int, n_objects: int,
                           limit: int = 256, level: str = "image") -> list[Inputs]:
    """GT-HAKE PaSta-R inputs of the first ``limit`` samples of a HAKE annotation file, one run.

    Uses :func:`hake.engine.gt_hake.load_gt_hake`: ``pasta`` (N, 76) PaSta-76 multi-hots, ``parts``
    (N, 10) part flags (image level; all ones at instance level), ``objects`` (N, 80) objects present.
    """
    from hake.datasets.builders.gt_hake import load_gt_hake
    from hake.vocab import load

    if tuple(group_dims) != load().group_sizes("pasta76"):
        raise HakeError(f"annotations give PaSta-76 inputs; this model reads groups {tuple(group_dims)}")
    data = load_gt_hake(path, level)
    n = min(limit, len(data))
    out: Inputs = {"pasta": data.pasta[:n].astype(np.float32)}
    if n_parts:
        out["parts"] = (data.parts[:n] if data.parts is not None else np.ones((n, n_parts))).astype(np.float32)
    if n_objects:
        out["objects"] = data.objects[:n].astype(np.float32)
    return [out]


def hicodet_pair_batches(path: Path, limit: int = 256) -> list[PairBatch]:
    """Ground-truth human-object pairs of the first ``limit`` HICO-DET test images that have pairs.

    Boxes are converted from the official 1-based pixel numbers to 0-based pixels; no pixels are
    attached (for models that read only the layout, such as Spatial-PaSta).
    """
    from hake.datasets.hicodet import load_test_gt

    gt = load_test_gt(path)
    out: list[PairBatch] = []
    for i in range(len(gt)):
        if len(out) >= limit:
            break
        if len(gt.hoi[i]) == 0:
            continue
        w, h = (int(v) for v in gt.sizes[i])
        out.append(PairBatch(image_size=(w, h), boxes_h=(gt.boxes_h[i] - 1).astype(np.float32),
                             boxes_o=(gt.boxes_o[i] - 1).astype(np.float32),
                             object_labels=gt.object[i].astype(np.int64)))
    return out


def object_one_hot(labels: np.ndarray) -> np.ndarray:
    """(P, 80) float32 one-hot of HICO object labels; rows of label -1 stay zero."""
    labels = np.asarray(labels, np.int64).reshape(-1)
    out = np.zeros((len(labels), 80), np.float32)
    has = labels >= 0
    out[np.flatnonzero(has), labels[has]] = 1
    return out


def pasta_r_pair_inputs(batches: Sequence[PairBatch], n_parts: int, n_objects: int) -> list[Inputs]:
    """PaSta-R inputs from photos: the default PaSta model's PaSta-76 probabilities per pair.

    Part flags are 1 for every part (a detected person shows its parts to the model); objects are
    the pair's one-hot object label.
    """
    from hake.engine.infer.pipeline import load_pasta_model

    model = load_pasta_model()
    runs = []
    for b in batches:
        out: Inputs = {"pasta": np.asarray(model.predict(b).pasta, np.float32)}
        if n_parts:
            out["parts"] = np.ones((len(b), n_parts), np.float32)
        if n_objects:
            out["objects"] = object_one_hot(b.object_labels)
        runs.append(out)
    return runs


def a2v_inputs(model: Any, batches: Sequence[PairBatch]) -> list[Inputs]:
    """Activity2Vec graph inputs of each photo's pairs, through the predictor's own preprocessing."""
    from hake.models.a2v_predictor import A2VPredictor

    pred = model if isinstance(model, A2VPredictor) else A2VPredictor(model)
    runs = []
    for b in batches:
        t = {k: v.numpy() for k, v in pred.tensors(b).items()}
        if pred.reasoner is not None:
            t["objects"] = object_one_hot(b.object_labels)
        runs.append(t)
    return runs
