"""Fill a keypoint cache with the pipeline's pose estimator (``hake data keypoints``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from hake.datasets.keypoint_cache import write_keypoint_cache
from hake.datasets.torch import read_rgb
from hake.errors import HakeError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def image_files(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HakeError(f"image folder not found: {folder}")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def annotated_person_boxes(annotation: str | Path) -> dict[str, np.ndarray]:
    """Image name -> (P, 4) distinct human boxes of an instance-level annotation file."""
    from hake.datasets.hake_json import load_instance_level

    out: dict[str, np.ndarray] = {}
    for im in load_instance_level(annotation):
        boxes = np.unique(np.asarray([lab.box_h for lab in im.labels], np.float32).reshape(-1, 4), axis=0)
        out[im.name] = boxes
    return out


def fill_keypoint_cache(images: Iterable[Path], out: str | Path, pose: object, *, detector: object | None = None,
                        boxes: dict[str, np.ndarray] | None = None, min_score: float = 0.3) -> int:
    """Estimate COCO-17 poses of the persons of every image and write the cache; return the image count.

    Person boxes come from ``boxes[image name]`` (e.g. the annotated humans) when given, else from
    ``detector`` (detections of class person with score ≥ ``min_score``).
    """
    from hake.perception.base import PERSON

    entries: dict[str, dict] = {}
    for path in images:
        img = read_rgb(path, path.name)
        if boxes is not None:
            person = boxes.get(path.name, np.zeros((0, 4), np.float32))
        elif detector is not None:
            dets = detector.detect(img)
            person = np.asarray([d.box for d in dets if d.label == PERSON and d.score >= min_score],
                                np.float32).reshape(-1, 4)
        else:
            raise HakeError("need person boxes: pass an annotation file or a detector")
        kps = pose.estimate(img, person) if len(person) else np.zeros((0, 17, 3), np.float32)
        entries[path.name] = {"boxes": person, "keypoints": kps}
    write_keypoint_cache(out, entries)
    return len(entries)
