"""Training arrays for Spatial-PaSta from HAKE-HICO-DET, and test pairs from the HICO-DET test GT (numpy).

Training (:func:`training_pairs`): per image, the instance labels that share a pair (same object,
human and object IoU ≥ 0.7, :func:`hake.engine.gt_hake.merge_pairs`) become one multi-label row
(HOIs, verbs, the OR of their PaSta-76 states). Two kinds of extra rows teach what the pipeline
also asks: *negatives* — a person with another pair's object it is not labelled with —
labelled ``no_interaction`` (HOI, verb, every group's state), and *person-only* rows (object -1,
object box = human box) with the OR of that person's states and verbs and no HOI.

Test (:func:`gt_pairs`): every distinct human-object pair of each HICO-DET test image (GT entries
of one object whose human and object boxes overlap at IoU ≥ 0.7 are one pair, or only identical
boxes with ``merge_iou=1``), boxes turned from the official 1-based numbers into 0-based pixels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from hake.datasets.builders.gt_hake import _clear_no_interaction, merge_pairs
from hake.datasets.hicodet import HicoDetGT
from hake.errors import DataError
from hake.geometry.boxes import iou_matrix, iou_plus_one
from hake.vocab.core import NO_INTERACTION_VERB
from hake.vocab.core import load as load_vocab

PAIR_IOU = 0.7


@dataclass
class PairArrays:
    """N training pairs.

    Attributes:
        boxes_h, boxes_o: (N, 4) float32 x1y1x2y2 pixels, 0-based (object box = human box when object is -1).
        sizes: (N, 2) float32 image (width, height) in pixels.
        object: (N,) int64 HICO object 0..79, -1 for person-only rows.
        pasta: (N, 76) float32 multi-hot PaSta-76 targets; has_pasta (N,) bool says which rows have them.
        verb: (N, 117) float32 multi-hot; hoi: (N, 600) float32 multi-hot (all zero for person-only rows).
        kind: (N,) int8 0 = labelled pair, 1 = negative, 2 = person-only.
        context: (N, 160) float32 :func:`pair_context` of the row among the labelled
            pairs of its image (the objects of the person's other pairs, the image's objects).
    """

    boxes_h: np.ndarray
    boxes_o: np.ndarray
    sizes: np.ndarray
    object: np.ndarray
    pasta: np.ndarray
    has_pasta: np.ndarray
    verb: np.ndarray
    hoi: np.ndarray
    kind: np.ndarray
    context: np.ndarray

    def __len__(self) -> int:
        return int(len(self.object))

    def subset(self, idx: np.ndarray) -> PairArrays:
        """The rows ``idx`` (any numpy index)."""
        return PairArrays(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


#: Width of :func:`pair_context`: the objects of the person's other pairs (80) and of the image (80).
CONTEXT_DIM = 160
CONTEXT_IOU = 0.7


def pair_context(boxes_h: np.ndarray, boxes_o: np.ndarray, objects: np.ndarray, cand_h: np.ndarray,
                 cand_o: np.ndarray, cand_objects: np.ndarray) -> np.ndarray:
    """Context of each query pair from the candidate pairs of its image (all in one image).

    Args:
        boxes_h, boxes_o, objects: (Q, 4) pixel boxes and (Q,) objects (-1 none) of the query pairs.
        cand_h, cand_o, cand_objects: (C, 4), (C, 4), (C,) the image's candidate human-object pairs.

    Returns:
        (Q, :data:`CONTEXT_DIM`) float32: columns 0..79 the objects of the candidates with the same person
        (human IoU ≥ 0.7) other than the query's own object (a different class, or object IoU < 0.7);
        80..159 the objects of all candidates. Multi-hot, so duplicate candidates do not count twice.
    """
    q_obj = np.asarray(objects, np.int64).reshape(-1)
    c_obj = np.asarray(cand_objects, np.int64).reshape(-1)
    out = np.zeros((len(q_obj), CONTEXT_DIM), np.float32)
    valid = c_obj >= 0
    if not len(q_obj) or not valid.any():
        return out
    ch, co, c_obj = np.asarray(cand_h)[valid], np.asarray(cand_o)[valid], c_obj[valid]
    same_person = iou_matrix(boxes_h, ch) >= CONTEXT_IOU
    own = (q_obj[:, None] == c_obj[None, :]) & (iou_matrix(boxes_o, co) >= CONTEXT_IOU)
    own &= (q_obj >= 0)[:, None]
    other = same_person & ~own  # (Q, C)
    onehot = np.eye(80, dtype=np.float32)[c_obj]  # (C, 80)
    out[:, :80] = np.minimum(other.astype(np.float32) @ onehot, 1)
    out[:, 80:160] = onehot.max(axis=0)[None, :]
    return out


def _no_interaction_pasta() -> np.ndarray:
    out = np.zeros(76, np.float32)
    for s in load_vocab().pasta_slices("pasta76").values():
        out[s.stop - 1] = 1
    return out


def _same(boxes: np.ndarray) -> np.ndarray:
    """(n, n) bool: boxes i and j overlap at IoU ≥ :data:`PAIR_IOU`."""
    n = len(boxes)
    return iou_plus_one(np.repeat(boxes, n, 0), np.tile(boxes, (n, 1))).reshape(n, n) >= PAIR_IOU


def _image_rows(im: Any, where: str, rng: np.random.Generator, negatives: int, person_only: bool) -> list[dict]:
    vocab = load_vocab()
    labels = list(im.labels)
    hoi = np.array([lab.hoi for lab in labels], np.int64)
    if hoi.min() < 0 or hoi.max() >= 600:
        raise DataError("HOI id outside 0..599", file=where, record=im.name, field="hoi_id")
    bh = np.array([lab.box_h for lab in labels], np.float64).reshape(-1, 4)
    bo = np.array([lab.box_o for lab in labels], np.float64).reshape(-1, 4)
    if not (np.isfinite(bh).all() and np.isfinite(bo).all()):
        raise DataError("non-finite box", file=where, record=im.name, field="human_bbox")
    size = np.array([labels[0].width, labels[0].height], np.float32)
    objects = vocab.hoi_object[hoi]
    pair = merge_pairs(bh, bo, objects, PAIR_IOU)
    rows = []
    for p in range(int(pair.max()) + 1):
        members = np.flatnonzero(pair == p)
        first = members[0]
        states = [labels[m].pasta76() for m in members if labels[m].has_pasta]
        pasta = np.max(np.stack(states).astype(np.float32), 0) if states else np.zeros(76, np.float32)
        ids = np.unique(hoi[members])
        rows.append({"boxes_h": bh[first], "boxes_o": bo[first], "object": int(objects[first]), "pasta": pasta,
                     "has_pasta": bool(states), "hoi": ids, "verb": np.unique(vocab.hoi_verb[ids]), "kind": 0})
    extra = []
    n = len(rows)
    if negatives > 0 and n > 1:
        same_h, same_o = (_same(np.stack([r[key] for r in rows])) for key in ("boxes_h", "boxes_o"))
        # (person of i, object of j) is labelled when some pair k has that person and that object
        labelled = (same_h.astype(np.int64) @ same_o.astype(np.int64)) > 0
        cand = np.argwhere(~labelled)
        for k in rng.permutation(len(cand))[:negatives]:
            i, j = cand[k]
            o = rows[j]["object"]
            no_hoi = np.flatnonzero((vocab.hoi_object == o) & (vocab.hoi_verb == NO_INTERACTION_VERB))
            extra.append({"boxes_h": rows[i]["boxes_h"], "boxes_o": rows[j]["boxes_o"], "object": o,
                          "pasta": _no_interaction_pasta(), "has_pasta": True, "hoi": no_hoi,
                          "verb": np.array([NO_INTERACTION_VERB]), "kind": 1})
    if person_only:
        humans = merge_pairs(np.stack([r["boxes_h"] for r in rows]), np.stack([r["boxes_h"] for r in rows]),
                             np.zeros(n, np.int64), PAIR_IOU)
        for h in range(int(humans.max()) + 1):
            members = [rows[m] for m in np.flatnonzero(humans == h)]
            with_pasta = [r["pasta"] for r in members if r["has_pasta"]]
            pasta = np.max(np.stack(with_pasta), 0) if with_pasta else np.zeros(76, np.float32)
            extra.append({"boxes_h": members[0]["boxes_h"], "boxes_o": members[0]["boxes_h"], "object": -1,
                          "pasta": pasta, "has_pasta": bool(with_pasta), "hoi": np.zeros(0, np.int64),
                          "verb": np.unique(np.concatenate([r["verb"] for r in members])), "kind": 2})
    everything = rows + extra
    context = pair_context(np.stack([r["boxes_h"] for r in everything]), np.stack([r["boxes_o"] for r in everything]),
                           np.array([r["object"] for r in everything]), np.stack([r["boxes_h"] for r in rows]),
                           np.stack([r["boxes_o"] for r in rows]), np.array([r["object"] for r in rows]))
    for r, c in zip(everything, context):
        r["size"], r["context"] = size, c
    return everything


def training_pairs(images: Iterable[Any], where: str = "<memory>", *, negatives: int = 2, person_only: bool = True,
                   seed: int = 0) -> PairArrays:
    """Merge HAKE instance labels into Spatial-PaSta training rows (see the module doc).

    Args:
        images: ``InstanceImage`` s (:func:`hake.datasets.hake_json.load_instance_level`): ``name`` and ``labels``
            with ``hoi`` (0-based), ``box_h``/``box_o`` (x1y1x2y2 pixels), ``width``/``height``, ``has_pasta``,
            ``pasta76()``.
        where: the source file, for error messages.
        negatives: at most this many negative rows per image.
        person_only: add one person-only row per distinct person.
        seed: seeds the choice of negatives.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for im in images:
        if list(im.labels):
            rows.extend(_image_rows(im, where, rng, negatives, person_only))
    if not rows:
        raise DataError("no labelled human-object pair", file=where)
    n = len(rows)
    hoi = np.zeros((n, 600), np.float32)
    verb = np.zeros((n, 117), np.float32)
    for i, r in enumerate(rows):
        hoi[i, r["hoi"]] = 1
        verb[i, r["verb"]] = 1
    pasta = np.stack([r["pasta"] for r in rows])
    has = np.array([r["has_pasta"] for r in rows])
    pasta[has] = _clear_no_interaction(pasta[has])
    return PairArrays(
        boxes_h=np.stack([r["boxes_h"] for r in rows]).astype(np.float32),
        boxes_o=np.stack([r["boxes_o"] for r in rows]).astype(np.float32),
        sizes=np.stack([r["size"] for r in rows]).astype(np.float32),
        object=np.array([r["object"] for r in rows], np.int64), pasta=pasta, has_pasta=has, verb=verb, hoi=hoi,
        kind=np.array([r["kind"] for r in rows], np.int8), context=np.stack([r["context"] for r in rows]))


