"""Fuzz every reader of ``hake.datasets`` (and the files the evaluators take): mutated bytes or mutated
JSON structure give a result or hake's own error, never another exception.

``HAKE_FUZZ_EXAMPLES`` sets the examples per reader (40 by default; ``make fuzz`` runs 1,000).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from hake.datasets import ava, hico, hicodet, keypoint_cache, stats, vcoco
from hake.datasets import io as hio
from hake.datasets.builders import gt_hake
from hake.errors import HakeError
from test_eval_vcoco import ACTIONS, ROLES, write_dataset
from test_hake_readers_corrupt import WRONG, apply_bytes, byte_edit, paths_of, tar_gz

EXAMPLES = int(os.environ.get("HAKE_FUZZ_EXAMPLES", "40"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GT20 = FIXTURES / "eval" / "hicodet_test_first20.json"


def _png() -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3))
    assert ok
    return buf.tobytes()


def _npz(arr: np.ndarray, npy: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr) if npy else np.savez(buf, scores=arr)
    return buf.getvalue()


def _safetensors() -> bytes:
    from safetensors.numpy import save

    return save({"w": np.ones((3, 2), np.float32)}, metadata={"config": "{}"})


def _weights(path: Path) -> Any:
    from hake.models.weights_io import read_weights

    return read_weights(path)


_HICO_LABELS = json.dumps({"list_test": ["a.jpg", "b.jpg", "c.jpg"], "train_pos_count": [1] * 600,
                           "images": [{"pos": [i, 7], "neg": [100 + i], "amb": [599]} for i in range(3)]}).encode()
_KP = json.dumps({"format": keypoint_cache.FORMAT, "images": {"a.jpg": {"boxes": [[0, 0, 10, 20]],
                                                                         "keypoints": [[[1, 2, 0.5]] * 17]}}}).encode()
_AVA_CSV = b"vid_a,0902,0.1,0.2,0.5,0.9,12,0\nvid_a,0903,0.1,0.2,0.5,0.9,14,1\nvid_b,1000,0.0,0.0,1.0,1.0,80,2\n"
_LABELMAP = b'item {\n  name: "bend/bow (at the waist)"\n  id: 1\n}\nitem {\n  name: "stand"\n  id: 12\n}\n'
_PICKLE = pickle.dumps({"a": np.arange(6).reshape(2, 3), "b": [1, "x", (2.5, None)]}, protocol=4)
_HICODET_NPZ = io.BytesIO()
np.savez(_HICODET_NPZ, image_index=np.array([0, 1, 1]), hoi=np.array([5, 7, 599]),
         boxes_h=np.arange(12.0).reshape(3, 4), boxes_o=np.ones((3, 4)), scores=np.array([0.5, 0.25, 1.0]))
with tempfile.TemporaryDirectory() as _tmp:  # the V-COCO test's two-image dataset: vcoco JSON, COCO instances, ids
    _VCOCO_FILES = {k: p.read_bytes() for k, p in zip(("vcoco", "coco", "ids"), write_dataset(Path(_tmp)))}
_VCOCO_DETS = [{"image_id": 1, "person_box": [10, 10, 39, 59], "stand_agent": 0.1, "hold_agent": 0.9,
                "hold_obj": [50, 20, 59, 29, 0.9], "cut_instr": [90, 70, 99, 79, 0.7], "cut_obj": [0, 0, 0, 0, 0.6]},
               {"image_id": 2, "person_box": [0, 0, 19, 39], "stand_agent": 0.8}]


def _vcoco_gt(path: Path, mutated: str) -> Any:
    """Read the V-COCO GT with file ``mutated`` (vcoco / coco / ids) at ``path``, the other two intact."""
    files = {k: path if k == mutated else path.with_name(f"{k}.orig") for k in _VCOCO_FILES}
    for k, p in files.items():
        if k != mutated:
            p.write_bytes(_VCOCO_FILES[k])
    return vcoco.load_vcoco_gt(files["vcoco"], files["coco"], files["ids"])

#: name -> (seed bytes, file suffix, reader of a path)
FILE_READERS: dict[str, tuple[bytes, str, Callable[[Path], Any]]] = {
    "hicodet_gt": (GT20.read_bytes(), ".json", hicodet.load_test_gt),
    "hicodet_gt_tar": (tar_gz(GT20.read_bytes(), "instances_test2015.json"), ".tar.gz", hicodet.load_test_gt),
    "hicodet_detections": (json.dumps({"detections": [[[5, 1, 2, 30, 40, 3, 4, 50, 60, 0.5]]]}).encode(), ".json",
                           lambda p: hicodet.load_detections(p, 1)),
    "hico_labels": (_HICO_LABELS, ".json", hico.load_labels),
    "hico_predictions_npz": (_npz(np.zeros((3, 600))), ".npz", lambda p: hico.load_predictions(p, 3)),
    "hico_predictions_npy": (_npz(np.zeros((3, 600)), npy=True), ".npy", lambda p: hico.load_predictions(p, 3)),
    "hico_anno_mat": (b"MATLAB 5.0 MAT-file" + bytes(120), ".mat", hico.load_anno_mat),
    "keypoint_cache": (_KP, ".json", keypoint_cache.KeypointCache),
    "hicodet_detections_npz": (_HICODET_NPZ.getvalue(), ".npz", lambda p: hicodet.load_detections(p, 2)),
    "vcoco_json": (_VCOCO_FILES["vcoco"], ".json", lambda p: _vcoco_gt(p, "vcoco")),
    "vcoco_instances": (_VCOCO_FILES["coco"], ".json", lambda p: _vcoco_gt(p, "coco")),
    "vcoco_ids": (_VCOCO_FILES["ids"], ".txt", lambda p: _vcoco_gt(p, "ids")),
    "vcoco_detections": (json.dumps(_VCOCO_DETS).encode(), ".json",
                         lambda p: vcoco.load_vcoco_detections(p, ACTIONS, ROLES)),
    "ava_csv": (_AVA_CSV, ".csv", lambda p: ava.read_ava_csv(p, None)),
    "ava_csv_head": (_AVA_CSV, ".csv", lambda p: ava.read_ava_csv(p, {12, 14}, 1, protocol="head")),
    "ava_exclusions": (b"vid_a,0902\nvid_b,1000\n", ".csv", ava.read_exclusions),
    "ava_labelmap": (_LABELMAP, ".pbtxt", ava.read_labelmap),
    "gt_hake_image": ((FIXTURES / "hake" / "image_level_excerpt.json").read_bytes(), ".json", gt_hake.load_gt_hake),
    "stats": ((FIXTURES / "hake" / "instance_level_excerpt.json").read_bytes(), ".json", stats.dataset_stats),
    "image": (_png(), ".png", hio.read_image),
    "pickle": (_PICKLE, ".pkl", hio.restricted_unpickle),
    "weights": (_safetensors(), ".safetensors", _weights),
}


def only_hake_errors(reader: Callable[[Path], Any], data: bytes, suffix: str) -> None:
    """Run ``reader`` on ``data`` written to a file: a result or a HakeError, nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            reader(path)
        except HakeError:
            pass


