"""``hake benchmark spatial``: Spatial-PaSta on HICO-DET test with ground-truth pairs.

Protocols (:data:`PROTOCOLS`):

- ``gt_pairs_raw`` (primary, as published, e.g. IDN's ground-truth-pair setting): every GT entry of
  ``instances_test2015.json`` is a candidate pair (only entries with identical boxes and object are
  one), scored for every HOI of its object. HICO-DET stores boxes per HOI annotation, so one person
  doing three things with one object is three candidates with slightly different boxes;
- ``gt_pairs_merged``: GT entries of one image with the same object whose human and object boxes
  overlap at IoU ≥ 0.7 are one candidate (hake's earlier protocol; easier, not comparable to papers).

The rows ``(hoi, box_h - 1, box_o - 1, score)`` go through hake's HICO-DET evaluator (Default and
Known-Object, Full / Rare / Non-Rare mAP). Methods:

- ``spatial_pasta``: one or more Spatial-PaSta weight files (one per training seed): mean ± sd; a model
  with image context reads :func:`~hake.datasets.builders.spatial_pairs.gt_pair_context` (the other GT pairs of
  the image: their boxes and objects, no label);
- ``object_prior``: the training frequency of the HOI given its object (counts stored in the weights),
  constant within a class, so its AP is decided by tie order: ties are broken at random
  (:func:`~hake.engine.bench.spread.random_tie_break`), mean ± sd over seeds;
- ``chance``: uniform random scores, mean ± sd over seeds.

``pair_nms`` (on by default, for every method alike) is ordinary pair NMS over the candidates of one
image: for each HOI, a candidate whose human and object boxes overlap a higher-scored candidate of
the same object at IoU ≥ 0.7 has its score multiplied by :data:`NMS_FACTOR`. It reads only the test
boxes and the method's own scores (no label).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from hake.datasets.builders.gt_hake import merge_pairs
from hake.datasets.builders.spatial_pairs import PAIR_IOU, GtPairs, gt_pair_context, gt_pairs, object_prior
from hake.datasets.hicodet import HicoDetGT
from hake.engine.bench.spread import mean_sd, random_tie_break
from hake.errors import HakeError
from hake.evaluation.hicodet import evaluate_hicodet
from hake.vocab.core import load as load_vocab
from hake.vocab.sizes import NUM_HOIS

METHODS = ("spatial_pasta", "object_prior", "chance")
#: protocol name -> the IoU at which GT entries are one candidate (1 = identical boxes only).
PROTOCOLS = {"gt_pairs_raw": 1.0, "gt_pairs_merged": PAIR_IOU}
NMS_FACTOR = 1e-3
#: Weight of the verb head in Spatial-PaSta's HOI score (:func:`spatial_scores`), chosen on hash fold 1 of
#: the HAKE-HICO-DET training images (models trained on folds 2-4; raw GT pairs, pair NMS; never the test
#: set): Full / Rare mAP 36.83 / 8.71 % at 0, 37.78 / 10.18 at 0.25, 38.01 / 10.66 at 0.5, 37.56 / 10.77 at 0.75
#: (3-epoch recipe); with the 12-epoch recipe 39.28 / 9.14 at 0.25, 39.80 / 11.04 at 0.5, 39.45 / 11.10 at 0.75.
VERB_WEIGHT = 0.5
#: Published anchors on HICO-DET test with ground-truth pairs (mAP fractions) and their source.
ANCHORS = {"IDN (Li et al., NeurIPS 2020), GT pairs, with pixels": {"full": 0.4398, "rare": 0.4027,
                                                                    "non_rare": 0.4509}}


def subset_gt(gt: HicoDetGT, images: np.ndarray) -> HicoDetGT:
    """The GT restricted to the images ``images`` (0-based indices), in that order."""
    idx = [int(i) for i in images]
    pick = (lambda xs: [xs[i] for i in idx])  # noqa: E731
    return replace(gt, filenames=pick(gt.filenames), sizes=gt.sizes[idx], boxes_h=pick(gt.boxes_h),
                   boxes_o=pick(gt.boxes_o), hoi=pick(gt.hoi), object=pick(gt.object), verb=pick(gt.verb),
                   image_pos_labels=None if gt.image_pos_labels is None else pick(gt.image_pos_labels))


def _label_boxes(image: Any, key: str) -> np.ndarray:
    """(L, 4) float64 boxes ``key`` of an instance image's labels, + 1 (official 1-based numbers)."""
    return np.array([getattr(lab, key) for lab in image.labels], np.float64).reshape(-1, 4) + 1


