"""``hake benchmark spatial``: Spatial-PaSta on HICO-DET test with ground-truth pairs.

Every distinct GT human-object pair (:func:`~hake.engine.spatial_data.gt_pairs`) is a candidate,
scored for every HOI of its object, and the rows ``(hoi, box_h - 1, box_o - 1, score)`` go through
hake's HICO-DET evaluator (Default and Known-Object, Full / Rare / Non-Rare mAP). The baseline
``object_prior`` scores each candidate with the training frequency of the HOI given its object
(the counts are stored in the Spatial-PaSta weights), so it ranks pairs of one HOI only by image
order: whatever Spatial-PaSta gains over it comes from the layout.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from hake.datasets.hicodet import HicoDetGT
from hake.datasets.spatial_pairs import PAIR_IOU, GtPairs, gt_pairs, object_prior
from hake.evaluation.hicodet import evaluate_hicodet
from hake.vocab.core import load as load_vocab

METHODS = ("spatial_pasta", "object_prior")


def subset_gt(gt: HicoDetGT, images: np.ndarray) -> HicoDetGT:
    """The GT restricted to the images ``images`` (0-based indices), in that order."""
    idx = [int(i) for i in images]
    pick = (lambda xs: [xs[i] for i in idx])  # noqa: E731
    return replace(gt, filenames=pick(gt.filenames), sizes=gt.sizes[idx], boxes_h=pick(gt.boxes_h),
                   boxes_o=pick(gt.boxes_o), hoi=pick(gt.hoi), object=pick(gt.object), verb=pick(gt.verb),
                   image_pos_labels=None if gt.image_pos_labels is None else pick(gt.image_pos_labels))


def candidate_rows(pairs: GtPairs, scores: np.ndarray) -> dict[str, np.ndarray]:
    """One detection row per (pair, HOI of the pair's object).

    Args:
        pairs: M unique GT pairs; scores: (M, 600) HOI scores.

    Returns:
        Columns ``image_index`` (R,), ``hoi`` (R,), ``boxes_h``/``boxes_o`` (R, 4) 0-based pixels, ``scores`` (R,).
    """
    hoi_object = load_vocab().hoi_object
    pair, hoi = np.nonzero(hoi_object[None, :] == pairs.object[:, None])
    return {"image_index": pairs.image_index[pair], "hoi": hoi.astype(np.int64), "boxes_h": pairs.boxes_h[pair],
            "boxes_o": pairs.boxes_o[pair], "scores": np.asarray(scores, np.float64)[pair, hoi]}


def spatial_scores(model: Any, pairs: GtPairs, batch_size: int = 4096) -> np.ndarray:
    """(M, 600) Spatial-PaSta HOI probabilities of the pairs (HOIs of other objects are 0)."""
    import torch

    out = np.zeros((len(pairs), 600), np.float32)
    with torch.no_grad():
        for s in range(0, len(pairs), batch_size):
            sl = slice(s, s + batch_size)
            obj = pairs.object[sl]
            logits = model(*model.inputs(pairs.boxes_h[sl], pairs.boxes_o[sl], pairs.sizes[sl], obj))
            out[sl] = model.probabilities(logits, torch.from_numpy(obj))[1].numpy()
    return out


def _summary(result: Any) -> dict[str, dict[str, float]]:
    return {mode: {k: float(getattr(getattr(result, mode), k)) for k in ("full", "rare", "non_rare")}
            for mode in ("default", "known_object")}


def run_spatial_benchmark(gt: HicoDetGT, model: Any, hoi_counts: np.ndarray | None = None,
                          merge_iou: float = PAIR_IOU) -> dict[str, Any]:
    """Evaluate Spatial-PaSta and the object prior on the GT pairs of ``gt``.

    Args:
        gt: HICO-DET test GT (or a :func:`subset_gt` of it).
        model: a :class:`~hake.models.spatial.SpatialPasta` (eval mode).
        hoi_counts: (600,) training pair counts for the prior; default the counts stored in ``model``.
        merge_iou: GT entries of one object overlapping at this IoU are one candidate pair (1 = identical boxes
            only), see :func:`~hake.engine.spatial_data.gt_pairs`.

    Returns:
        ``{"results": {method: {"default": {full, rare, non_rare}, "known_object": {...}}}, "pairs", "num_images",
        "num_pairs", "num_rows"}``; mAP values are fractions in [0, 1].
    """
    pairs = gt_pairs(gt, merge_iou=merge_iou)
    counts = model.hoi_counts.numpy() if hoi_counts is None else np.asarray(hoi_counts)
    scored = {"spatial_pasta": spatial_scores(model, pairs),
              "object_prior": np.broadcast_to(object_prior(counts)[None], (len(pairs), 600))}
    results = {}
    rows = {}
    for name in METHODS:
        rows = candidate_rows(pairs, scored[name])
        results[name] = _summary(evaluate_hicodet(gt, **rows))
    rule = ("identical GT boxes" if merge_iou >= 1 else
            f"GT entries with the same object and human/object IoU >= {merge_iou} merged")
    return {"results": results, "pairs": rule, "num_images": len(gt), "num_pairs": len(pairs),
            "num_rows": int(len(rows["hoi"]))}


def format_table(report: dict[str, Any]) -> str:
    """A Markdown table of the report's mAP values (percent, two decimals)."""
    lines = ["| method | Default Full | Default Rare | Default Non-Rare | KO Full | KO Rare | KO Non-Rare |",
             "|---|---|---|---|---|---|---|"]
    for name, res in report["results"].items():
        vals = [res[m][k] * 100 for m in ("default", "known_object") for k in ("full", "rare", "non_rare")]
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    return "\n".join(lines)
