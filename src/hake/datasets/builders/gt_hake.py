"""GT-HAKE: activities from ground-truth part states, on the real HAKE annotations (no torch).

Two views of the HAKE data become :class:`GtHakeData` (one row per sample):

- image level (HAKE-HICO, 38,118 images): the six group one-hots (PaSta-76) + 10 part flags,
  the objects present (the objects of the image's HOIs) and the image's HOIs;
- instance level (HAKE-HICO-DET): one row per human-object pair. A pair is the set of labels of an
  image with the same object class whose human boxes and object boxes both overlap with IoU ≥ 0.7
  (HICO-DET annotates each HOI of a pair separately with slightly different boxes); its PaSta is the
  OR of its labels' part states (a group's ``no_interaction`` is cleared when it has another state),
  its HOIs the union. Pairs without any part state are left out.

Held-out split (fixed, documented): a sample is held out iff ``int(sha1(image name)[:8], 16) % 5 == 0``
(≈ 20 % of the images; the instance level splits by image as well). Folds 1..4 (``% 5 == fold``) are
the other four disjoint splits by the same hash, for spreads over splits. Samples without any HOI are
dropped. Held-out labels follow the HICO convention: +1 listed HOI, -1 other HOIs of an object that is
present, NaN (unknown) for HOIs of absent objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from hake.errors import DataError
from hake.geometry.boxes import iou_plus_one
from hake.vocab.core import load as load_vocab

PAIR_IOU = 0.7
#: The held-out rule in words (written into configs and benchmark reports).
SPLIT_RULE = "held out iff int(sha1(image name)[:8], 16) % 5 == 0; samples without HOIs dropped"
#: Number of disjoint hash folds (fold k holds out the images with hash % 5 == k).
N_FOLDS = 5


def is_heldout(name: str, fold: int = 0) -> bool:
    """The fixed 20 % held-out split: ``int(sha1(name)[:8], 16) % 5 == fold`` (fold 0 is the default split)."""
    if not 0 <= fold < N_FOLDS:
        raise DataError(f"fold must be in 0..{N_FOLDS - 1}, got {fold}", field="fold")
    return int(hashlib.sha1(name.encode("utf-8")).hexdigest()[:8], 16) % N_FOLDS == fold


@dataclass
class GtHakeData:
    """GT-HAKE samples as float32 arrays (0/1 values).

    Attributes:
        names: (N,) image name of each sample.
        pasta: (N, 76) PaSta-76 multi-hot, groups foot..head.
        parts: (N, 10) part flags in HAKE part order, or None (instance level).
        objects: (N, 80) objects present (HICO order).
        hois: (N, 600) target HOIs (0-based).
    """

    names: np.ndarray
    pasta: np.ndarray
    parts: np.ndarray | None
    objects: np.ndarray
    hois: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, mask: np.ndarray) -> GtHakeData:
        """Rows where ``mask`` (bool (N,) or indices) selects."""
        return GtHakeData(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[mask]
                             for f in fields(self)})

    @property
    def verbs(self) -> np.ndarray:
        """(N, 117) verbs of the HOIs."""
        return np.minimum(self.hois @ load_vocab().hoi_to_verb_matrix, 1.0).astype(np.float32)

    def heldout_mask(self, fold: int = 0) -> np.ndarray:
        """(N,) bool, True for samples of held-out images of ``fold`` (:func:`is_heldout`)."""
        return np.fromiter((is_heldout(str(n), fold) for n in self.names), bool, len(self.names))

    def split(self, fold: int = 0) -> tuple[GtHakeData, GtHakeData]:
        """(train, held-out) of ``fold`` (0 = the default split)."""
        m = self.heldout_mask(fold)
        return self.subset(~m), self.subset(m)

    def hico_labels(self) -> np.ndarray:
        """(N, 600) float64: +1 listed HOI, -1 other HOI of a present object, NaN object absent."""
        obj_of_hoi = load_vocab().hoi_object
        present = self.objects[:, obj_of_hoi] > 0
        labels = np.where(present, -1.0, np.nan)
        labels[self.hois > 0] = 1.0
        return labels

    def train_pos_count(self) -> np.ndarray:
        """(600,) int64 number of samples positive for each HOI."""
        return (self.hois > 0).sum(axis=0).astype(np.int64)


def _objects_of(hoi_ids: np.ndarray) -> np.ndarray:
    out = np.zeros(80, np.float32)
    out[load_vocab().hoi_object[hoi_ids]] = 1
    return out


def _multi_hot(ids: Iterable[int], n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    out[np.asarray(list(ids), np.int64)] = 1
    return out


def image_level_data(records: list[Any], where: str = "<memory>") -> GtHakeData:
    """Rows of the image-level records that have at least one HOI.

    Args:
        records: ``ImageLevelRecord`` s (``name``, ``hois`` 0-based int array, ``pasta76`` (76,),
            ``parts`` (10,)) from :func:`hake.datasets.hake_json.load_image_level`.
    """
    keep = [r for r in records if len(r.hois)]
    for r in keep:
        if np.asarray(r.pasta76).shape != (76,) or np.asarray(r.parts).shape != (10,):
            raise DataError("pasta76 must have 76 and parts 10 entries", file=where, record=r.name, field="pasta76")
        if np.min(r.hois) < 0 or np.max(r.hois) >= 600:
            raise DataError("HOI id outside 0..599", file=where, record=r.name, field="hoi_id")
    if not keep:
        raise DataError("no image with an HOI", file=where)
    return GtHakeData(
        names=np.array([r.name for r in keep]),
        pasta=np.stack([np.asarray(r.pasta76, np.float32) for r in keep]),
        parts=np.stack([np.asarray(r.parts, np.float32) for r in keep]),
        objects=np.stack([_objects_of(np.asarray(r.hois, np.int64)) for r in keep]),
        hois=np.stack([_multi_hot(r.hois, 600) for r in keep]),
    )


def merge_pairs(boxes_h: np.ndarray, boxes_o: np.ndarray, objects: np.ndarray, iou: float = PAIR_IOU) -> np.ndarray:
    """Pair id of each label of one image: label j joins the first earlier pair whose first label has
    the same object and human/object IoU ≥ ``iou`` with it (greedy, in label order).

    Args:
        boxes_h, boxes_o: (L, 4) x1y1x2y2 pixel boxes; objects: (L,) object index.

    Returns:
        (L,) int64 pair index, 0-based, in order of first appearance.
    """
    n = len(objects)
    pair = -np.ones(n, np.int64)
    heads: list[int] = []
    for j in range(n):
        if heads:
            h = np.asarray(heads)
            ok = (objects[h] == objects[j]) & (iou_plus_one(boxes_h[h], np.repeat(boxes_h[j:j + 1], len(h), 0)) >= iou)
            ok &= iou_plus_one(boxes_o[h], np.repeat(boxes_o[j:j + 1], len(h), 0)) >= iou
            if ok.any():
                pair[j] = pair[h[np.argmax(ok)]]
                continue
        pair[j] = len(heads)
        heads.append(j)
    return pair


def _clear_no_interaction(pasta: np.ndarray) -> np.ndarray:
    for s in load_vocab().pasta_slices("pasta76").values():
        block = pasta[..., s]
        active = block[..., :-1].max(axis=-1) > 0
        block[..., -1] = np.where(active, 0, block[..., -1])
    return pasta


def instance_level_data(images: list[Any], where: str = "<memory>") -> GtHakeData:
    """One row per human-object pair with part states (see the module doc).

    Args:
        images: ``InstanceImage`` s from :func:`hake.datasets.hake_json.load_instance_level`; each label
            has ``hoi`` (0-based), ``box_h``/``box_o`` (x1y1x2y2 pixels), ``has_pasta`` and ``pasta76()``.
    """
    hoi_obj = load_vocab().hoi_object
    names, pasta, objects, hois = [], [], [], []
    for im in images:
        labels = list(im.labels)
        if not labels:
            continue
        hoi = np.array([lab.hoi for lab in labels], np.int64)
        if hoi.min() < 0 or hoi.max() >= 600:
            raise DataError("HOI id outside 0..599", file=where, record=im.name, field="hoi_id")
        bh = np.array([lab.box_h for lab in labels], np.float64).reshape(-1, 4)
        bo = np.array([lab.box_o for lab in labels], np.float64).reshape(-1, 4)
        pair = merge_pairs(bh, bo, hoi_obj[hoi])
        for p in range(pair.max() + 1):
            members = np.flatnonzero(pair == p)
            with_pasta = [labels[m].pasta76() for m in members if labels[m].has_pasta]
            if not with_pasta:
                continue
            names.append(im.name)
            pasta.append(np.max(np.stack(with_pasta).astype(np.float32), axis=0))
            objects.append(_objects_of(hoi[members]))
            hois.append(_multi_hot(hoi[members], 600))
    if not names:
        raise DataError("no human-object pair with part states", file=where)
    return GtHakeData(np.array(names), _clear_no_interaction(np.stack(pasta)), None, np.stack(objects), np.stack(hois))


def load_gt_hake(path: str | Path, level: str = "image") -> GtHakeData:
    """Read a HAKE annotation file (``.json`` or ``.tar.gz``) at ``level`` "image" or "instance"."""
    from hake.datasets import hake_json

    if level == "image":
        return image_level_data(hake_json.load_image_level(path), str(path))
    if level == "instance":
        return instance_level_data(hake_json.load_instance_level(path), str(path))
    raise DataError(f"unknown level {level!r}; choose image or instance", file=path, field="level")
