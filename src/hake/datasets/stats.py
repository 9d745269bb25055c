"""Counts of an annotation file whose format is detected from its content (``hake data stats``; no torch).

Formats: HAKE image level, HAKE instance level (HAKE-HICO-DET, HAKE-Large) and the HICO-DET test
ground truth (``instances_test2015.json``). What is counted:

- ``images``: entries of the file; ``labels``: HOI labels (image level: HOI ids over all images;
  instance level: human-object labels; HICO-DET GT: annotated pairs).
- ``labels_without_pasta``: instance level: labels whose ``action_labels`` is missing or empty
  (split into ``labels_missing_action_labels`` and ``labels_empty_action_labels``); image level:
  HOI labels of images whose PaSta lists mark no active state (only ``no_interaction``).
- ``pairs`` (HICO-DET GT): annotated (HOI, human box, object box) triplets over all images, i.e.
  :attr:`HicoDetGT.num_pairs`; in ``instances_test2015.json`` every such pair also has a distinct
  (human box, object box), so this equals the number of distinct box pairs (33,405).
- ``hoi_histogram``: (600,) labels per 0-based HOI id; ``pasta_histogram``: (76,) per PaSta-76
  state (image level: images; instance level: labels with part states, via ``pasta76()``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hake.datasets import hake_json
from hake.datasets.io import read_json_any
from hake.errors import DataError

FORMATS = ("hake_image_level", "hake_instance_level", "hicodet_test_gt")


def detect_format(raw: Any, where: str = "<memory>") -> str:
    """Name (one of :data:`FORMATS`) of the format of a parsed annotation file, judged by its keys."""
    if isinstance(raw, dict) and "annotation" in raw and "filenames" in raw:
        return "hicodet_test_gt"
    if isinstance(raw, dict) and raw:
        first = next(iter(raw.values()))
        if isinstance(first, dict) and "labels" in first:
            return "hake_instance_level"
        if isinstance(first, dict) and "hoi_id" in first and "parts_list" in first:
            return "hake_image_level"
    raise DataError("unknown annotation format (expected HAKE image level, HAKE instance level or "
                    "HICO-DET test GT)", file=where)


def image_level_stats(records: list[hake_json.ImageLevelRecord]) -> dict[str, Any]:
    """Counts of image-level records (module doc)."""
    hoi_hist = np.zeros(hake_json.NUM_HOIS, np.int64)
    pasta = np.stack([r.pasta76 for r in records]) if records else np.zeros((0, 76), np.uint8)
    active = pasta.astype(bool)
    active[:, sorted(hake_json.NO_INTERACTION_STATES)] = False
    n_hois = np.array([len(r.hois) for r in records], np.int64)
    for r in records:
        np.add.at(hoi_hist, r.hois, 1)
    return {
        "images": len(records), "images_without_hoi": int((n_hois == 0).sum()),
        "labels": int(n_hois.sum()), "labels_without_pasta": int(n_hois[~active.any(1)].sum()),
        "hoi_histogram": hoi_hist.tolist(), "pasta_histogram": pasta.sum(0, dtype=np.int64).tolist(),
    }


def instance_level_stats(images: list[hake_json.InstanceImage]) -> dict[str, Any]:
    """Counts of instance-level images (module doc)."""
    labels = [lab for im in images for lab in im.labels]
    hoi_hist = np.bincount(np.array([lab.hoi for lab in labels], np.int64), minlength=hake_json.NUM_HOIS)
    with_pasta = [lab.pasta76() for lab in labels if lab.has_pasta]
    missing = sum(lab.missing_action_labels for lab in labels)
    without = sum(not lab.has_pasta for lab in labels)
    return {
        "images": len(images), "images_without_labels": sum(not im.labels for im in images),
        "labels": len(labels), "labels_without_pasta": without,
        "labels_missing_action_labels": missing, "labels_empty_action_labels": without - missing,
        "hoi_histogram": hoi_hist.tolist(),
        "pasta_histogram": (np.sum(with_pasta, 0, dtype=np.int64) if with_pasta else np.zeros(76, np.int64)).tolist(),
    }


def hicodet_stats(gt: Any) -> dict[str, Any]:
    """Counts of a :class:`hake.datasets.hicodet.HicoDetGT`."""
    hois = np.concatenate(gt.hoi) if len(gt) else np.zeros(0, np.int64)
    return {
        "images": len(gt), "empty_images": sum(len(h) == 0 for h in gt.hoi),
        "pairs": gt.num_pairs, "labels": gt.num_pairs,
        "hoi_histogram": np.bincount(hois.astype(np.int64), minlength=hake_json.NUM_HOIS).tolist(),
    }


def dataset_stats(path: str | Path) -> dict[str, Any]:
    """Detect the format of ``path`` (``.json`` or ``.tar.gz``) and count it; ``format`` names it."""
    where = str(path)
    raw = read_json_any(path)
    fmt = detect_format(raw, where)
    if fmt == "hake_image_level":
        out = image_level_stats(hake_json.parse_image_level(raw, where))
    elif fmt == "hake_instance_level":
        out = instance_level_stats(hake_json.parse_instance_level(raw, where))
    else:
        from hake.datasets.hicodet import parse_test_gt

        out = hicodet_stats(parse_test_gt(raw, where))
    return {"format": fmt, "path": where, **out}
