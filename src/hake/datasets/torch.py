"""Torch ``Dataset`` wrappers over the HAKE readers (the only datasets module importing torch).

:class:`InstanceDataset` serves HAKE-HICO-DET style folders (also HAKE-Large and the synthetic
set): one item per image, holding every labelled human-object pair plus sampled negative pairs.
Labels of the same pair (human IoU and object IoU ≥ 0.7) are merged into one multi-label target.
Negatives follow the original recipe: a human paired with another pair's object it is not
labelled with gets the ``no_interaction`` verb, the ``no_interaction <object>`` HOI and every
group's ``no_interaction`` state.

Item layout (P pairs, boxes x1y1x2y2 pixels of the returned image, 0-based)::

    image (3, H, W) float [0, 1]; boxes_h, boxes_o (P, 4); part_boxes (P, 10, 4);
    pose_maps (P, 64, 64); pasta (P, n_pasta); verb (P, n_verbs); hoi (P, 600); object (P,) int64;
    has_pasta (P,) bool; name str
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from hake.datasets.io import read_image
from hake.datasets.keypoint_cache import KeypointCache
from hake.errors import DataError
from hake.geometry.boxes import iou_matrix
from hake.geometry.mirror import mirror_boxes, mirror_keypoints
from hake.vocab import load
from hake.vocab.core import NO_INTERACTION_VERB


@dataclass
class Augment:
    """Training-time augmentation.

    Attributes:
        flip: probability of a horizontal flip (keypoints swap left and right).
        brightness: brightness and contrast factors drawn from [1 - b, 1 + b].
        scale: the resize factor is multiplied by a factor from [1 - s, 1 + s].
    """

    flip: float = 0.5
    brightness: float = 0.2
    scale: float = 0.1


def read_rgb(path: Path, record: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file (:func:`hake.datasets.io.read_image`: bombs
    refused, 16-bit / float pixels scaled by range); errors name the file and the record."""
    if not path.is_file():
        raise DataError("image missing", file=path, record=record, field="path_prefix")
    try:
        return read_image(path)
    except DataError as err:
        reason = str(err).split(": ", 1)[-1]  # the message without its "file ...:" prefix
        raise DataError(f"image unreadable: {reason}", file=path, record=record, field="path_prefix") from None


def pair_targets(labels: list[Any], pasta_dim: int, n_verbs: int) -> dict[str, np.ndarray]:
    """Merge HAKE instance labels into pairs; return boxes and multi-hot targets (numpy)."""
    vocab = load()
    boxes_h: list[np.ndarray] = []
    boxes_o: list[np.ndarray] = []
    rows: list[dict[str, Any]] = []
    for lab in labels:
        bh, bo = np.asarray(lab.box_h, np.float32), np.asarray(lab.box_o, np.float32)
        match = -1
        for i, (h, o) in enumerate(zip(boxes_h, boxes_o)):
            if iou_matrix(bh[None], h[None])[0, 0] >= 0.7 and iou_matrix(bo[None], o[None])[0, 0] >= 0.7:
                match = i
                break
        if match < 0:
            boxes_h.append(bh)
            boxes_o.append(bo)
            rows.append({"hoi": set(), "pasta": np.zeros(pasta_dim, np.float32), "has_pasta": False})
            match = len(rows) - 1
        rows[match]["hoi"].add(int(lab.hoi))
        if lab.has_pasta:
            rows[match]["pasta"] = np.maximum(rows[match]["pasta"], np.asarray(lab.pasta76(), np.float32))
            rows[match]["has_pasta"] = True
    n = len(rows)
    hoi = np.zeros((n, len(vocab.hois)), np.float32)
    verb = np.zeros((n, n_verbs), np.float32)
    obj = np.zeros(n, np.int64)
    for i, r in enumerate(rows):
        ids = sorted(r["hoi"])
        hoi[i, ids] = 1
        verb[i, vocab.hoi_verb[ids]] = 1
        obj[i] = vocab.hoi_object[ids[0]]
    return {
        "boxes_h": np.asarray(boxes_h, np.float32).reshape(n, 4),
        "boxes_o": np.asarray(boxes_o, np.float32).reshape(n, 4),
        "pasta": np.asarray([r["pasta"] for r in rows], np.float32).reshape(n, pasta_dim),
        "has_pasta": np.asarray([r["has_pasta"] for r in rows], bool), "verb": verb, "hoi": hoi, "object": obj,
    }


