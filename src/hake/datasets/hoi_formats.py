"""HICO-DET detections as other HOI codebases write them, read into hake's columns (no torch).

:func:`read_detections` reads one of :data:`FORMATS` into :class:`HicoDetDetections` (0-based
pixel boxes x1y1x2y2, 0-based HOI ids, one row per human-object-HOI detection):

- ``hake``: hake's own JSON / ``.npz`` (:func:`hake.datasets.hicodet.load_detections`).
- ``qpic``: the list the QPIC / CDN / GEN-VLKT / HOICLIP family builds, JSON or pickle (read with
  the restricted unpickler): one entry per test image, in the order of the GT file names or with a
  ``file_name``, each ``{"predictions": [{"bbox": [x1, y1, x2, y2], "category_id": COCO id 1-90}],
  "hoi_prediction": [{"subject_id", "object_id": indices into predictions, "category_id": verb
  1-117, "score"}]}``. (verb, object) is mapped to the 600 HOIs with the official correspondence
  table; triplets that map to no HOI are dropped and counted in ``info``. The ids are those of the
  HICO-DET annotation files these codebases read (COCO category ids, verbs 1-based); their
  evaluators' in-memory lists use contiguous 0-based ids, which must be mapped back (objects
  through ``valid_obj_ids``, verbs + 1) before writing. Boxes are pixels as the
  model writes them and are treated as 0-based, like every detector output here. These codebases
  keep only their top-100 triplets per image before their own evaluation; the official protocol
  keeps every detection, and so does this reader: it scores all triplets in the file.
- ``matlab``: ho-rcnn's ``all_boxes`` cell arrays as ``evaluation/eval_one.m`` reads them: one
  ``detections.mat`` with a 600 x N cell (``format = 'all'``), or a folder with
  ``detections_01.mat`` .. ``detections_80.mat``, objects in COCO-80 order, each with a K x N cell
  over that object's HOIs in HICO order (``format = 'obj'``). Each cell is an (n, 9) array
  ``[hx1 hy1 hx2 hy2 ox1 oy1 ox2 oy2 score]`` with 0-based pixels (eval_one.m adds the +1).
- ``table``: a long CSV (with header) or Parquet table, one row per detection, columns ``image``
  (GT file name), ``hoi`` (0-based), ``h_x1, h_y1, h_x2, h_y2, o_x1, o_y1, o_x2, o_y2`` (0-based
  pixels) and ``score``.

Every reader validates and raises :class:`hake.errors.DataError` naming file, record and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hake.datasets.hicodet import HicoDetDetections, HicoDetGT, check_detections, load_detections
from hake.datasets.io import read_json_any, restricted_unpickle
from hake.errors import DataError

FORMATS: tuple[str, ...] = ("hake", "qpic", "matlab", "table")
TABLE_COLUMNS: tuple[str, ...] = ("image", "hoi", "h_x1", "h_y1", "h_x2", "h_y2", "o_x1", "o_y1", "o_x2", "o_y2",
                                  "score")
QPIC_TOP_K_NOTE = ("QPIC / CDN / GEN-VLKT / HOICLIP keep only their top-100 triplets per image; the official "
                   "protocol keeps every detection, and every triplet in this file was scored")


def read_detections(path: str | Path, gt: HicoDetGT, format: str = "hake") -> HicoDetDetections:
    """Read HICO-DET detections in one of :data:`FORMATS` (see the module doc for each layout).

    Args:
        path: the file (or, for ``matlab``, a ``.mat`` file or the folder holding them).
        gt: the test GT the detections are for (image names and count, HOI table).
        format: ``hake``, ``qpic``, ``matlab`` or ``table``.

    Returns:
        :class:`HicoDetDetections` with boxes x1y1x2y2 in 0-based pixels and ``info`` saying what
        was read (``format``, ``file``, and for ``qpic`` the triplets that map to no HOI).
    """
    if format not in FORMATS:
        raise DataError(f"unknown detection format {format!r}; use one of {', '.join(FORMATS)}", field="format")
    if format == "hake":
        dets = load_detections(path, len(gt))
    else:
        dets = {"qpic": read_qpic, "matlab": read_matlab, "table": read_table}[format](path, gt)
    dets.info = {"format": format, "file": str(path), "detections": int(len(dets.scores)), **dets.info}
    return dets


# ----------------------------------------------------------------------------------------- qpic


def _coco91_to_hico() -> np.ndarray:
    """(91,) HICO object index of each COCO category id, -1 for ids that are not COCO categories."""
    from hake.vocab import load

    out = np.full(91, -1, np.int64)
    for cid, obj in load().coco91_to_hico.items():
        out[cid] = obj
    return out


def _column(items: list[Any], key: str, where: str, record: str, field: str) -> list[Any]:
    """``[item[key] for item in items]``; a missing key or a non-dict names the first bad item."""
    try:
        return [item[key] for item in items]
    except (KeyError, TypeError, IndexError):
        bad = next(i for i, item in enumerate(items) if not isinstance(item, dict) or key not in item)
        raise DataError(f"item {bad} has no {key!r}", file=where, record=record, field=field) from None


def _numbers(values: list[Any], shape: tuple[int, ...], where: str, record: str, field: str,
             ints: tuple[int, int] | None = None) -> np.ndarray:
    """``values`` as a float64 array of ``shape``: finite (a score may be infinite, never NaN), and
    integers in ``ints = (low, high)`` when given."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"expected numbers of shape {shape}", file=where, record=record, field=field) from None
    bad = np.isnan(arr) if field.endswith("score") else ~np.isfinite(arr)
    if ints is not None:
        bad |= (arr != np.round(arr)) | (arr < ints[0]) | (arr > ints[1])
    if bad.any():
        i = int(np.flatnonzero(bad.reshape(len(arr), -1).any(axis=1))[0])
        what = f"an integer in {ints[0]}..{ints[1]}" if ints is not None else "a number (not NaN)"
        raise DataError(f"item {i}: {arr[i].tolist()} is not {what}", file=where, record=record, field=field)
    return arr


