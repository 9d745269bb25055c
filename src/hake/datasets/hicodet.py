"""HICO-DET test ground truth (``instances_test2015.json``) and detection files (no torch).

The GT file is the fredzzhang/hicodet conversion of ``anno_bbox.mat``: per image
``{boxes_h, boxes_o, hoi, object, verb}`` with 0-based ids and boxes in the official **1-based**
MATLAB pixel numbers (kept as stored). Optionally ``image_pos_labels``: per image the HOI ids
labelled +1 at image level (what the Known-Object setting needs; the official code reads them
from ``anno.mat``), and ``correspondence``: ``[hoi, object, verb]`` per HOI, the official table
that maps a (verb, object) pair to its HOI.

Detections (hake's own format): ``{"detections": [[[hoi, hx1,hy1,hx2,hy2, ox1,oy1,ox2,oy2, score],
...] per GT image]}`` with **0-based** pixel coordinates, or a columnar ``.npz`` with
``image_index, hoi, boxes_h, boxes_o, scores``. Other codebases' formats are read by
:mod:`hake.datasets.hoi_formats`.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hake.datasets.io import read_json_any
from hake.errors import DataError
from hake.vocab.sizes import NUM_HOIS


@dataclass
class HicoDetGT:
    """HICO-DET ground truth, one entry per test image.

    Attributes:
        filenames: image file names.
        sizes: (N, 2) int64 image (width, height) in pixels.
        boxes_h, boxes_o: per image (n_i, 4) float64 x1y1x2y2, official 1-based pixel numbers.
        hoi, object, verb: per image (n_i,) int64, 0-based ids of each GT pair.
        rare, non_rare: 0-based HOI ids of the 138 rare / 462 non-rare classes.
        image_pos_labels: per image the HOI ids labelled +1 at image level, or None.
        source: the file it was read from (for error messages).
        correspondence: (600, 2) int64 (verb, object) of each HOI from the file, or None (then
            :meth:`hoi_of_pair` uses hake's vocabulary, which is the same official table).
    """

    filenames: list[str]
    sizes: np.ndarray
    boxes_h: list[np.ndarray]
    boxes_o: list[np.ndarray]
    hoi: list[np.ndarray]
    object: list[np.ndarray]
    verb: list[np.ndarray]
    rare: np.ndarray
    non_rare: np.ndarray
    image_pos_labels: list[np.ndarray] | None = None
    source: str | None = None
    correspondence: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.filenames)

    def hoi_of_pair(self) -> np.ndarray:
        """(117, 80) int64: the 0-based HOI of each (verb, object) pair, -1 where there is none."""
        if self.correspondence is not None:
            verb, obj = self.correspondence[:, 0], self.correspondence[:, 1]
        else:
            from hake.vocab import load

            verb, obj = load().hoi_verb, load().hoi_object
        table = np.full((117, 80), -1, np.int64)
        table[verb, obj] = np.arange(len(verb))
        return table

    @property
    def num_pairs(self) -> int:
        """Total number of GT human-object pairs."""
        return int(sum(len(h) for h in self.hoi))

    def hois_with_gt(self) -> np.ndarray:
        """(600,) bool: the HOIs with at least one GT pair here."""
        return np.bincount(_cat(self.hoi, (0,)).astype(np.int64), minlength=NUM_HOIS) > 0

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All pairs as columns: image index (P,), hoi (P,), boxes_h (P,4), boxes_o (P,4)."""
        counts = np.array([len(h) for h in self.hoi], dtype=np.int64)
        image = np.repeat(np.arange(len(self), dtype=np.int64), counts)
        return (image, _cat(self.hoi, (0,)).astype(np.int64), _cat(self.boxes_h, (0, 4)),
                _cat(self.boxes_o, (0, 4)))


def _cat(parts: list[np.ndarray], empty: tuple[int, ...]) -> np.ndarray:
    """Concatenation of ``parts``, or an empty float array of shape ``empty`` when there are none."""
    return np.concatenate(parts) if parts else np.zeros(empty)


def _boxes(value: object, n: int, where: str, record: object, field: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1, 4)
    except (TypeError, ValueError, OverflowError):
        raise DataError("expected a list of [x1, y1, x2, y2]", file=where, record=record, field=field) from None
    if arr.shape != (n, 4):
        raise DataError(f"expected {n} boxes of 4 numbers, got shape {arr.shape}", file=where, record=record,
                        field=field)
    if not np.isfinite(arr).all():
        raise DataError("non-finite box coordinate", file=where, record=record, field=field)
    bad = np.flatnonzero((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1]))
    if bad.size:
        raise DataError(f"box {int(bad[0])} is inverted (x2 < x1 or y2 < y1): {arr[bad[0]].tolist()}",
                        file=where, record=record, field=field)
    return arr