def add_negatives(t: dict[str, np.ndarray], rng: np.random.Generator, max_neg: int) -> dict[str, np.ndarray]:
    """Append up to ``max_neg`` (human, other pair's object) negatives labelled no_interaction."""
    vocab = load()
    n = len(t["boxes_h"])
    cand = [(i, j) for i in range(n) for j in range(n)
            if i != j and iou_matrix(t["boxes_h"][i:i + 1], t["boxes_h"][j:j + 1])[0, 0] < 0.7]
    if not cand or max_neg <= 0:
        return t
    pick = [cand[k] for k in rng.permutation(len(cand))[:max_neg]]
    no_state = np.zeros(t["pasta"].shape[1], np.float32)
    for s in vocab.pasta_slices("pasta76" if t["pasta"].shape[1] == 76 else "pasta93").values():
        no_state[s.stop - 1] = 1
    out = {k: list(v) for k, v in t.items()}
    for i, j in pick:
        o = int(t["object"][j])
        hoi = np.zeros(len(vocab.hois), np.float32)
        hoi[int(np.flatnonzero((vocab.hoi_object == o) & (vocab.hoi_verb == NO_INTERACTION_VERB))[0])] = 1
        verb = np.zeros(t["verb"].shape[1], np.float32)
        verb[NO_INTERACTION_VERB] = 1
        for key, val in [("boxes_h", t["boxes_h"][i]), ("boxes_o", t["boxes_o"][j]), ("pasta", no_state),
                         ("has_pasta", True), ("verb", verb), ("hoi", hoi), ("object", o)]:
            out[key].append(val)
    return {k: np.asarray(v, t[k].dtype) for k, v in out.items()}


class InstanceDataset(Dataset):
    """HAKE-HICO-DET style pairs with pixels, part boxes and pose maps.

    Args:
        annotation: instance-level JSON (or .tar.gz) as read by ``hake_json.load_instance_level``.
        image_root: folder that ``path_prefix/name`` is relative to.
        keypoints: the keypoint cache; persons without a cached pose use the person box as part boxes.
        image_size: resize so the longer side has this many pixels (``None`` keeps the size).
        augment: training augmentation, or ``None``.
        negatives: negative pairs sampled per image.
        n_verbs: verb label space size (117).
        only_with_pasta: drop images none of whose pairs carries part states.
        seed: seed of the augmentation / negative-sampling generator.

    Indices may exceed ``len(self)``: item ``i`` is image ``i % len(self)`` and seeds its random
    draws with ``(seed, i)``, so :class:`EpochSampler` (which adds ``epoch * len``) makes every
    epoch's augmentation reproducible, also after resuming from a checkpoint.
    """

    def __init__(self, annotation: str | Path, image_root: str | Path, keypoints: KeypointCache | None = None,
                 image_size: int | None = None, augment: Augment | None = None, negatives: int = 0,
                 n_verbs: int = 117, only_with_pasta: bool = False, seed: int = 0) -> None:
        from hake.datasets.hake_json import load_instance_level

        self.image_root = Path(image_root)
        self.images = [im for im in load_instance_level(annotation) if im.labels]
        if only_with_pasta:
            self.images = [im for im in self.images if any(lab.has_pasta for lab in im.labels)]
        self.keypoints, self.image_size, self.augment = keypoints, image_size, augment
        self.negatives, self.n_verbs, self.seed = negatives, n_verbs, seed

    def __len__(self) -> int:
        return len(self.images)

    def _poses(self, name: str, boxes_h: np.ndarray) -> np.ndarray:
        kps = np.zeros((len(boxes_h), 17, 3), np.float32)
        if self.keypoints is not None:
            for i, b in enumerate(boxes_h):
                found = self.keypoints.lookup(name, b)
                if found is not None:
                    kps[i] = found
        return kps

    def __getitem__(self, index: int) -> dict[str, Any]:
        from hake.geometry import part_boxes, pose_map

        rng = np.random.default_rng([self.seed, index])
        im = self.images[index % len(self.images)]
        img = read_rgb(self.image_root / im.path_prefix / im.name, im.name)
        t = pair_targets(im.labels, 76, self.n_verbs)
        t = add_negatives(t, rng, self.negatives)
        kps = self._poses(im.name, t["boxes_h"])
        scale = 1.0 if self.image_size is None else self.image_size / max(img.shape[:2])
        aug = self.augment
        if aug is not None:
            scale *= float(rng.uniform(1 - aug.scale, 1 + aug.scale))
        if scale != 1.0:
            img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            t["boxes_h"], t["boxes_o"] = t["boxes_h"] * scale, t["boxes_o"] * scale
            kps[..., :2] *= scale
        h, w = img.shape[:2]
        pix = img.astype(np.float32) / 255.0
        if aug is not None:
            if rng.random() < aug.flip:
                pix = pix[:, ::-1]
                for key in ("boxes_h", "boxes_o"):
                    t[key] = mirror_boxes(t[key], w).astype(t[key].dtype)
                kps = mirror_keypoints(kps, w)
            c, b = rng.uniform(1 - aug.brightness, 1 + aug.brightness, 2)
            pix = np.clip((pix - pix.mean()) * c + pix.mean() * b, 0, 1).astype(np.float32)
        pb = np.asarray(part_boxes(kps, t["boxes_h"], (w, h)), np.float32).reshape(-1, 10, 4)
        maps = np.asarray(pose_map(kps, t["boxes_h"], size=64), np.float32).reshape(-1, 64, 64)
        item = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in t.items()}
        item.update(image=torch.from_numpy(np.ascontiguousarray(pix.transpose(2, 0, 1))),
                    part_boxes=torch.from_numpy(pb), pose_maps=torch.from_numpy(maps), name=im.name)
        return item