def _qpic_images(raw: list[Any], gt: HicoDetGT, where: str) -> np.ndarray:
    """GT image index of each entry: by ``file_name`` when every entry has one, else by position."""
    named = [isinstance(e, dict) and "file_name" in e for e in raw]
    if not any(named):
        if len(raw) != len(gt):
            raise DataError(f"{len(raw)} entries for {len(gt)} GT images; give each entry a 'file_name' or "
                            "write one entry per GT image in GT order", file=where, field="file_name")
        return np.arange(len(raw), dtype=np.int64)
    if not all(named):
        raise DataError("some entries carry a file name and some do not", file=where,
                        record=named.index(False), field="file_name")
    index = {name: i for i, name in enumerate(gt.filenames)}
    out = np.empty(len(raw), np.int64)
    for e, entry in enumerate(raw):
        name = str(entry["file_name"])
        i = index.get(name, index.get(Path(name).name, -1))
        if i < 0:
            raise DataError(f"{name!r} is not a GT image", file=where, record=e, field="file_name")
        out[e] = i
    if len(np.unique(out)) != len(out):
        e = int(np.flatnonzero(np.bincount(out)[out] > 1)[1])
        raise DataError(f"image {gt.filenames[out[e]]!r} has two entries", file=where, record=e, field="file_name")
    return out


def read_qpic(path: str | Path, gt: HicoDetGT) -> HicoDetDetections:
    """Read a QPIC-family prediction list from ``.json`` or ``.pkl`` / ``.pickle`` (see module doc)."""
    path = Path(path)
    raw = restricted_unpickle(path) if path.suffix in (".pkl", ".pickle") else read_json_any(path)
    return parse_qpic(raw, gt, str(path))