def gt_from_instances(images: Sequence[Any], where: str = "<memory>") -> HicoDetGT:
    """A HICO-DET-style GT from HAKE-HICO-DET instance labels (one GT entry per label, boxes + 1 as the
    official 1-based numbers), for a validation split of the training images; rare / non-rare as HICO-DET.

    Args:
        images: ``InstanceImage`` s (:func:`hake.datasets.hake_json.load_instance_level`) with labels.
    """
    vocab = load_vocab()
    keep = [im for im in images if list(im.labels)]
    rare = np.asarray(vocab.rare_hois, np.int64)
    non_rare = np.setdiff1d(np.arange(600), rare)
    hoi = [np.array([lab.hoi for lab in im.labels], np.int64) for im in keep]
    return HicoDetGT(filenames=[im.name for im in keep],
                     sizes=np.array([[im.labels[0].width, im.labels[0].height] for im in keep], np.int64),
                     boxes_h=[_label_boxes(im, "box_h") for im in keep],
                     boxes_o=[_label_boxes(im, "box_o") for im in keep],
                     hoi=hoi, object=[vocab.hoi_object[h] for h in hoi], verb=[vocab.hoi_verb[h] for h in hoi],
                     rare=rare, non_rare=non_rare, source=where)


def candidate_rows(pairs: GtPairs, scores: np.ndarray) -> dict[str, np.ndarray]:
    """One detection row per (pair, HOI of the pair's object).

    Args:
        pairs: M GT pairs; scores: (M, 600) HOI scores.

    Returns:
        Columns ``image_index`` (R,), ``hoi`` (R,), ``boxes_h``/``boxes_o`` (R, 4) 0-based pixels, ``scores`` (R,).
    """
    hoi_object = load_vocab().hoi_object
    pair, hoi = np.nonzero(hoi_object[None, :] == pairs.object[:, None])
    return {"image_index": pairs.image_index[pair], "hoi": hoi.astype(np.int64), "boxes_h": pairs.boxes_h[pair],
            "boxes_o": pairs.boxes_o[pair], "scores": np.asarray(scores, np.float64)[pair, hoi]}


def duplicate_groups(pairs: GtPairs, iou: float = PAIR_IOU) -> np.ndarray:
    """(M,) int64 group id: candidates of one image and object whose human and object boxes overlap at
    IoU ≥ ``iou`` with the group's first candidate share it (greedy, in candidate order)."""
    group = np.zeros(len(pairs), np.int64)
    offset = 0
    for img in np.unique(pairs.image_index):
        rows = np.flatnonzero(pairs.image_index == img)
        g = merge_pairs(pairs.boxes_h[rows].astype(np.float64), pairs.boxes_o[rows].astype(np.float64),
                        pairs.object[rows])
        group[rows] = g + offset
        offset += int(g.max()) + 1
    return group