def hoi_counts(pairs: PairArrays) -> np.ndarray:
    """(600,) float64 number of labelled training pairs (kind 0) per HOI."""
    return pairs.hoi[pairs.kind == 0].sum(0).astype(np.float64)


def object_prior(counts: np.ndarray) -> np.ndarray:
    """(600,) HOI frequency given its object: count / (pairs of that object), add-one smoothed per object."""
    obj = load_vocab().hoi_object
    counts = np.asarray(counts, np.float64) + 1.0
    per_object = np.bincount(obj, weights=counts, minlength=80)
    return counts / per_object[obj]


@dataclass
class GtPairs:
    """Unique GT pairs of the HICO-DET test set.

    Attributes:
        image_index: (M,) int64 index into the GT's images.
        boxes_h, boxes_o: (M, 4) float32 x1y1x2y2 **0-based** pixels (GT numbers minus 1).
        object: (M,) int64 HICO object 0..79.
        sizes: (M, 2) float32 image (width, height) in pixels.
    """

    image_index: np.ndarray
    boxes_h: np.ndarray
    boxes_o: np.ndarray
    object: np.ndarray
    sizes: np.ndarray

    def __len__(self) -> int:
        return int(len(self.image_index))


def gt_pairs(gt: HicoDetGT, images: np.ndarray | None = None, merge_iou: float = PAIR_IOU) -> GtPairs:
    """The distinct human-object pairs of the GT images ``images`` (default all), in image and GT order.

    HICO-DET stores boxes per HOI annotation, so one person doing three things with one object appears
    three times with slightly different boxes. With ``merge_iou`` < 1 GT entries of one image with the same
    object and human and object IoU ≥ ``merge_iou`` are one pair (the first entry's boxes,
    :func:`~hake.engine.gt_hake.merge_pairs`); with ``merge_iou`` ≥ 1 only identical (box_h, box_o, object)
    entries are merged.
    """
    idx = np.arange(len(gt)) if images is None else np.asarray(images, np.int64)
    img, bh, bo, obj = [], [], [], []
    for i in idx:
        if not len(gt.hoi[i]):
            continue
        if merge_iou >= 1:
            key = np.concatenate([gt.boxes_h[i], gt.boxes_o[i], gt.object[i][:, None].astype(np.float64)], 1)
            first = np.sort(np.unique(key, axis=0, return_index=True)[1])
        else:
            group = merge_pairs(gt.boxes_h[i], gt.boxes_o[i], gt.object[i], merge_iou)
            first = np.unique(group, return_index=True)[1]
        img.append(np.full(len(first), i, np.int64))
        bh.append(gt.boxes_h[i][first] - 1)
        bo.append(gt.boxes_o[i][first] - 1)
        obj.append(gt.object[i][first])
    if not img:
        return GtPairs(np.zeros(0, np.int64), np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32),
                       np.zeros(0, np.int64), np.zeros((0, 2), np.float32))
    image_index = np.concatenate(img)
    return GtPairs(image_index, np.concatenate(bh).astype(np.float32), np.concatenate(bo).astype(np.float32),
                   np.concatenate(obj).astype(np.int64), gt.sizes[image_index].astype(np.float32))


def gt_pair_context(pairs: GtPairs) -> np.ndarray:
    """(M, :data:`CONTEXT_DIM`) :func:`pair_context` of every GT pair among the GT pairs of its image."""
    out = np.zeros((len(pairs), CONTEXT_DIM), np.float32)
    for img in np.unique(pairs.image_index):
        rows = np.flatnonzero(pairs.image_index == img)
        bh, bo, obj = pairs.boxes_h[rows], pairs.boxes_o[rows], pairs.object[rows]
        out[rows] = pair_context(bh, bo, obj, bh, bo, obj)
    return out
