"""Safe, well-reported file access shared by every reader (no torch).

- :func:`read_json` decodes UTF-8 strictly and names the file on any failure.
- :func:`read_json_from_tar` reads JSON members of a ``.tar.gz`` without extracting to disk and
  refuses absolute paths and ``..`` in member names; a truncated archive is a :class:`DataError`.
- :func:`restricted_unpickle` loads HAKE's own pickles allowing only plain containers and numpy
  arrays; anything else (functions, arbitrary classes) is refused.
"""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

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


def read_json_from_tar(path: str | Path, suffix: str = ".json") -> dict[str, Any]:
    """Read every ``*.json`` member of a tar archive into ``{member name: parsed JSON}``.

    Raises:
        DataError: unreadable or truncated archive, unsafe member name, bad JSON in a member.
    """
    path = Path(path)
    out: dict[str, Any] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                safe_member_name(member.name, path)
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


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def restricted_unpickle(path: str | Path) -> Any:
    """Load a HAKE pickle allowing only containers, numbers, strings and numpy arrays."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", file=path) from None
    try:
        return _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise DataError(f"refused or corrupt pickle: {err}", file=path) from None