def _ids(value: object, where: str, record: object, field: str, high: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise DataError("expected a list of integers", file=where, record=record, field=field) from None
    if arr.size and (not np.isfinite(arr).all() or (arr != np.round(arr)).any() or arr.min() < 0
                     or arr.max() >= high):
        raise DataError(f"ids must be integers in 0..{high - 1}", file=where, record=record, field=field)
    return arr.astype(np.int64)


#: The per-image keys that together describe its GT pairs (one entry per pair in each).
_PAIR_KEYS = ("hoi", "boxes_h", "boxes_o", "object", "verb")


def parse_test_gt(raw: dict[str, Any], where: str = "<memory>") -> HicoDetGT:
    """Validate a parsed ``instances_test2015.json`` dict and build :class:`HicoDetGT`."""
    if not isinstance(raw, dict):
        raise DataError("expected a JSON object", file=where)
    for key in ("annotation", "filenames", "size"):
        if key not in raw:
            raise DataError("missing key", file=where, field=key)
    ann, names, size = raw["annotation"], raw["filenames"], raw["size"]
    for key, value in (("annotation", ann), ("filenames", names), ("size", size)):
        if not isinstance(value, list):
            raise DataError(f"expected a list, got {type(value).__name__}", file=where, field=key)
    if not (len(ann) == len(names) == len(size)):
        raise DataError(f"annotation ({len(ann)}), filenames ({len(names)}) and size ({len(size)}) differ in length",
                        file=where, field="annotation")
    hs, os_, hois, objs, verbs = [], [], [], [], []
    from hake.vocab import load as load_vocab

    hoi_object, hoi_verb = load_vocab().hoi_object, load_vocab().hoi_verb
    for i, a in enumerate(ann):
        rec = f"{i} ({names[i]})"
        if not isinstance(a, dict):
            raise DataError("expected an object", file=where, record=rec, field="annotation")
        hoi = _ids(a.get("hoi", []), where, rec, "hoi", NUM_HOIS)
        n = len(hoi)
        hs.append(_boxes(a.get("boxes_h", []), n, where, rec, "boxes_h"))
        os_.append(_boxes(a.get("boxes_o", []), n, where, rec, "boxes_o"))
        present = [k for k in _PAIR_KEYS if a.get(k)]
        missing = [k for k in _PAIR_KEYS if k not in a]
        if present and missing:  # a pair without one of its keys would be dropped silently
            raise DataError(f"pairs given without {', '.join(missing)}", file=where, record=rec, field=missing[0])
        obj = _ids(a.get("object", []), where, rec, "object", 80)
        verb = _ids(a.get("verb", []), where, rec, "verb", 117)
        if len(obj) != n or len(verb) != n:
            raise DataError("hoi, object and verb lists differ in length", file=where, record=rec, field="object")
        for key, ids, table in (("object", obj, hoi_object), ("verb", verb, hoi_verb)):
            wrong = np.flatnonzero(table[hoi] != ids)
            if wrong.size:
                j = int(wrong[0])
                raise DataError(f"pair {j}: HOI {int(hoi[j])} has {key} {int(table[hoi[j]])}, not {int(ids[j])}",
                                file=where, record=rec, field=key)
        hois.append(hoi)
        objs.append(obj)
        verbs.append(verb)
    try:
        sizes_f = np.asarray(size, dtype=np.float64).reshape(-1, 2) if len(size) else np.zeros((0, 2))
    except (TypeError, ValueError, OverflowError):
        raise DataError("expected [width, height] per image", file=where, field="size") from None
    bad = np.flatnonzero(~np.isfinite(sizes_f).all(1) | (sizes_f <= 0).any(1) | (sizes_f != np.round(sizes_f)).any(1))
    if bad.size:
        raise DataError(f"image size must be two positive integers, got {sizes_f[bad[0]].tolist()}", file=where,
                        record=f"{int(bad[0])} ({names[int(bad[0])]})", field="size")
    sizes = sizes_f.astype(np.int64)
    if "rare" in raw:
        rare = _ids(raw["rare"], where, None, "rare", NUM_HOIS)
    else:
        from hake.vocab import load

        rare = load().rare_hois.copy()
    non_rare = (_ids(raw["non_rare"], where, None, "non_rare", NUM_HOIS) if "non_rare" in raw
                else np.setdiff1d(np.arange(NUM_HOIS), rare))
    pos = None
    if raw.get("image_pos_labels") is not None:
        labels = raw["image_pos_labels"]
        if len(labels) != len(ann):
            raise DataError(f"{len(labels)} entries for {len(ann)} images", file=where, field="image_pos_labels")
        pos = [_ids(v, where, f"{i} ({names[i]})", "image_pos_labels", NUM_HOIS) for i, v in enumerate(labels)]
    corr = None
    if raw.get("correspondence") is not None:
        try:
            table = np.asarray(raw["correspondence"], dtype=np.int64).reshape(NUM_HOIS, 3)
        except (TypeError, ValueError, OverflowError):
            raise DataError(f"expected {NUM_HOIS} rows [hoi, object, verb]", file=where,
                            field="correspondence") from None
        if (not np.array_equal(table[:, 0], np.arange(NUM_HOIS)) or table[:, 1].min() < 0 or table[:, 1].max() >= 80
                or table[:, 2].min() < 0 or table[:, 2].max() >= 117):
            raise DataError("rows must be [hoi 0..599 in order, object 0..79, verb 0..116]", file=where,
                            field="correspondence")
        corr = table[:, [2, 1]]
    return HicoDetGT(list(names), sizes, hs, os_, hois, objs, verbs, rare, non_rare, pos, where, corr)


def load_test_gt(path: str | Path) -> HicoDetGT:
    """Read ``instances_test2015.json`` (or a ``.tar.gz`` holding it); see :class:`HicoDetGT`."""
    return parse_test_gt(read_json_any(path), str(path))


@dataclass
class HicoDetDetections:
    """Columnar HICO-DET detections, 0-based pixel coordinates x1y1x2y2.

    Attributes: image_index (M,) int64, hoi (M,) int64 0-based, boxes_h (M,4), boxes_o (M,4)
    float64, scores (M,) float64; info: the reader's notes (format, file, triplets that map to
    no HOI, warnings), copied into the result's ``options["detections"]``.
    """

    image_index: np.ndarray
    hoi: np.ndarray
    boxes_h: np.ndarray
    boxes_o: np.ndarray
    scores: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def parse_detections(raw: object, num_images: int, where: str = "<memory>") -> HicoDetDetections:
    """Validate ``{"detections": [[[hoi, 8 box numbers, score], ...] per image]}``."""
    if not isinstance(raw, dict) or "detections" not in raw:
        raise DataError("expected an object with key 'detections'", file=where, field="detections")
    per_image = raw["detections"]
    if not isinstance(per_image, list) or len(per_image) != num_images:
        n = len(per_image) if isinstance(per_image, list) else type(per_image).__name__
        raise DataError(f"expected one list per GT image ({num_images}), got {n}", file=where, field="detections")
    counts, rows = [], []
    for i, dets in enumerate(per_image):
        try:
            arr = np.asarray(dets, dtype=np.float64).reshape(-1, 10) if len(dets) else np.zeros((0, 10))
        except (TypeError, ValueError, OverflowError):
            raise DataError("expected rows of 10 numbers [hoi, hx1,hy1,hx2,hy2, ox1,oy1,ox2,oy2, score]",
                            file=where, record=i, field="detections") from None
        if arr.shape[0] != len(dets):
            raise DataError("expected rows of 10 numbers", file=where, record=i, field="detections")
        counts.append(len(arr))
        rows.append(arr)
    flat = np.concatenate(rows) if rows else np.zeros((0, 10))
    image = np.repeat(np.arange(num_images, dtype=np.int64), counts)
    return check_detections(image, flat[:, 0], flat[:, 1:5], flat[:, 5:9], flat[:, 9], num_images, where)


def check_detections(image_index: np.ndarray, hoi: np.ndarray, boxes_h: np.ndarray, boxes_o: np.ndarray,
                     scores: np.ndarray, num_images: int, where: str | None = None) -> HicoDetDetections:
    """Validate columnar detections; errors name the first bad row (its image and row number)."""
    image_index = np.asarray(image_index)
    m = len(image_index)
    hoi = np.asarray(hoi)
    boxes_h = np.asarray(boxes_h, dtype=np.float64).reshape(-1, 4) if m else np.zeros((0, 4))
    boxes_o = np.asarray(boxes_o, dtype=np.float64).reshape(-1, 4) if m else np.zeros((0, 4))
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    for name, arr in (("hoi", hoi), ("boxes_h", boxes_h), ("boxes_o", boxes_o), ("scores", scores)):
        if len(arr) != m:
            raise DataError(f"{len(arr)} rows but {m} image indices", file=where, field=name)

    def _bad(mask: np.ndarray | np.bool_, field: str, values: np.ndarray, msg: str) -> None:
        if mask.any():
            r = int(np.flatnonzero(mask)[0])
            raise DataError(f"{msg} (value {values[r].tolist()})", file=where,
                            record=f"row {r} (image {image_index[r]})", field=field)

    img_f = image_index.astype(np.float64)
    _bad(~np.isfinite(img_f) | (img_f != np.round(img_f)) | (img_f < 0) | (img_f >= num_images), "image_index",
         image_index, f"image index outside 0..{num_images - 1}")
    hoi_f = hoi.astype(np.float64)
    _bad(~np.isfinite(hoi_f) | (hoi_f != np.round(hoi_f)) | (hoi_f < 0) | (hoi_f >= NUM_HOIS), "hoi", hoi,
         f"HOI id must be an integer in 0..{NUM_HOIS - 1}")
    _bad(~np.isfinite(boxes_h).all(axis=1), "boxes_h", boxes_h, "non-finite box coordinate")
    _bad(~np.isfinite(boxes_o).all(axis=1), "boxes_o", boxes_o, "non-finite box coordinate")
    _bad(np.isnan(scores), "scores", scores, "NaN score")
    return HicoDetDetections(image_index.astype(np.int64), hoi.astype(np.int64), boxes_h, boxes_o, scores)


#: What numpy's ``.npy`` header parser and the zip reader raise on a damaged, empty or truncated file.
_NUMPY_READ_ERRORS = (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, MemoryError,
                      OverflowError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, struct.error)


def load_arrays(path: str | Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Numeric arrays from an ``.npz`` (the arrays named ``keys``) or an ``.npy`` (one array, ``keys[0]``).

    Read with ``allow_pickle=False``; an empty, truncated or damaged file, a missing array or a
    non-numeric one is a :class:`DataError` naming the file and the array (as its field) where one is known.
    """
    path = Path(path)
    reading = keys[0] if len(keys) == 1 else None  # the array being read, named in the error
    missing: list[str] = []
    try:
        with open(path, "rb") as fh:  # our handle: np.load leaks its own when the zip directory is damaged
            loaded = np.load(fh, allow_pickle=False)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    missing = [k for k in keys if k not in loaded.files]
                    files, arrays = loaded.files, {}
                    for reading in (k for k in keys if k not in missing):
                        arrays[reading] = np.asarray(loaded[reading])
            else:
                arrays = {keys[0]: loaded}
        if (path.suffix == ".npy") != (not isinstance(loaded, np.lib.npyio.NpzFile)):
            raise DataError(f"the content is not what the suffix {path.suffix!r} says", file=path)
        if missing:
            raise DataError(f"missing array (the file has {', '.join(files) or 'none'})", file=path, field=missing[0])
    except DataError:
        raise
    except _NUMPY_READ_ERRORS as err:
        raise DataError(f"cannot read {path.suffix or 'numpy'} file: {type(err).__name__}: {err}", file=path,
                        field=reading) from None
    for k, arr in arrays.items():
        if arr.dtype.kind not in "biuf":
            raise DataError(f"expected numbers, got dtype {arr.dtype}", file=path, field=k)
    return arrays


def load_detections(path: str | Path, num_images: int) -> HicoDetDetections:
    """Read detections from ``.json`` (per-image rows) or columnar ``.npz``; see module doc."""
    path = Path(path)
    if path.suffix == ".npy":
        raise DataError("one .npy array cannot hold the five columns; write an .npz with "
                        "image_index, hoi, boxes_h, boxes_o, scores", file=path)
    if path.suffix == ".npz":
        cols = load_arrays(path, ("image_index", "hoi", "boxes_h", "boxes_o", "scores"))
        if cols["image_index"].ndim != 1:
            raise DataError(f"expected a 1-D array, got shape {cols['image_index'].shape}", file=path,
                            field="image_index")
        m = cols["image_index"].shape[0]
        for k, arr in cols.items():
            shape = (m, 4) if k.startswith("boxes") else (m,)
            if arr.shape != shape:
                raise DataError(f"expected shape {shape} (rows of image_index), got {arr.shape}", file=path, field=k)
        return check_detections(cols["image_index"], cols["hoi"], cols["boxes_h"], cols["boxes_o"], cols["scores"],
                                num_images, str(path))
    return parse_detections(read_json_any(path), num_images, str(path))
