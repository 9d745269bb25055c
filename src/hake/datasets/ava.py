"""AVA CSV files, label maps and exclusions, read as ActivityNet's ``get_ava_performance.py`` does (no torch).

Rows ``video_id, timestamp, x1, y1, x2, y2 (normalised), action_id[, score]``; an 8th column is
read as the score (in GT files it is the person id, exactly as the original reads it); a 2-column
row ``video_id, timestamp`` names a frame without boxes. Every row's frame key is recorded in
``AvaRows.all_frame_keys`` **before** the label filter, as the original's ``all_keys`` (the set
protocol ``head`` uses to decide which detection frames are evaluated). Rows whose
action is not in the label map are dropped first; then at most ``capacity`` rows per frame are
kept with the original's heap rule (a new row replaces the heap minimum only with a strictly
higher score) and each frame's rows are ordered by descending score, ties in heap order. Frames
where no two rows tie are done vectorised; frames with ties replay the heap in Python, so the
result equals the original's on every input.

Frame keys: ``"%s,%04d" % (video, int(ts))`` (protocol ``v2019``) or ``"%s,%.6f"`` (``head``).
CSV parsing uses pyarrow when it is installed and Python's csv module otherwise.
"""

from __future__ import annotations

import csv
import heapq
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hake.errors import DataError

PROTOCOLS = ("v2019", "head")
#: The number columns of a row with a box, in file order.
NUMBER_COLUMNS = ("x1", "y1", "x2", "y2", "action", "score")
#: Timestamps and action ids must be below this in magnitude (exact in float64, and in int64).
MAX_ID = 2**53
#: Above this many runs of consecutive rows of one frame, frames are found by sorting instead.
RUNS_LIMIT = 200_000


@dataclass
class AvaRows:
    """Boxes of one CSV after label filtering and the per-frame cap, in the original's order.

    Attributes:
        frame_keys: (F,) frame key strings, in order of first appearance.
        frame: (R,) index into ``frame_keys``; rows are grouped by frame in that order.
        boxes: (R, 4) float64 ``[y1, x1, y2, x2]`` normalised (the original's layout).
        labels: (R,) int64 action ids (1-based, as in the label map).
        scores: (R,) float64 (1.0 when the file has 7 columns).
        all_frame_keys: (K,) sorted unique keys of every frame the file names in any row: rows
            with boxes, 2-column rows and rows whose action is not in the label map.
    """

    frame_keys: np.ndarray
    frame: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    all_frame_keys: np.ndarray | None = None


def frame_key(video: str, timestamp: float, protocol: str) -> str:
    """The original's image key of one frame."""
    return f"{video},{int(timestamp):04d}" if protocol == "v2019" else f"{video},{float(timestamp):.6f}"


def read_labelmap(path: str | Path) -> tuple[list[dict[str, Any]], set[int]]:
    """Parse a label-map pbtxt without protobuf: ``name:`` then ``id:``/``label_id:`` lines."""
    labelmap, ids, name = [], set(), ""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read label map: {err}", file=path) from None
    for n, line in enumerate(lines):
        s = line.strip()
        if s.startswith("name:"):
            parts = s.split('"')
            if len(parts) < 3:
                raise DataError("expected name: \"...\"", file=path, record=f"line {n + 1}", field="name")
            name = parts[1]
        elif s.startswith(("id:", "label_id:")):
            try:
                cid = int(s.split()[-1])
            except ValueError:
                raise DataError("class id is not an integer", file=path, record=f"line {n + 1}", field="id") from None
            labelmap.append({"id": cid, "name": name})
            ids.add(cid)
    if not ids:
        raise DataError("no classes found", file=path)
    return labelmap, ids


def read_exclusions(path: str | Path | None, protocol: str = "v2019") -> set[str]:
    """Frame keys listed in an exclusions CSV (``video_id,timestamp`` rows)."""
    if path is None:
        return set()
    out = set()
    with _open(path) as fh:
        for n, row in _rows(fh, path):
            if len(row) != 2:
                raise DataError(f"expected 2 columns, got {len(row)}", file=path, record=f"row {n}", field="columns")
            out.add(frame_key(row[0], _num(row[1], protocol, path, n), protocol))
    return out


