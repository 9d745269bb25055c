"""Safe, well-reported file access shared by every reader (no torch).

- :func:`read_json` decodes UTF-8 strictly and names the file on any failure.
- :func:`read_json_from_tar` reads JSON members of a ``.tar.gz`` without extracting to disk and
  refuses absolute paths and ``..`` in member names; a truncated archive is a :class:`DataError`.
- :func:`restricted_unpickle` loads HAKE's own pickles allowing only plain containers and numpy
  arrays; anything else (functions, arbitrary classes) is refused.
- :func:`read_image` decodes any image to 8-bit RGB, refusing decompression bombs and mapping
  16-bit / 32-bit / float pixels by their range (never silently white).
"""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import numpy as np

from hake.errors import DataError


def _decode(raw: bytes, where: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text (byte {err.start})", file=where) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}", file=where) from None
    except RecursionError:
        raise DataError("JSON nested too deeply", file=where) from None


def read_json(path: str | Path) -> Any:
    """Parse a UTF-8 JSON file; errors name the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", file=path) from None
    return _decode(raw, str(path))


def safe_member_name(name: str, archive: str | Path) -> str:
    """Return ``name`` if it is a relative path without ``..``; raise otherwise."""
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")):
        raise DataError(f"unsafe member path {name!r} (absolute or with '..')", file=archive)
    return name


#: Largest tar member hake inflates (bytes), and the most it inflates from one archive.
MAX_MEMBER_BYTES = 1 << 30
MAX_ARCHIVE_BYTES = 2 << 30


def read_json_from_tar(path: str | Path, suffix: str = ".json", max_member_bytes: int = MAX_MEMBER_BYTES,
                       max_total_bytes: int = MAX_ARCHIVE_BYTES) -> dict[str, Any]:
    """Read every ``*.json`` member of a tar archive into ``{member name: parsed JSON}``.

    Members declaring more than ``max_member_bytes``, or archives inflating to more than
    ``max_total_bytes`` in all, are refused before they are inflated (archive bombs).

    Raises:
        DataError: unreadable or truncated archive, unsafe member name, oversized member, bad JSON.
    """
    path = Path(path)
    out: dict[str, Any] = {}
    total = 0
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                safe_member_name(member.name, path)
                total += max(member.size, 0)
                if member.size > max_member_bytes or total > max_total_bytes:
                    raise DataError(f"member inflates to {member.size:,} bytes ({total:,} so far); the limits are "
                                    f"{max_member_bytes:,} per member and {max_total_bytes:,} per archive",
                                    file=path, record=member.name, field="size")
                if not member.isfile() or not member.name.endswith(suffix):
                    continue
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                out[member.name] = _decode(fh.read(), f"{path}:{member.name}")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DataError(f"unreadable or truncated archive: {err}", file=path) from None
    if not out:
        raise DataError(f"archive holds no {suffix} member", file=path)
    return out


def read_json_any(path: str | Path) -> Any:
    """JSON from a ``.json`` file or the single JSON member of a ``.tar``/``.tar.gz``."""
    path = Path(path)
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        members = read_json_from_tar(path)
        if len(members) != 1:
            raise DataError(f"expected one JSON member, found {sorted(members)}", file=path)
        return next(iter(members.values()))
    return read_json(path)


_ALLOWED_GLOBALS = {
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("numpy", "float64"), ("numpy", "float32"),
    ("numpy", "int64"), ("numpy", "int32"),
}


#: The most memory one unpickled array may take, bytes.
MAX_UNPICKLED_BYTES = 2 << 30


_BASE_DISPATCH: dict[int, Any] = dict(getattr(pickle._Unpickler, "dispatch"))  # noqa: B009 - untyped


class _RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler (it never pre-allocates what a length field claims), limited to
    :data:`_ALLOWED_GLOBALS` and to arrays of at most ``max_bytes``."""

    def __init__(self, file: Any, max_bytes: int) -> None:
        super().__init__(file, encoding="latin1")
        self.max_bytes = max_bytes

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")

    def _checked_build(self) -> None:
        stack = getattr(self, "stack")  # noqa: B009 - the pure-Python unpickler's working stack
        state, obj = stack[-1], stack[-2]
        if isinstance(obj, np.ndarray) and isinstance(state, tuple) and len(state) == 5:
            shape, dtype = state[1], state[2]
            if not isinstance(dtype, np.dtype) or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise pickle.UnpicklingError("array state with a bad shape or dtype")
            need = int(np.prod([int(d) for d in shape], dtype=object)) * dtype.itemsize
            if need > self.max_bytes:
                raise pickle.UnpicklingError(f"an array of {need:,} bytes is more than the {self.max_bytes:,} allowed")
        _BASE_DISPATCH[pickle.BUILD[0]](self)

    dispatch: ClassVar[dict[int, Any]] = {**_BASE_DISPATCH, pickle.BUILD[0]: _checked_build}