def test_every_seed_is_read_as_it_is() -> None:
    for name, (data, suffix, reader) in FILE_READERS.items():
        if name == "hico_anno_mat":
            continue  # a header only: its job is to be refused
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"seed{suffix}"
            path.write_bytes(data)
            assert reader(path) is not None, name


extra_edit = st.one_of(byte_edit, st.tuples(st.just("insert"), st.floats(0, 1, exclude_max=True),
                                            st.integers(0, 255)))


def _edit(data: bytes, e: tuple[str, float, int]) -> bytes:
    if not data:
        return data
    if e[0] == "insert":
        i = int(e[1] * len(data))
        return data[:i] + bytes([e[2]]) * 3 + data[i:]
    return apply_bytes(data, e)


@pytest.mark.parametrize("name", sorted(FILE_READERS))
@SETTINGS
@given(edits=st.lists(extra_edit, min_size=1, max_size=4))
def test_mutated_bytes_give_only_hake_errors(name: str, edits) -> None:
    data, suffix, reader = FILE_READERS[name]
    for e in edits:
        data = _edit(data, e)
    only_hake_errors(reader, data, suffix)


#: name -> (seed JSON, parser of (raw, where))
JSON_PARSERS: dict[str, tuple[Any, Callable[[Any, str], Any]]] = {
    "hicodet_gt": (json.loads(GT20.read_text()), hicodet.parse_test_gt),
    "hicodet_detections": ({"detections": [[[5, 1, 2, 30, 40, 3, 4, 50, 60, 0.5]], []]},
                           lambda raw, where: hicodet.parse_detections(raw, 2, where)),
    "hico_labels": (json.loads(_HICO_LABELS), hico.parse_labels_json),
    "vcoco_json": (json.loads(_VCOCO_FILES["vcoco"]), lambda raw, where: vcoco.build_vcoco_gt(
        raw, json.loads(_VCOCO_FILES["coco"]), np.array([1, 2]), (where, "coco.json", "ids.txt"))),
    "vcoco_instances": (json.loads(_VCOCO_FILES["coco"]), lambda raw, where: vcoco.build_vcoco_gt(
        json.loads(_VCOCO_FILES["vcoco"]), raw, np.array([1, 2]), ("vcoco.json", where, "ids.txt"))),
    "vcoco_detections": (_VCOCO_DETS, lambda raw, where: vcoco.parse_vcoco_detections(raw, ACTIONS, ROLES, where)),
}


@pytest.mark.parametrize("name", sorted(JSON_PARSERS))
@SETTINGS
@given(data=st.data())
def test_mutated_structure_gives_only_hake_errors(name: str, data) -> None:
    seed, parse = JSON_PARSERS[name]
    raw = json.loads(json.dumps(seed))
    paths = paths_of(raw)
    for _ in range(data.draw(st.integers(1, 3), label="n_edits")):
        path = data.draw(st.sampled_from(paths), label="path")
        parent = raw
        try:
            for k in path[:-1]:
                parent = parent[k]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, (dict, list)):  # an earlier edit put a string or number here
            continue
        if isinstance(parent, dict) and data.draw(st.booleans(), label="delete"):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(WRONG, label="value")
    try:
        parse(raw, "mutated.json")
    except HakeError:
        pass