def _open(path: str | Path) -> io.StringIO:
    """The file as strictly decoded UTF-8 text (a bad byte is a DataError naming the file, not a crash mid-read)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", file=path) from None
    try:
        return io.StringIO(raw.decode("utf-8"), newline="")
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text (byte {err.start})", file=path) from None


def _rows(fh: io.StringIO, path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, fields) of a CSV text; a row the csv module cannot split is a DataError naming it."""
    reader = csv.reader(fh)
    n = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise DataError(f"not a CSV row: {err}", file=path, record=f"row {n}", field="columns") from None
        yield n, row
        n += 1


def _num(text: str, protocol: str, path: str | Path, n: int) -> float:
    try:
        value = int(text) if protocol == "v2019" else float(text)
    except ValueError:
        raise DataError(f"bad timestamp {text!r}", file=path, record=f"row {n}", field="timestamp") from None
    if not math.isfinite(value) or abs(value) >= MAX_ID:
        raise DataError(f"bad timestamp {text!r}", file=path, record=f"row {n}", field="timestamp")
    return value


def _check_numbers(nums: np.ndarray, path: str | Path, offset: int = 0) -> None:
    """(R, 6) numbers of rows ``offset..``: finite, action ids below ``MAX_ID``; a DataError names row and column."""
    bad = ~np.isfinite(nums)
    bad[:, 4] |= np.abs(nums[:, 4]) >= MAX_ID
    if bad.any():
        r, c = (int(v) for v in np.argwhere(bad)[0])
        what = (f"action id {nums[r, 4]:.6g} is out of range" if np.isfinite(nums[r, c])
                else "missing, NaN or infinite number")
        raise DataError(what, file=path, record=f"row {offset + r}", field=NUMBER_COLUMNS[c])


