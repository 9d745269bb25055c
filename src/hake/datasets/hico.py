"""HICO image-level labels and predictions (no torch).

Labels per test image and HOI: +1 positive, -1 object present but HOI absent, 0 ambiguous, NaN
unknown (object absent). Two annotation formats:

- our JSON: ``{"list_test": [names], "images": [{"pos": [hoi], "neg": [hoi], "amb": [hoi]}],
  "train_pos_count": [600 ints]}`` with 0-based HOI ids; classes in none of the lists are unknown;
- the official ``anno.mat`` of hico_benchmark (``anno_test`` 600 x N with 1/0/-1/NaN,
  ``list_test``, ``anno_train``), read with scipy.io.

Predictions: ``{"scores": [[600 floats] per image]}`` (JSON) or an ``.npz``/``.npy`` (N, 600) array.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hake.datasets.hicodet import load_arrays
from hake.datasets.io import read_json_any
from hake.errors import DataError
from hake.vocab.sizes import NUM_HOIS


@dataclass
class HicoLabels:
    """Image-level labels.

    Attributes:
        names: N image names.
        labels: (N, 600) float64 in {+1, -1, 0, NaN}.
        train_pos_count: (600,) int64 positive training images per HOI (for Few@k).
    """

    names: list[str]
    labels: np.ndarray
    train_pos_count: np.ndarray


def _id_list(value: object, where: str, record: object, field: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise DataError("expected a list of HOI ids", file=where, record=record, field=field) from None
    if arr.size and (not np.isfinite(arr).all() or (arr != np.round(arr)).any() or arr.min() < 0
                     or arr.max() >= NUM_HOIS):
        raise DataError(f"HOI ids must be integers in 0..{NUM_HOIS - 1}", file=where, record=record, field=field)
    return arr.astype(np.int64)


def _train_counts(value: object, where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"expected {NUM_HOIS} non-negative counts", file=where, field="train_pos_count") from None
    if arr.shape != (NUM_HOIS,) or not np.isfinite(arr).all() or (arr < 0).any() or (arr >= 2**53).any():
        raise DataError(f"expected {NUM_HOIS} non-negative counts", file=where, field="train_pos_count")
    return arr.astype(np.int64)


def parse_labels_json(raw: object, where: str = "<memory>") -> HicoLabels:
    """Build :class:`HicoLabels` from our JSON format (see module doc)."""
    if not isinstance(raw, dict):
        raise DataError("expected a JSON object", file=where)
    for key in ("list_test", "images", "train_pos_count"):
        if key not in raw:
            raise DataError("missing key", file=where, field=key)
    names, images = raw["list_test"], raw["images"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError("expected a list of image names", file=where, field="list_test")
    if not isinstance(images, list):
        raise DataError("expected a list of label entries", file=where, field="images")
    if len(names) != len(images):
        raise DataError(f"{len(images)} label entries for {len(names)} names", file=where, field="images")
    labels = np.full((len(names), NUM_HOIS), np.nan)
    for i, entry in enumerate(images):
        rec = f"{i} ({names[i]})"
        if not isinstance(entry, dict):
            raise DataError("expected an object", file=where, record=rec, field="images")
        seen: set[int] = set()
        for field, value in (("pos", 1.0), ("neg", -1.0), ("amb", 0.0)):
            ids = _id_list(entry.get(field, []), where, rec, field)
            clash = seen.intersection(ids.tolist())
            if clash:
                raise DataError(f"HOI {sorted(clash)[0]} is in two label lists", file=where, record=rec, field=field)
            seen.update(ids.tolist())
            labels[i, ids] = value
    return HicoLabels(names, labels, _train_counts(raw["train_pos_count"], where))


def load_anno_mat(path: str | Path) -> HicoLabels:
    """Read the official hico_benchmark ``anno.mat`` (test labels, names, train counts)."""
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        mat = scipy.io.loadmat(str(path))
    except (OSError, ValueError, NotImplementedError, MatReadError, TypeError, KeyError, IndexError, EOFError,
            zlib.error, UnicodeDecodeError, MemoryError, OverflowError, struct.error) as err:
        raise DataError(f"cannot read .mat: {type(err).__name__}: {err}", file=path) from None
    for key in ("anno_test", "list_test", "anno_train"):
        if key not in mat:
            raise DataError("missing variable", file=path, field=key)
    try:
        test = np.asarray(mat["anno_test"], dtype=np.float64)
        train = np.asarray(mat["anno_train"], dtype=np.float64)
        names = [str(np.asarray(x).reshape(-1)[0]) for x in np.asarray(mat["list_test"]).reshape(-1)]
    except (TypeError, ValueError, OverflowError, IndexError) as err:
        raise DataError(f"variables of the wrong type: {err}", file=path, field="anno_test") from None
    if test.ndim != 2 or test.shape[0] != NUM_HOIS:
        raise DataError(f"expected {NUM_HOIS} rows, got shape {test.shape}", file=path, field="anno_test")
    bad = ~np.isnan(test) & ~np.isin(test, (-1.0, 0.0, 1.0))
    if bad.any():
        h, i = np.argwhere(bad)[0]
        raise DataError(f"label {test[h, i]} for HOI {h} is not one of 1/0/-1/NaN", file=path, record=int(i),
                        field="anno_test")
    if len(names) != test.shape[1]:
        raise DataError(f"{len(names)} names for {test.shape[1]} label columns", file=path, field="list_test")
    if train.ndim != 2 or train.shape[0] != NUM_HOIS:
        raise DataError(f"expected {NUM_HOIS} rows, got shape {train.shape}", file=path, field="anno_train")
    return HicoLabels(names, test.T.copy(), (train == 1).sum(axis=1).astype(np.int64))


def load_labels(path: str | Path) -> HicoLabels:
    """Labels from our JSON (also inside ``.tar.gz``) or the official ``anno.mat``."""
    if str(path).endswith(".mat"):
        return load_anno_mat(path)
    return parse_labels_json(read_json_any(path), str(path))


def load_predictions(path: str | Path, num_images: int) -> np.ndarray:
    """(N, 600) float64 scores from ``{"scores": [...]}`` JSON, ``.npy`` or ``.npz`` (key ``scores``).

    NaN scores are allowed (they rank first, as in MATLAB); the shape must match the labels.
    """
    path = Path(path)
    if path.suffix in (".npy", ".npz"):
        arr = load_arrays(path, ("scores",))["scores"]
    else:
        raw = read_json_any(path)
        if not isinstance(raw, dict) or "scores" not in raw:
            raise DataError("expected an object with key 'scores'", file=path, field="scores")
        rows = raw["scores"]
        if not isinstance(rows, list):
            raise DataError("expected a list of score rows", file=path, field="scores")
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != NUM_HOIS:
                n = len(row) if isinstance(row, list) else type(row).__name__
                raise DataError(f"expected {NUM_HOIS} scores, got {n}", file=path, record=i, field="scores")
        try:
            arr = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise DataError("scores must be numbers", file=path, field="scores") from None
    return check_scores(arr, num_images, str(path))


def check_scores(scores: np.ndarray, num_images: int, where: str | None = None) -> np.ndarray:
    """Validate an (N, 600) score matrix against the number of labelled images."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != NUM_HOIS:
        raise DataError(f"expected shape (N, {NUM_HOIS}), got {arr.shape}", file=where, field="scores")
    if arr.shape[0] != num_images:
        raise DataError(f"{arr.shape[0]} score rows for {num_images} labelled images", file=where, field="scores")
    return arr