class ImageLevelDataset(Dataset):
    """HAKE-HICO image-level labels (HICO images): instances = the persons of the keypoint cache.

    Labels belong to the image (``pasta`` (1, 76), ``verb`` (1, n_verbs), ``hoi`` (1, 600)); training
    pools the persons' scores with a max (multiple-instance learning, as HAKE's image-level model).
    An image without cached persons gets one instance covering the whole image. Pairs use the
    person box as object box. Items carry ``image_level = True``.

    Args:
        annotation: ``hico-image-level`` JSON (or .tar.gz) as read by ``hake_json.load_image_level``.
        image_root: folder holding the images (``image_root/name``).
        keypoints: keypoint cache with the persons of every image.
        image_size: resize so the longer side has this many pixels (``None`` keeps the size).
        n_verbs: verb label space size (117).
    """

    def __init__(self, annotation: str | Path, image_root: str | Path, keypoints: KeypointCache | None = None,
                 image_size: int | None = None, n_verbs: int = 117) -> None:
        from hake.datasets.hake_json import load_image_level

        self.records = load_image_level(annotation)
        self.image_root, self.keypoints, self.image_size, self.n_verbs = Path(image_root), keypoints, image_size, \
            n_verbs

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        from hake.geometry import part_boxes, pose_map

        vocab = load()
        rec = self.records[index % len(self.records)]
        img = read_rgb(self.image_root / rec.name, rec.name)
        h, w = img.shape[:2]
        boxes, kps = np.zeros((0, 4), np.float32), np.zeros((0, 17, 3), np.float32)
        if self.keypoints is not None and rec.name in self.keypoints:
            boxes, kps = self.keypoints.persons(rec.name)
        if len(boxes) == 0:
            boxes, kps = np.array([[0, 0, w - 1, h - 1]], np.float32), np.zeros((1, 17, 3), np.float32)
        scale = 1.0 if self.image_size is None else self.image_size / max(h, w)
        if scale != 1.0:
            img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            boxes, kps = boxes * scale, kps * np.array([scale, scale, 1], np.float32)
        hh, ww = img.shape[:2]
        verb = np.zeros((1, self.n_verbs), np.float32)
        verb[0, vocab.hoi_verb[rec.hois]] = 1
        hoi = np.zeros((1, len(vocab.hois)), np.float32)
        hoi[0, rec.hois] = 1
        t = {"boxes_h": boxes, "boxes_o": boxes.copy(), "pasta": np.asarray(rec.pasta76, np.float32)[None],
             "verb": verb, "hoi": hoi, "object": np.zeros(1, np.int64), "has_pasta": np.ones(1, bool),
             "part_boxes": np.asarray(part_boxes(kps, boxes, (ww, hh)), np.float32).reshape(-1, 10, 4),
             "pose_maps": np.asarray(pose_map(kps, boxes, size=64), np.float32).reshape(-1, 64, 64)}
        item: dict[str, Any] = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in t.items()}
        item.update(image=torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float() / 255.0,
                    name=rec.name, image_level=True)
        return item


class EpochSampler(Sampler[int]):
    """Shuffled indices ``epoch * n + perm_epoch[i]``, a pure function of (seed, epoch).

    Lightning calls :meth:`set_epoch` before every epoch, so a resumed run sees the same order and
    (with :class:`InstanceDataset`) the same augmentation as an uninterrupted one.
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n))
        perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        return iter((self.epoch * self.n + perm).tolist())


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch items: pad images to the largest (bottom/right, so boxes stay valid), concatenate pairs.

    Adds ``batch_index`` (N,) with each pair's image index, ``names`` and ``image_level`` (targets are
    then one row per image, not per pair).
    """
    hmax = max(it["image"].shape[1] for it in items)
    wmax = max(it["image"].shape[2] for it in items)
    images = torch.zeros(len(items), 3, hmax, wmax)
    for i, it in enumerate(items):
        images[i, :, : it["image"].shape[1], : it["image"].shape[2]] = it["image"]
    keys = ["boxes_h", "boxes_o", "part_boxes", "pose_maps", "pasta", "verb", "hoi", "object", "has_pasta"]
    out: dict[str, Any] = {k: torch.cat([it[k] for it in items], 0) for k in keys}
    out["batch_index"] = torch.cat([torch.full((len(it["boxes_h"]),), i, dtype=torch.int64)
                                    for i, it in enumerate(items)])
    out["images"], out["names"] = images, [it["name"] for it in items]
    out["image_level"] = bool(items[0].get("image_level", False))
    return out
