"""Property tests: readers given random corruptions of a valid file raise only :class:`DataError`."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from hake.datasets.hake_json import load_image_level, load_instance_level, parse_image_level, parse_instance_level
from hake.datasets.stats import dataset_stats
from hake.errors import DataError

INSTANCE = FIXTURES / "hake" / "instance_level_excerpt.json"
IMAGE = FIXTURES / "hake" / "image_level_excerpt.json"
READERS = {"instance": (INSTANCE, load_instance_level, parse_instance_level),
           "image": (IMAGE, load_image_level, parse_image_level)}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tar_gz(data: bytes, name: str = "annotations/train.json") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def only_data_errors(loader, data: bytes, suffix: str) -> None:
    """Load ``data`` written to a file; success or DataError naming that file, nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"corrupt{suffix}"
        path.write_bytes(data)
        try:
            loader(path)
        except DataError as err:
            assert err.file is not None and str(path) in err.file


byte_edit = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
)


def apply_bytes(data: bytes, edit: tuple[str, float, int]) -> bytes:
    kind, where, value = edit
    i = int(where * len(data))
    if kind == "truncate":
        return data[:i]
    return data[:i] + bytes([data[i] ^ value]) + data[i + 1:]


@pytest.mark.parametrize("kind", sorted(READERS))
@SETTINGS
@given(edits=st.lists(byte_edit, min_size=1, max_size=3))
def test_byte_corruptions_of_json_raise_only_data_error(kind: str, edits) -> None:
    fixture, loader, _ = READERS[kind]
    data = fixture.read_bytes()
    for e in edits:
        data = apply_bytes(data, e) if data else data
    only_data_errors(loader, data, ".json")


@pytest.mark.parametrize("kind", sorted(READERS))
@SETTINGS
@given(edits=st.lists(byte_edit, min_size=1, max_size=2))
def test_byte_corruptions_of_tarballs_raise_only_data_error(kind: str, edits) -> None:
    fixture, loader, _ = READERS[kind]
    data = tar_gz(fixture.read_bytes())
    for e in edits:
        data = apply_bytes(data, e) if data else data
    only_data_errors(loader, data, ".tar.gz")
    only_data_errors(dataset_stats, data, ".tar.gz")


def paths_of(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indices) inside a parsed JSON tree, the root excluded."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        out.append(prefix + (k,))
        out.extend(paths_of(v, prefix + (k,)))
    return out


WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 700), st.integers(10**30, 10**31),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
    st.lists(st.integers(-2, 40), max_size=5), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@pytest.mark.parametrize("kind", sorted(READERS))
@SETTINGS
@given(data=st.data())
def test_structural_corruptions_raise_only_data_error(kind: str, data) -> None:
    fixture, _, parse = READERS[kind]
    raw = json.loads(fixture.read_text())
    paths = paths_of(raw)
    for _ in range(data.draw(st.integers(1, 3), label="n_edits")):
        path = data.draw(st.sampled_from(paths), label="path")
        parent = raw
        try:
            for k in path[:-1]:
                parent = parent[k]
            key = path[-1]
            parent[key]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
        if isinstance(parent, dict) and data.draw(st.booleans(), label="delete"):
            del parent[key]
        else:
            parent[key] = data.draw(WRONG, label="value")
    try:
        parse(raw, "mutated.json")
    except DataError as err:
        assert err.file == "mutated.json"


@SETTINGS
@given(part=st.integers(10, 10**6) | st.integers(-(10**6), -1), state=st.integers(0, 5))
def test_any_out_of_range_part_index_is_named(part: int, state: int) -> None:
    raw = json.loads(INSTANCE.read_text())
    raw["HICO_train2015_00000004.jpg"]["labels"][1]["action_labels"][0] = {"human_part": part, "partstate": state}
    with pytest.raises(DataError, match="part index") as err:
        parse_instance_level(raw, "x.json")
    assert err.value.record == "HICO_train2015_00000004.jpg"
    assert err.value.field == "labels[1].action_labels[0].human_part"


@pytest.mark.parametrize("name", ["/etc/hake.json", "../hake.json", "a/../../hake.json"])
@pytest.mark.parametrize("kind", sorted(READERS))
def test_tar_members_with_absolute_or_parent_paths_are_refused(tmp_path: Path, name: str, kind: str) -> None:
    fixture, loader, _ = READERS[kind]
    path = tmp_path / "evil.tar.gz"
    path.write_bytes(tar_gz(fixture.read_bytes(), name))
    with pytest.raises(DataError, match="unsafe member path") as err:
        loader(path)
    assert err.value.file == str(path)