def _parse_python(path: str | Path, protocol: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Slow path: (video per row, timestamp (R,), numbers (R, 6) = x1 y1 x2 y2 action score,
    (R,) bool: the row has a box, i.e. it is not a 2-column frame-only row)."""
    videos, ts, nums, boxed = [], [], [], []
    with _open(path) as fh:
        for n, row in _rows(fh, path):
            if len(row) not in (2, 7, 8):
                raise DataError(f"expected 2, 7 or 8 columns, got {len(row)}", file=path, record=f"row {n}",
                                field="columns")
            vals = [0.0] * 5 + [1.0]
            for k, text in enumerate(row[2:]):
                try:
                    vals[k] = float(int(text)) if k == 4 else float(text)
                except (ValueError, OverflowError):
                    raise DataError(f"not {'an integer' if k == 4 else 'a number'}: {text!r}", file=path,
                                    record=f"row {n}", field=NUMBER_COLUMNS[k]) from None
            if not all(map(math.isfinite, vals)) or abs(vals[4]) >= MAX_ID:
                _check_numbers(np.array([vals]), path, n)  # the first bad row, as the pyarrow path reports it
            videos.append(row[0])
            ts.append(_num(row[1], protocol, path, n))
            nums.append(vals)
            boxed.append(len(row) > 2)
    return (videos, np.asarray(ts, np.float64), np.asarray(nums, np.float64).reshape(-1, 6),
            np.asarray(boxed, bool))


Parsed = tuple[list[str], np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]


def _cat(parts: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Concatenation of ``parts``, or an empty array of ``shape`` when there are none."""
    return np.concatenate(parts) if parts else np.zeros(shape)


def _parse_arrow(path: str | Path, protocol: str, whitelist: np.ndarray | None) -> Parsed | None:
    """Fast path: stream the CSV with pyarrow in blocks, dropping unlisted actions per block.

    Returns (video names, video code (R,), timestamp (R,), numbers (R, 6), (video code, timestamp)
    of the dropped rows, one per run of consecutive rows of one frame) or None when pyarrow is
    missing or the file needs the slow path (ragged or 2-column rows, unparsable numbers).
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv
    except ImportError:
        return None
    try:
        with open(path, "rb") as raw:  # only the first line: _open would decode the whole file
            first = raw.readline().decode("utf-8")
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", file=path) from None
    except UnicodeDecodeError:
        return None  # the csv-module path reports the bad byte
    try:
        ncol = len(next(csv.reader([first]), []))
    except csv.Error:
        return None  # e.g. a bare carriage return inside the line: the csv-module path reports it
    if ncol not in (7, 8):
        return None
    names = ["video", "ts", "x1", "y1", "x2", "y2", "action", "score"][:ncol]
    types = {n: pa.float64() for n in names}
    types.update(video=pa.string(), ts=pa.int64() if protocol == "v2019" else pa.float64(), action=pa.int64())
    vmap: dict[str, int] = {}
    codes, stamps, numbers, dropped, offset = [], [], [], [], 0
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                                                     block_size=1 << 24),
                                parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
                                convert_options=pacsv.ConvertOptions(column_types=types))
        for batch in reader:
            cols = [batch.column(k).to_numpy(zero_copy_only=False).astype(np.float64) for k in range(2, ncol)]
            if ncol == 7:
                cols.append(np.ones(batch.num_rows))
            nums = np.stack(cols, axis=1)
            ts = batch.column(1).to_numpy(zero_copy_only=False).astype(np.float64)
            if not (np.isfinite(ts) & (np.abs(ts) < MAX_ID)).all():
                return None  # an empty, NaN or huge timestamp: the csv-module path reports its text
            _check_numbers(nums, path, offset)
            enc = pc.dictionary_encode(batch.column(0))
            local = np.array([vmap.setdefault(v, len(vmap)) for v in enc.dictionary.to_pylist()], np.int64)
            code = local[enc.indices.to_numpy(zero_copy_only=False)]
            if whitelist is not None:
                keep = np.isin(nums[:, 4].astype(np.int64), whitelist)
                dropped.append(_runs(code[~keep], ts[~keep]))
                code, ts, nums = code[keep], ts[keep], nums[keep]
            codes.append(code)
            stamps.append(ts)
            numbers.append(nums)
            offset += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    drop_code = _cat([d[0] for d in dropped], (0,)).astype(np.int64)
    return (list(vmap), _cat(codes, (0,)).astype(np.int64), _cat(stamps, (0,)), _cat(numbers, (0, 6)),
            (drop_code, _cat([d[1] for d in dropped], (0,))))


def _runs(vcode: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(video code, timestamp) of the first row of each run of consecutive rows of one frame."""
    start = np.ones(len(vcode), bool)
    start[1:] = (vcode[1:] != vcode[:-1]) | (ts[1:] != ts[:-1])
    return vcode[start], ts[start]


def _frames(vnames: list[str], vcode: np.ndarray, ts: np.ndarray, protocol: str) -> tuple[np.ndarray, np.ndarray]:
    """Frame key strings and (R,) frame index per row, frames in order of first appearance.

    Keys are formatted once per run of consecutive rows of one (video, timestamp), which is one
    per frame in files grouped by frame; ungrouped files are first reduced to unique pairs.
    """
    n = len(vcode)
    change = np.ones(n, bool)
    change[1:] = (vcode[1:] != vcode[:-1]) | (ts[1:] != ts[:-1])
    if change.sum() > RUNS_LIMIT:  # not grouped by frame: reduce to unique (video, timestamp) pairs first
        ts_u, ts_inv = np.unique(ts, return_inverse=True)
        pair_u, first_row, pair_inv = np.unique(vcode * len(ts_u) + ts_inv, return_index=True, return_inverse=True)
        run_v, run_t, run_of_row = pair_u // len(ts_u), ts_u[pair_u % len(ts_u)], pair_inv
        run_first = first_row
    else:
        starts = np.flatnonzero(change)
        run_v, run_t, run_of_row, run_first = vcode[starts], ts[starts], np.cumsum(change) - 1, starts
    keys = np.array([frame_key(vnames[v], t, protocol) for v, t in zip(run_v.tolist(), run_t.tolist())], dtype=str)
    key_u, key_inv = np.unique(keys, return_inverse=True)
    first = np.full(len(key_u), n, np.int64)
    np.minimum.at(first, key_inv, run_first)
    rank = np.empty(len(key_u), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(key_u))
    return key_u[np.argsort(rank)], rank[key_inv][run_of_row]


def _heap_order(rows: np.ndarray, nums: np.ndarray, capacity: int) -> np.ndarray:
    """Replay the original's heap for one frame; returns the kept rows (K, 6) as ``nums`` columns."""
    heap: list[tuple[float, int, float, float, float, float]] = []
    for x1, y1, x2, y2, action, score in nums[rows].tolist():
        item = (score, int(action), y1, x1, y2, x2)
        if capacity < 1 or len(heap) < capacity:
            heapq.heappush(heap, item)
        elif score > heap[0][0]:
            heapq.heapreplace(heap, item)
    out = sorted(heap, key=lambda t: -t[0])
    return np.array([(x1, y1, x2, y2, a, s) for s, a, y1, x1, y2, x2 in out], np.float64).reshape(-1, 6)


def _tied_frames(f_sorted: np.ndarray, s_sorted: np.ndarray, l_sorted: np.ndarray, n_frames: int) -> np.ndarray:
    """(F,) bool: frames where two rows of one action share a score (their order is heap order)."""
    tie = np.zeros(n_frames, bool)
    same = (f_sorted[1:] == f_sorted[:-1]) & (s_sorted[1:] == s_sorted[:-1])
    if same.any():
        in_run = np.zeros(len(f_sorted), bool)
        in_run[1:] |= same
        in_run[:-1] |= same
        run = np.cumsum(np.concatenate(([True], ~same)))
        sub = np.flatnonzero(in_run)
        o = sub[np.lexsort((l_sorted[sub], run[sub]))]
        dup = (run[o][1:] == run[o][:-1]) & (l_sorted[o][1:] == l_sorted[o][:-1])
        tie[f_sorted[o][1:][dup]] = True
    return tie


def read_ava_csv(path: str | Path, class_whitelist: set[int] | None, capacity: int = 0,
                 protocol: str = "v2019") -> AvaRows:
    """Read an AVA GT or detection CSV as the original ``read_csv`` does (see module doc).

    Args:
        path: the CSV file.
        class_whitelist: action ids to keep (None or empty keeps all).
        capacity: rows kept per frame (50 for detections, 0 = no limit for GT).
        protocol: ``v2019`` or ``head`` (frame key format).

    Returns:
        :class:`AvaRows`: the kept rows in the original's order, with ``all_frame_keys``.
    """
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}; use one of {PROTOCOLS}", field="protocol")
    wl = np.fromiter(class_whitelist, np.int64) if class_whitelist else None
    parsed = _parse_arrow(path, protocol, wl)
    if parsed is None:
        videos, ts, nums, boxed = _parse_python(path, protocol)
        names, inverse = np.unique(np.asarray(videos, dtype=str), return_inverse=True)
        keep = boxed & (np.isin(nums[:, 4].astype(np.int64), wl) if wl is not None else True)
        code = inverse.astype(np.int64).reshape(-1)
        parsed = (names.tolist(), code[keep], ts[keep], nums[keep], _runs(code[~keep], ts[~keep]))
    vnames, vcode, ts, nums, (drop_code, drop_ts) = parsed
    del parsed
    keys, frame = _frames(vnames, vcode, ts, protocol) if len(ts) else (np.zeros(0, str), np.zeros(0, np.int64))
    del vcode, ts
    drop_keys = _frames(vnames, drop_code, drop_ts, protocol)[0] if len(drop_ts) else np.zeros(0, str)
    all_keys = np.union1d(keys, drop_keys)
    score, label = nums[:, 5], nums[:, 4]
    order = np.argsort(-score)  # ties are resolved below, where they matter
    order = order[np.argsort(frame[order].astype(np.uint16 if len(keys) <= 1 << 16 else np.int64), kind="stable")]
    f_sorted, s_sorted = frame[order], score[order]
    counts = np.bincount(frame, minlength=len(keys))
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    if capacity > 0:
        # only the top `capacity` rows of a frame can be kept: ties below them matter only across the cap
        top = np.flatnonzero(np.arange(len(order)) - start[f_sorted] < capacity)
        tie = _tied_frames(f_sorted[top], s_sorted[top], label[order[top]], len(keys))
        full = np.flatnonzero(counts > capacity)
        edge = start[full] + capacity
        tie[full[s_sorted[edge - 1] == s_sorted[edge]]] = True  # a tie across the cap decides the kept rows
        fast = top[~tie[f_sorted[top]]]
    else:
        tie = _tied_frames(f_sorted, s_sorted, label[order], len(keys))
        fast = np.flatnonzero(~tie[f_sorted])
    del s_sorted
    n, out_frame = nums[order[fast]], f_sorted[fast]
    if tie.any():
        by_frame = np.argsort(frame, kind="stable")
        tied = np.flatnonzero(tie).tolist()
        parts = [_heap_order(by_frame[start[f]:start[f] + counts[f]], nums, capacity) for f in tied]
        n = np.concatenate([n] + parts)
        out_frame = np.concatenate([out_frame] + [np.full(len(p), f, np.int64) for f, p in zip(tied, parts)])
        regroup = np.argsort(out_frame, kind="stable")
        n, out_frame = n[regroup], out_frame[regroup]
    return AvaRows(keys, out_frame, n[:, [1, 0, 3, 2]], n[:, 4].astype(np.int64), n[:, 5], all_keys)
