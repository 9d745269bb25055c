"""``hake benchmark photos``: the inference pipeline of ``hake infer`` on a COCO-format folder of real photos.

Runs the pipeline on every image of a COCO instances file and scores what a user would see
(:mod:`hake.engine.bench.photo_metrics`): COCO box and keypoint AP (pycocotools), and with a
``hoi_labels_*.json`` file the HOI mAP and PaSta AP of the labelled persons. The pipeline reports
every part state to the benchmark (``top_states`` = all) and every HOI of each pair above
``hoi_threshold``. ``seconds_per_image`` is the wall time of the pipeline call (decoding excluded).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hake.datasets.io import read_json
from hake.engine.bench.photo_metrics import LabelledPerson, hoi_map, parse_labels, pasta_metrics, perception_metrics
from hake.engine.infer.pairs import ALL_STATES
from hake.engine.infer.pipeline import Pipeline
from hake.engine.infer.runner import read_image
from hake.errors import DataError
from hake.structures import FrameResult
from hake.vocab import load as load_vocab

#: The report's figures, in the order of the table.
KEYS = ("bbox_ap", "person_ap", "person_ap50", "person_ar_large", "keypoint_ap", "hoi_map", "pasta_map")
GROUPS = ("foot", "leg", "hip", "hand", "arm", "head")


@dataclass
class PhotoSet:
    """A COCO-format set of photos.

    Attributes:
        images: folder of the image files.
        instances: the COCO instances document (boxes of all classes).
        keypoints: the COCO person keypoints document, or None.
        labels: image id -> labelled persons (:func:`~hake.engine.bench.photo_metrics.parse_labels`), or None.
        image_ids: the images benchmarked, in file order of ``instances``.
    """

    images: Path
    instances: dict[str, Any]
    keypoints: dict[str, Any] | None
    labels: dict[int, list[LabelledPerson]] | None
    image_ids: list[int]

    def file_of(self, image_id: int) -> Path:
        """Path of an image by its COCO id."""
        return self.images / self._files[image_id]

    def __post_init__(self) -> None:
        self._files = {int(im["id"]): str(im["file_name"]) for im in self.instances["images"]}


def _coco_doc(path: Path, need_keypoints: bool = False) -> dict[str, Any]:
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise DataError("expected a COCO object with images, annotations, categories", file=path)
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            raise DataError(f"missing list {key!r} of a COCO annotation file", file=path, field=key)
    for k, im in enumerate(doc["images"]):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise DataError("an image needs id and file_name", file=path, record=k, field="images")
    for k, a in enumerate(doc["annotations"]):
        fields = ("image_id", "category_id", "bbox") + (("keypoints",) if need_keypoints else ())
        missing = [f for f in fields if not isinstance(a, dict) or f not in a]
        if missing:
            raise DataError(f"annotation lacks {', '.join(missing)}", file=path, record=k, field=missing[0])
        if len(a["bbox"]) != 4:
            raise DataError("bbox needs 4 numbers x, y, w, h", file=path, record=a.get("id", k), field="bbox")
        a.setdefault("iscrowd", 0)
        a.setdefault("area", float(a["bbox"][2]) * float(a["bbox"][3]))
    return doc


def load_photo_set(images: Path, instances: Path, keypoints: Path | None = None, labels: Path | None = None,
                   max_images: int = 0) -> PhotoSet:
    """Read and check a COCO-format photo set; ``max_images`` > 0 keeps the first N images (by id).

    Raises:
        DataError: a malformed annotation file, naming the file, record and field.
    """
    if not Path(images).is_dir():
        raise DataError("not a folder of images", file=images)
    inst = _coco_doc(Path(instances))
    kps = None if keypoints is None else _coco_doc(Path(keypoints), need_keypoints=True)
    lab = None if labels is None else parse_labels(read_json(labels), str(labels))
    ids = sorted(int(im["id"]) for im in inst["images"])
    if max_images:
        ids = ids[:max_images]
    return PhotoSet(Path(images), inst, kps, lab, ids)


def _coco_category_of_hico() -> np.ndarray:
    """(80,) COCO category id (1..90) of each HICO object index."""
    out = np.zeros(80, np.int64)
    for coco_id, hico in load_vocab().coco91_to_hico.items():
        out[hico] = coco_id
    return out


def coco_rows(image_id: int, result: FrameResult) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """COCO result rows of one frame: boxes of persons and objects (``bbox`` x, y, w, h pixels), and
    the persons' keypoints (51 numbers; score = the person's score x the mean keypoint score, the
    usual rescoring of top-down pose; persons whose keypoints all score 0 have no pose and no row)."""
    cat = _coco_category_of_hico()
    boxes, poses = [], []
    for person in result.persons:
        x1, y1, x2, y2 = person.box
        boxes.append({"image_id": image_id, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                      "score": person.score})
        kp_score = float(np.mean([k[2] for k in person.keypoints])) if person.keypoints else 0.0
        if kp_score > 0:
            flat = [float(v) for x, y, _ in person.keypoints for v in (x, y, 1.0)]
            poses.append({"image_id": image_id, "category_id": 1, "keypoints": flat,
                          "score": person.score * kp_score})
    for obj in result.objects:
        x1, y1, x2, y2 = obj.box
        boxes.append({"image_id": image_id, "category_id": int(cat[obj.label]), "bbox": [x1, y1, x2 - x1, y2 - y1],
                      "score": obj.score})
    return boxes, poses


def run_photos_benchmark(pipeline: Pipeline, photos: PhotoSet,
                         on_image: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run ``pipeline`` on every photo of ``photos`` and score it.

    The pipeline's ``top_states`` is set to every state for the run (and restored afterwards).

    Args:
        on_image: called as ``on_image(done, total)`` after each photo (a progress bar).

    Returns:
        The report: the figures of :data:`KEYS` (fractions in [0, 1], None where not computable),
        ``pasta_map_per_group`` and ``pasta_top1`` {group: value}, ``seconds_per_image``, counts.
    """
    results: dict[int, FrameResult] = {}
    boxes: list[dict[str, Any]] = []
    poses: list[dict[str, Any]] = []
    seconds = 0.0
    saved = pipeline.config.top_states
    pipeline.config.top_states = ALL_STATES
    try:
        for k, image_id in enumerate(photos.image_ids):
            path = photos.file_of(image_id)
            if not path.is_file():
                raise DataError("image listed in the instances file is missing", file=path, record=image_id)
            image = read_image(path)
            start = time.perf_counter()
            result = pipeline(image, source=path.name)
            seconds += time.perf_counter() - start
            results[image_id] = result
            b, p = coco_rows(image_id, result)
            boxes += b
            poses += p
            if on_image is not None:
                on_image(k + 1, len(photos.image_ids))
    finally:
        pipeline.config.top_states = saved
    report: dict[str, Any] = perception_metrics(photos.instances, photos.keypoints, boxes, poses, photos.image_ids)
    report.update({"hoi_map": None, "pasta_map": None, "pasta_map_per_group": {}, "pasta_top1": {}})
    if photos.labels is not None:
        labels = {i: v for i, v in photos.labels.items() if i in set(photos.image_ids)}
        report["hoi_map"] = hoi_map(labels, photos.instances, results)
        report.update(pasta_metrics(labels, results))
    n = max(len(photos.image_ids), 1)
    report["seconds_per_image"] = seconds / n
    report["images"] = len(photos.image_ids)
    report["persons_found"] = sum(len(r.persons) for r in results.values())
    return report


def report_table(report: dict[str, Any], title: str) -> Any:
    """A rich Table of one report: one row per figure (group rows for PaSta AP and top-1)."""
    from rich.table import Table

    def fmt(v: Any) -> str:
        return "–" if v is None else f"{v:.3f}"

    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in KEYS:
        table.add_row(key, fmt(report.get(key)))
    for group in GROUPS:
        if group in report.get("pasta_map_per_group", {}):
            table.add_row(f"pasta AP {group} / top-1",
                          f"{fmt(report['pasta_map_per_group'][group])} / {fmt(report['pasta_top1'][group])}")
    table.add_row("seconds_per_image", f"{report['seconds_per_image']:.3f}")
    return table