def pair_nms(scores: np.ndarray, group: np.ndarray, factor: float = NMS_FACTOR) -> np.ndarray:
    """(M, 600) scores where, per HOI, every member of a duplicate group but its best (first on ties)
    is multiplied by ``factor``.

    Args:
        scores: (M, 600) HOI scores in [0, 1]; group: (M,) from :func:`duplicate_groups`.
    """
    s: np.ndarray = np.asarray(scores, np.float64)
    if not len(s):
        return np.array(s, np.float64)
    order = np.lexsort((np.arange(len(s)), group))  # by group, members in candidate order
    g, ss = group[order], s[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    best = np.maximum.reduceat(ss, starts, axis=0)  # (G, 600)
    gid = np.cumsum(np.r_[True, g[1:] != g[:-1]]) - 1
    is_best = (ss == best[gid]).astype(np.int64)
    cum = np.cumsum(is_best, axis=0)
    before = np.vstack([np.zeros((1, s.shape[1]), np.int64), cum[:-1]])[starts]  # count before each group
    first = (is_best == 1) & (cum - before[gid] == 1)  # the first member reaching the group maximum
    out = np.where(first, ss, ss * factor)
    result = np.empty_like(out)
    result[order] = out
    return result


def spatial_scores(model: Any, pairs: GtPairs, batch_size: int = 4096, verb_weight: float = 0.0) -> np.ndarray:
    """(M, 600) Spatial-PaSta HOI scores of the pairs (HOIs of other objects are 0).

    With ``verb_weight`` w > 0 the score is ``p(HOI)^(1 - w) · p(verb of the HOI)^w`` (the verb head is
    shared by every object, which helps HOIs with few training pairs).
    """
    import torch

    hoi_verb = torch.from_numpy(load_vocab().hoi_verb)
    out = np.zeros((len(pairs), 600), np.float32)
    context = torch.from_numpy(gt_pair_context(pairs)) if model.config.context_dim else None
    with torch.no_grad():
        for s in range(0, len(pairs), batch_size):
            sl = slice(s, s + batch_size)
            obj = pairs.object[sl]
            logits = model(*model.inputs(pairs.boxes_h[sl], pairs.boxes_o[sl], pairs.sizes[sl], obj),
                           None if context is None else context[sl])
            _, hoi, verb = model.probabilities(logits, torch.from_numpy(obj))
            if verb_weight:
                hoi = hoi.clamp(min=0) ** (1 - verb_weight) * verb[:, hoi_verb] ** verb_weight * (hoi > 0)
            out[sl] = hoi.numpy()
    return out


def _summary(result: Any) -> dict[str, dict[str, float]]:
    return {mode: {k: float(getattr(getattr(result, mode), k)) for k in ("full", "rare", "non_rare")}
            for mode in ("default", "known_object")}


def _evaluate(gt: HicoDetGT, pairs: GtPairs, scores: np.ndarray, group: np.ndarray | None,
              tie_seed: int | None = None) -> dict[str, dict[str, float]]:
    """Summary of one scoring; ``tie_seed`` breaks tied scores at random (``spread.random_tie_break``)."""
    if group is not None:
        scores = pair_nms(scores, group)
    rows = candidate_rows(pairs, scores)
    if tie_seed is not None:
        rows["scores"] = random_tie_break(rows["scores"], np.random.default_rng(tie_seed))
    return _summary(evaluate_hicodet(gt, **rows))


def run_spatial_benchmark(gt: HicoDetGT, models: list[Any], protocol: str = "gt_pairs_raw", seeds: int = 5,
                          hoi_counts: np.ndarray | None = None, use_pair_nms: bool = True,
                          verb_weight: float | None = None) -> dict[str, Any]:
    """Evaluate Spatial-PaSta, the object prior and chance on the GT pairs of ``gt``.

    Args:
        gt: HICO-DET test GT (or a :func:`subset_gt` of it).
        models: :class:`~hake.models.spatial.SpatialPasta` s (eval mode), one per training seed.
        protocol: a key of :data:`PROTOCOLS`.
        seeds: tie-break / random-score seeds of ``object_prior`` and ``chance``.
        hoi_counts: (600,) training pair counts for the prior; default the counts stored in ``models[0]``.
        use_pair_nms: apply :func:`pair_nms` to every method's scores.
        verb_weight: of :func:`spatial_scores`; default :data:`VERB_WEIGHT`.

    Returns:
        ``{"protocol", "results": {method: {"default": {full, rare, non_rare}, "known_object": {...},
        "sd": {"default": ..., "known_object": ...}, "seeds": n}}, "anchors", "pair_nms", "num_images",
        "num_pairs", "num_rows", "classes"}``; mAP values are fractions in [0, 1] (sd with ddof 1, 0 for one run).
    """
    if protocol not in PROTOCOLS:
        raise HakeError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if not models or seeds < 1:
        raise HakeError("need at least one Spatial-PaSta model and one seed")
    vw = VERB_WEIGHT if verb_weight is None else verb_weight
    pairs = gt_pairs(gt, merge_iou=PROTOCOLS[protocol])
    group = duplicate_groups(pairs) if use_pair_nms else None
    counts = models[0].hoi_counts.numpy() if hoi_counts is None else np.asarray(hoi_counts)
    prior = np.broadcast_to(object_prior(counts)[None], (len(pairs), 600))
    runs: dict[str, list[dict[str, dict[str, float]]]] = {
        "spatial_pasta": [_evaluate(gt, pairs, spatial_scores(m, pairs, verb_weight=vw), group) for m in models],
        "object_prior": [_evaluate(gt, pairs, prior, group, tie_seed=s) for s in range(seeds)],
        "chance": [_evaluate(gt, pairs, np.random.default_rng(1000 + s).random((len(pairs), 600)), group)
                   for s in range(seeds)],
    }
    n_rows = int((load_vocab().hoi_object[None, :] == pairs.object[:, None]).sum())
    return {"protocol": protocol, "results": {name: mean_sd(r) for name, r in runs.items()},
            "anchors": ANCHORS, "pair_nms": use_pair_nms, "verb_weight": vw, "num_images": len(gt),
            "num_pairs": len(pairs), "num_rows": n_rows, "classes": class_counts(gt)}


def class_counts(gt: HicoDetGT) -> dict[str, int]:
    """The HOI classes the Full / Rare / Non-Rare means average (the official code averages all of
    them), and how many of each have at least one GT pair in ``gt`` (fewer with ``--max-images``)."""
    present = gt.hois_with_gt()
    return {"full": NUM_HOIS, "rare": int(len(gt.rare)), "non_rare": int(len(gt.non_rare)),
            "full_with_gt": int(present.sum()), "rare_with_gt": int(present[gt.rare].sum()),
            "non_rare_with_gt": int(present[gt.non_rare].sum())}


def format_table(report: dict[str, Any]) -> str:
    """A Markdown table of the report's mAP values (percent, mean ± sd, two decimals) and the anchors."""
    c = report["classes"]
    lines = [f"protocol {report['protocol']}, pair NMS {'on' if report['pair_nms'] else 'off'}; means over "
             f"{c['full']} / {c['rare']} / {c['non_rare']} HOIs (Full / Rare / Non-Rare), "
             f"{c['full_with_gt']} / {c['rare_with_gt']} / {c['non_rare_with_gt']} with a GT pair here",
             "| method | runs | Default Full | Default Rare | Default Non-Rare | KO Full | KO Rare | KO Non-Rare |",
             "|---|---|---|---|---|---|---|---|"]
    for name, res in report["results"].items():
        cells = [f"{res[m][k] * 100:.2f} ± {res['sd'][m][k] * 100:.2f}"
                 for m in ("default", "known_object") for k in ("full", "rare", "non_rare")]
        lines.append(f"| {name} | {res['seeds']} | " + " | ".join(cells) + " |")
    for name, a in report.get("anchors", {}).items():
        lines.append(f"| {name} | – | " + " | ".join(f"{a[k] * 100:.2f}" for k in ("full", "rare", "non_rare"))
                     + " | – | – | – |")
    return "\n".join(lines)