def parse_qpic(raw: object, gt: HicoDetGT, where: str = "<memory>") -> HicoDetDetections:
    """Validate a QPIC-family prediction list and map its triplets to HICO-DET HOIs."""
    if not isinstance(raw, list):
        raise DataError("expected a list with one entry per test image", file=where)
    image = _qpic_images(raw, gt, where)
    coco, table = _coco91_to_hico(), gt.hoi_of_pair()
    cols: list[list[np.ndarray]] = [[] for _ in range(5)]
    n_trip, unmapped, most = 0, 0, 0
    examples: set[tuple[int, int]] = set()
    for e, entry in enumerate(raw):
        rec = f"{e} ({gt.filenames[image[e]]})"
        if not isinstance(entry, dict):
            raise DataError("expected an object", file=where, record=rec)
        for key in ("predictions", "hoi_prediction"):
            if not isinstance(entry.get(key), list | tuple):
                raise DataError("missing or not a list", file=where, record=rec, field=key)
        preds, trips = list(entry["predictions"]), list(entry["hoi_prediction"])
        boxes = _numbers(_column(preds, "bbox", where, rec, "predictions.bbox"), (len(preds), 4), where, rec,
                         "predictions.bbox")
        cat = _numbers(_column(preds, "category_id", where, rec, "predictions.category_id"), (len(preds),), where,
                       rec, "predictions.category_id", (1, 90)).astype(np.int64)
        obj = coco[cat]
        if (obj < 0).any():
            i = int(np.flatnonzero(obj < 0)[0])
            raise DataError(f"item {i}: {cat[i]} is not a COCO category id", file=where, record=rec,
                            field="predictions.category_id")
        f = "hoi_prediction."
        sub, ob = (_numbers(_column(trips, k, where, rec, f + k), (len(trips),), where, rec, f + k,
                            (0, len(preds) - 1)).astype(np.int64) for k in ("subject_id", "object_id"))
        verb = _numbers(_column(trips, "category_id", where, rec, f + "category_id"), (len(trips),), where, rec,
                        f + "category_id", (1, 117)).astype(np.int64) - 1
        score = _numbers(_column(trips, "score", where, rec, f + "score"), (len(trips),), where, rec, f + "score")
        hoi = table[verb, obj[ob]]
        miss = hoi < 0
        if miss.any():
            unmapped += int(miss.sum())
            examples.update(zip(verb[miss].tolist(), obj[ob][miss].tolist()))
        keep = ~miss
        for c, v in zip(cols, (np.full(int(keep.sum()), image[e]), hoi[keep], boxes[sub[keep]], boxes[ob[keep]],
                               score[keep])):
            c.append(v)
        n_trip, most = n_trip + len(trips), max(most, len(trips))
    dets = _checked(cols, len(gt), where)
    dets.info = {"triplets": n_trip, "unmapped_triplets": unmapped, "max_triplets_per_image": most,
                 "note": QPIC_TOP_K_NOTE}
    if unmapped:
        from hake.vocab import load

        v = load()
        names = ", ".join(f"{v.verbs117[a]} {v.objects[b]}" for a, b in sorted(examples)[:5])
        dets.info["warnings"] = [f"{unmapped} of {n_trip} triplets map to no HICO-DET HOI and were dropped "
                                 f"(e.g. {names})"]
    return dets


def _checked(cols: list[list[np.ndarray]], num_images: int, where: str) -> HicoDetDetections:
    """Concatenate the parts of the five columns (image, hoi, boxes_h, boxes_o, score) and validate."""
    cat = [np.concatenate(c) if c else np.zeros((0, 4) if k in (2, 3) else 0) for k, c in enumerate(cols)]
    return check_detections(cat[0], cat[1], cat[2], cat[3], cat[4], num_images, where)


# --------------------------------------------------------------------------------------- matlab


def _load_all_boxes(path: Path, rows: int, n_img: int) -> np.ndarray:
    """The ``all_boxes`` cell array of one ``.mat`` file, checked to be ``rows`` x ``n_img``."""
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        mat = scipy.io.loadmat(str(path), squeeze_me=False, variable_names=["all_boxes"])
    except NotImplementedError:
        raise DataError("MATLAB v7.3 (HDF5) files are not read; save with save(..., '-v7')", file=path) from None
    except (OSError, ValueError, TypeError, MatReadError) as err:
        raise DataError(f"not a readable .mat file: {err}", file=path) from None
    cells = mat.get("all_boxes")
    if not isinstance(cells, np.ndarray) or cells.dtype != object or cells.shape != (rows, n_img):
        shape = getattr(cells, "shape", None)
        raise DataError(f"expected a {rows} x {n_img} cell array, got {shape}", file=path, field="all_boxes")
    return cells


