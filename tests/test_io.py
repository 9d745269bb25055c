"""Safe file access: strict UTF-8 JSON, tar members read in memory and checked, the restricted unpickler."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from conftest import write_tar_gz
from hake.datasets.io import read_json, read_json_any, read_json_from_tar, restricted_unpickle, safe_member_name
from hake.errors import DataError


def test_read_json_names_the_file_on_every_failure(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read") as err:
        read_json(tmp_path / "absent.json")
    assert err.value.file == str(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": [1, 2,}')
    with pytest.raises(DataError, match="invalid JSON at line 1"):
        read_json(bad)
    bad.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(DataError, match="not UTF-8 text \\(byte 7\\)"):
        read_json(bad)


def test_tar_members_are_read_in_memory_and_checked(tmp_path: Path) -> None:
    tgz = write_tar_gz(tmp_path / "a.tar.gz", {"dir/x.json": b'{"k": 1}', "dir/notes.txt": b"hi"})
    assert read_json_from_tar(tgz) == {"dir/x.json": {"k": 1}}
    assert read_json_any(tgz) == {"k": 1}
    assert not (tmp_path / "dir").exists()  # nothing was extracted
    two = write_tar_gz(tmp_path / "b.tar.gz", {"x.json": b"1", "y.json": b"2"})
    with pytest.raises(DataError, match="expected one JSON member"):
        read_json_any(two)
    none = write_tar_gz(tmp_path / "c.tar.gz", {"x.txt": b"1"})
    with pytest.raises(DataError, match="no .json member"):
        read_json_any(none)
    member_error = write_tar_gz(tmp_path / "d.tar.gz", {"x.json": b"{"})
    with pytest.raises(DataError, match="invalid JSON") as err:
        read_json_any(member_error)
    assert err.value.file == f"{member_error}:x.json"


@pytest.mark.parametrize("name", ["/abs.json", "../up.json", "a/../../up.json", "\\win.json"])
def test_unsafe_member_names_are_refused(name: str) -> None:
    with pytest.raises(DataError, match="unsafe member path"):
        safe_member_name(name, "archive.tar")


def test_safe_member_names_pass() -> None:
    assert safe_member_name("a/b..c/x.json", "t") == "a/b..c/x.json"


def test_restricted_unpickle_loads_plain_data_and_refuses_code(tmp_path: Path) -> None:
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps({"boxes": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": {1, 2}}))
    data = restricted_unpickle(good)
    np.testing.assert_array_equal(data["boxes"], np.arange(6).reshape(2, 3))
    assert data["ids"] == {1, 2} and data["boxes"].dtype == np.float32

    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DataError, match="builtins.print is not allowed") as err:
        restricted_unpickle(evil)
    assert err.value.file == str(evil)
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(good.read_bytes()[:20])
    with pytest.raises(DataError, match="refused or corrupt"):
        restricted_unpickle(cut)


class _HugeArray:
    """Pickles as an ndarray whose state claims 2e9 float64s (16 GB) but carries one byte."""

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return _reconstruct, (np.ndarray, (0,), b"b"), (1, (2_000_000_000,), np.dtype("f8"), False, b"x")


def test_an_unpickled_array_may_not_ask_for_more_memory_than_allowed(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pkl"
    path.write_bytes(pickle.dumps(_HugeArray(), protocol=4))
    assert path.stat().st_size < 1000
    with pytest.raises(DataError, match="an array of 16,000,000,000 bytes is more than"):
        restricted_unpickle(path)
    length_bomb = tmp_path / "len.pkl"  # BINBYTES8 claiming 15 GB, file of a few bytes
    length_bomb.write_bytes(b"\x80\x04\x8e" + (15 << 30).to_bytes(8, "little") + b"abc")
    with pytest.raises(DataError, match="refused or corrupt pickle"):
        restricted_unpickle(length_bomb)


def test_tar_members_declaring_gigabytes_are_refused_before_inflating(tmp_path: Path) -> None:
    import io
    import tarfile

    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("annotations/huge.json")
        info.size = 3 << 30
        tar.addfile(info)  # the header only: the archive is tiny, the member claims 3 GiB
        small = tarfile.TarInfo("annotations/ok.json")
        small.size = 2
        tar.addfile(small, io.BytesIO(b"{}"))
    assert path.stat().st_size < 10_000
    with pytest.raises(DataError, match="member inflates to 3,221,225,472 bytes"):
        read_json_from_tar(path)
    assert read_json_from_tar(write_tar_gz(tmp_path / "ok.tar.gz", {"a.json": b"[1]"}), ".json") == {"a.json": [1]}


def test_deeply_nested_json_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(DataError, match="nested too deeply"):
        read_json(path)