def restricted_unpickle(path: str | Path, max_bytes: int = MAX_UNPICKLED_BYTES) -> Any:
    """Load a HAKE pickle allowing only containers, numbers, strings and numpy arrays.

    Files and arrays larger than ``max_bytes`` are refused before allocation.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataError(f"pickle of {size:,} bytes is more than the {max_bytes:,} allowed", file=path)
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", file=path) from None
    try:
        return _RestrictedUnpickler(io.BytesIO(raw), max_bytes).load()
    except Exception as err:  # any failure while rebuilding a damaged pickle (numpy raises many kinds)
        raise DataError(f"refused or corrupt pickle: {type(err).__name__}: {err}", file=path) from None


#: Images with more pixels than this are refused before decoding (a 30000x30000 "bomb" is 900 M).
MAX_IMAGE_PIXELS = 120_000_000


def _to_uint8(arr: np.ndarray, mode: str, path: Path) -> np.ndarray:
    """Scale a single-channel 16-bit, 32-bit or float image to uint8 by its value range."""
    return np.asarray(_scaled(arr, mode, path), dtype=np.uint8)


def _scaled(arr: np.ndarray, mode: str, path: Path) -> Any:
    if mode.startswith("I;16"):
        return (arr.astype(np.float64) / 257.0).round().astype(np.uint8)
    if mode == "F":
        if not np.isfinite(arr).all():
            raise DataError("float image holds NaN or infinite pixels", file=path, field="pixels")
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0.0 and hi <= 1.0:
            return (arr * 255.0).round().astype(np.uint8)
        if lo >= 0.0 and hi <= 255.0:
            return arr.round().astype(np.uint8)
        raise DataError(f"float image with values in [{lo:g}, {hi:g}]: expected [0, 1] or [0, 255]",
                        file=path, field="pixels")
    # "I": 32-bit integers (also how some decoders give 16-bit greyscale)
    lo_i, hi_i = int(arr.min()), int(arr.max())
    if lo_i < 0 or hi_i > 65535:
        raise DataError(f"32-bit image with values in [{lo_i}, {hi_i}]: expected 0..65535", file=path, field="pixels")
    scale = 1.0 if hi_i <= 255 else 257.0
    return (arr.astype(np.float64) / scale).round().astype(np.uint8)


#: TIFF orientation tag (274) value -> the flip / rotation that shows the image upright.
_ORIENT: dict[int, Any] = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1], 5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 2).swapaxes(0, 1), 8: lambda a: np.rot90(a),
}


def _tiff_tags(path: Path) -> dict[int, Any] | None:
    """The first IFD's tags of a (Big)TIFF file, read without decoding pixels; None if not a TIFF."""
    import struct
    import warnings

    from PIL import TiffImagePlugin

    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if head[:4] not in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
                return None
            if head[2:4] in (b"+\0", b"\0+"):  # BigTIFF: a 16-byte header
                head += fh.read(8)
            ifd = TiffImagePlugin.ImageFileDirectory_v2(head)
            fh.seek(ifd.next)
            with warnings.catch_warnings():  # a damaged directory is reported as unreadable below
                warnings.simplefilter("ignore")
                ifd.load(fh)
            return dict(ifd)
    except (OSError, ValueError, SyntaxError, EOFError, KeyError, struct.error):
        return None


def _read_float_tiff(path: Path, max_pixels: int) -> np.ndarray | None:
    """(H, W, 3) uint8 RGB of a 3- or 4-channel floating-point TIFF (Pillow opens only 1-channel
    ones), values mapped by :func:`_scaled`'s range rule, alpha dropped, orientation tag applied;
    None when the file is not such a TIFF or OpenCV cannot decode it."""
    tags = _tiff_tags(path)
    if tags is None:
        return None
    fmt, samples = tags.get(339, 1), tags.get(277, 1)
    fmt = fmt[0] if isinstance(fmt, tuple) else fmt
    if fmt != 3 or samples not in (3, 4):  # 3 = IEEE floating point
        return None
    try:
        w, h = int(tags[256]), int(tags[257])
    except (KeyError, TypeError, ValueError):
        return None
    if w * h > max_pixels:
        raise DataError(f"image is {w}x{h} = {w * h:,} pixels, more than the {max_pixels:,} allowed",
                        file=path, field="size")
    import cv2

    try:
        arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    except (cv2.error, OSError):
        return None
    if arr is None or arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype.kind != "f":
        return None
    rgb = _scaled(arr[..., 2::-1], "F", path)  # OpenCV gives BGR(A)
    return np.ascontiguousarray(_ORIENT.get(tags.get(274, 1), lambda a: a)(rgb), dtype=np.uint8)


def read_image(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file, EXIF orientation applied.

    8-bit images are converted to RGB; single-channel 16-bit images are scaled by 1/257, 32-bit
    integer images by their range (0..255 as is, up to 65535 by 1/257), float images (1-channel,
    and 3- or 4-channel TIFFs, alpha dropped) from [0, 1] or [0, 255]; anything else is refused.

    Raises:
        DataError: the file cannot be read or decoded, is truncated, has more than ``max_pixels``
            pixels (checked before decoding), or holds values that cannot be mapped to 8 bits.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise DataError(f"image is {w}x{h} = {w * h:,} pixels, more than the {max_pixels:,} allowed",
                                file=path, field="size")
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I", "F") or im.mode.startswith("I;16"):
                grey = _to_uint8(np.asarray(im), im.mode, path)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except UnidentifiedImageError:
        pass  # perhaps a multi-channel float TIFF, which Pillow does not open
    except Image.DecompressionBombError as err:
        raise DataError(f"image too large: {err}", file=path, field="size") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"cannot decode image: {err}", file=path) from None
    pixels = _read_float_tiff(path, max_pixels)
    if pixels is None:
        raise DataError("not a readable image (unknown or corrupt format)", file=path)
    return pixels
