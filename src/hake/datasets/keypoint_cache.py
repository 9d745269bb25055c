"""The keypoint cache: COCO-17 poses per image, filled once by ``hake data keypoints`` (no torch).

File format (JSON)::

    {"format": "hake-keypoints-v1",
     "images": {"<image name>": {"boxes": [[x1, y1, x2, y2], ...],          # person boxes, pixels
                                 "keypoints": [[[x, y, score] * 17], ...]}}}  # one pose per box

Training looks a labelled human box up by its best IoU with the cached person boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hake.datasets.io import read_json
from hake.errors import DataError
from hake.geometry.boxes import iou_matrix

FORMAT = "hake-keypoints-v1"


def write_keypoint_cache(path: str | Path, images: dict[str, dict]) -> None:
    """Write ``{image name: {"boxes": (P, 4), "keypoints": (P, 17, 3)}}`` to ``path`` as JSON."""
    import json

    clean = {
        name: {"boxes": np.asarray(e["boxes"], float).reshape(-1, 4).round(2).tolist(),
               "keypoints": np.asarray(e["keypoints"], float).reshape(-1, 17, 3).round(3).tolist()}
        for name, e in images.items()
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"format": FORMAT, "images": clean}), encoding="utf-8")


class KeypointCache:
    """Cached poses of a set of images.

    Args:
        path: a file written by :func:`write_keypoint_cache`.

    Raises:
        DataError: wrong format, or an entry whose boxes and keypoints disagree in shape.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        raw = read_json(self.path)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise DataError(f"not a keypoint cache (format must be {FORMAT!r})", file=self.path, field="format")
        self._entries: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, e in raw.get("images", {}).items():
            try:
                boxes = np.asarray(e["boxes"], np.float32).reshape(-1, 4)
                kps = np.asarray(e["keypoints"], np.float32).reshape(-1, 17, 3)
            except (KeyError, TypeError, ValueError, OverflowError) as err:
                raise DataError(f"bad entry: {err}", file=self.path, record=name, field="keypoints") from None
            if len(boxes) != len(kps):
                raise DataError(f"{len(boxes)} boxes but {len(kps)} poses", file=self.path, record=name,
                                field="keypoints")
            self._entries[name] = (boxes, kps)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def persons(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """All cached persons of an image: boxes (P, 4) and keypoints (P, 17, 3), pixels."""
        boxes, kps = self._entries[name]
        return boxes.copy(), kps.copy()

    def lookup(self, name: str, box: np.ndarray, min_iou: float = 0.5) -> np.ndarray | None:
        """(17, 3) keypoints of the cached person best overlapping ``box`` (x1y1x2y2 pixels), or None."""
        if name not in self._entries:
            return None
        boxes, kps = self._entries[name]
        if len(boxes) == 0:
            return None
        iou = iou_matrix(np.asarray(box, np.float32)[None], boxes)[0]
        best = int(iou.argmax())
        return kps[best] if iou[best] >= min_iou else None