def _cells_to_rows(cells: np.ndarray, hois: np.ndarray, path: Path) -> list[np.ndarray]:
    """(image, hoi, 8 box numbers, score) rows of a cell array (row r = HOI ``hois[r]``)."""
    flat = cells.ravel()
    sizes = np.fromiter((c.shape[0] if getattr(c, "size", 0) else 0 for c in flat), np.int64, len(flat))
    full = np.flatnonzero(sizes)
    for k in full.tolist():
        c = flat[k]
        if c.ndim != 2 or c.shape[1] < 9 or c.dtype.kind not in "fiu":
            raise DataError(f"expected an (n, 9) numeric array, got {c.dtype} {c.shape}", file=path,
                            record=f"HOI row {k // cells.shape[1] + 1}, image {k % cells.shape[1] + 1}",
                            field="all_boxes")
    if not len(full):
        return []
    data = np.concatenate([flat[k][:, :9].astype(np.float64) for k in full.tolist()])
    row, img = np.divmod(np.repeat(full, sizes[full]), cells.shape[1])
    bad = ~np.isfinite(data[:, :8]).all(axis=1) | np.isnan(data[:, 8])
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise DataError(f"NaN or infinite box coordinate, or NaN score: {data[r].tolist()}", file=path,
                        record=f"HOI row {row[r] + 1}, image {img[r] + 1}", field="all_boxes")
    return [img, hois[row], data[:, 0:4], data[:, 4:8], data[:, 8]]


def read_matlab(path: str | Path, gt: HicoDetGT) -> HicoDetDetections:
    """Read ho-rcnn ``all_boxes`` detections: ``detections.mat`` (600 rows) or ``detections_XX.mat`` per object."""
    from hake.vocab import load

    path = Path(path)
    if path.is_dir() and (path / "detections.mat").exists():
        path = path / "detections.mat"
    if not path.is_dir():
        parts = [_cells_to_rows(_load_all_boxes(path, 600, len(gt)), np.arange(600), path)]
        layout = "all (600 x N cell)"
    else:
        v = load()
        parts = []
        for k, obj in enumerate(v.coco80_to_hico.tolist()):
            f = path / f"detections_{k + 1:02d}.mat"
            if not f.exists():
                raise DataError("missing per-object file (ho-rcnn 'obj' layout: detections_01..80.mat)", file=f)
            hois = v.hois_of_object(int(obj))
            parts.append(_cells_to_rows(_load_all_boxes(f, len(hois), len(gt)), hois, f))
        layout = "obj (80 files, COCO-80 order)"
    parts = [p for p in parts if p]
    dets = _checked([[p[k] for p in parts] for k in range(5)], len(gt), str(path))
    dets.info = {"layout": layout}
    return dets


# ---------------------------------------------------------------------------------------- table


def read_table(path: str | Path, gt: HicoDetGT) -> HicoDetDetections:
    """Read a long CSV (header row) or Parquet (``.parquet`` / ``.pq``) table (see module doc)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    try:
        if path.suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            tbl = pq.read_table(path)
        else:
            import pyarrow.csv as pacsv

            types = {c: (pa.string() if c == "image" else pa.float64()) for c in TABLE_COLUMNS}
            tbl = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
    except (OSError, pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise DataError(f"cannot read table: {err}", file=path) from None
    for name in TABLE_COLUMNS:
        if name not in tbl.column_names:
            raise DataError(f"missing column (columns are {', '.join(TABLE_COLUMNS)})", file=path, field=name)
        if tbl.column(name).null_count:
            r = int(np.flatnonzero(pc.is_null(tbl.column(name)).to_numpy(zero_copy_only=False))[0])
            raise DataError("empty value", file=path, record=f"row {r}", field=name)
    names = pc.dictionary_encode(tbl.column("image").cast(pa.string())).combine_chunks()
    index = {n: i for i, n in enumerate(gt.filenames)}
    lookup = np.array([index.get(n, -1) for n in names.dictionary.to_pylist()], np.int64)
    image = lookup[names.indices.to_numpy(zero_copy_only=False)] if len(lookup) else np.zeros(0, np.int64)
    if (image < 0).any():
        r = int(np.flatnonzero(image < 0)[0])
        raise DataError(f"{tbl.column('image')[r].as_py()!r} is not a GT image", file=path, record=f"row {r}",
                        field="image")

    def col(name: str) -> np.ndarray:
        try:
            values: np.ndarray = tbl.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
            return values
        except (TypeError, ValueError, OverflowError, pa.ArrowInvalid):
            raise DataError("not numeric", file=path, field=name) from None

    boxes = {p: np.stack([col(f"{p}_{c}") for c in ("x1", "y1", "x2", "y2")], axis=1) for p in "ho"}
    return check_detections(image, col("hoi"), boxes["h"], boxes["o"], col("score"), len(gt), str(path))
