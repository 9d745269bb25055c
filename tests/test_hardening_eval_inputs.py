"""Bad evaluation inputs: ``hake eval vcoco / hicodet / hico / ava`` exit with status 2 and one line naming the
file, record and field (hake's DataError), never a traceback, "Aborted." or a silently wrong score."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import FIXTURES
from hake.cli import app
from hake.datasets import ava
from hake.errors import DataError
from test_eval_vcoco import write_dataset

runner = CliRunner()
GT20 = FIXTURES / "eval" / "hicodet_test_first20.json"


def refused(args: list[str], *names: str) -> str:
    """Run the CLI: exit status 2, an ``error:`` line naming every one of ``names``, no traceback."""
    r = runner.invoke(app, args)
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert "error:" in r.output and "Traceback" not in r.output and "Aborted" not in r.output, r.output
    for name in names:
        assert name in r.output, (name, r.output)
    return r.output


# ---------------------------------------------------------------------------------------------- V-COCO

COCO_EDITS = {  # name -> (edit of the COCO instances dict, record named, field named)
    "no width": (lambda c: c["images"][0].pop("width"), "images[0] (id 1)", "'width'"),
    "no image id": (lambda c: c["images"][0].pop("id"), "images[0]", "'id'"),
    "no annotation id": (lambda c: c["annotations"][0].pop("id"), "annotations[0]", "'id'"),
    "no category_id": (lambda c: c["annotations"][1].pop("category_id"), "annotations[1] (id 12)", "'category_id'"),
    "width abc": (lambda c: c["images"][1].update(width="abc"), "images[1] (id 2)", "'width'"),
    "bbox string": (lambda c: c["annotations"][0].update(bbox="10 10 30 50"), "annotations[0] (id 11)", "'bbox'"),
    "bbox NaN": (lambda c: c["annotations"][0].update(bbox=[10, math.nan, 30, 50]), "annotations[0]", "'bbox'"),
    "area null": (lambda c: c["annotations"][0].update(area=None), "annotations[0] (id 11)", "'area'"),
    "image_id string": (lambda c: c["annotations"][3].update(image_id="2"), "annotations[3]", "'image_id'"),
    "annotation not an object": (lambda c: c["annotations"].append([1, 2]), "annotations[6]", "object"),
}


def vcoco_args(tmp_path: Path) -> tuple[list[str], Path]:
    v, c, ids = write_dataset(tmp_path)
    (tmp_path / "d.json").write_text(json.dumps([{"image_id": 1, "person_box": [10, 10, 39, 59], "hold_agent": 0.5}]))
    args = ["eval", "vcoco", "--vcoco", str(v), "--coco", str(c), "--split", str(ids),
            "--dets", str(tmp_path / "d.json")]
    return args, c


@pytest.mark.parametrize("case", sorted(COCO_EDITS))
def test_vcoco_bad_coco_instances(tmp_path, case: str) -> None:
    args, coco_path = vcoco_args(tmp_path)
    edit, record, field = COCO_EDITS[case]
    coco = json.loads(coco_path.read_text())
    edit(coco)
    coco_path.write_text(json.dumps(coco))
    refused(args, "coco.json", record, field)


@pytest.mark.parametrize(("key", "value", "field"), [("role_name", ["agent", "a", "b", "c"], "'role_name'"),
                                                     ("label", [1.5, 0], "'label'"), ("ann_id", "x", "'ann_id'")])
def test_vcoco_bad_vcoco_json(tmp_path, key: str, value: object, field: str) -> None:
    args, _ = vcoco_args(tmp_path)
    vcoco = json.loads((tmp_path / "vcoco.json").read_text())
    vcoco[1][key] = value
    (tmp_path / "vcoco.json").write_text(json.dumps(vcoco))
    refused(args, "vcoco.json", "action 1 (hold)", field)


@pytest.mark.parametrize(("det", "field"), [({"image_id": "1", "person_box": [1, 2, 3, 4]}, "'image_id'"),
                                            ({"image_id": 1, "person_box": [1, 2, 3, 4], "hold_obj": [1, 2]},
                                             "'hold_obj'"),
                                            ({"image_id": 1, "person_box": [1e39, 2, 3, 4]}, "'person_box'"),
                                            # one number is never broadcast over a box or a role
                                            ({"image_id": 1, "person_box": [5]}, "'person_box'"),
                                            ({"image_id": 1, "person_box": 5}, "'person_box'"),
                                            ({"image_id": 1, "person_box": [1, 2, 3, 4], "hold_obj": [7]},
                                             "'hold_obj'"),
                                            ({"image_id": 1, "person_box": [1, 2, 3, 4], "hold_agent": [0.5]},
                                             "'hold_agent'"),
                                            ({"image_id": 1, "person_box": [1, 2, 3, 4],
                                              "hold_obj": [1, 2, 3, 4, 1e40]}, "'hold_obj'")])
def test_vcoco_bad_detection(tmp_path, det: dict, field: str) -> None:
    args, _ = vcoco_args(tmp_path)
    (tmp_path / "d.json").write_text(json.dumps([det]))
    refused(args, "d.json", "record 0", field)


def test_vcoco_empty_split_file(tmp_path) -> None:
    args, _ = vcoco_args(tmp_path)
    (tmp_path / "ids.txt").write_text("")
    refused(args, "ids.txt", "'image_id'")


# ------------------------------------------------------------------------------------ HICO-DET / HICO npz

def _good_npz(path: Path) -> bytes:
    np.savez(path, image_index=np.zeros(3, np.int64), hoi=np.array([0, 1, 2]), boxes_h=np.ones((3, 4)),
             boxes_o=np.ones((3, 4)), scores=np.ones(3))
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["empty", "truncated", "member"])
def test_hicodet_damaged_npz(tmp_path, damage: str) -> None:
    data = _good_npz(tmp_path / "dets.npz")
    if damage == "empty":
        data = b""
    elif damage == "truncated":
        data = data[: len(data) // 2]
    else:  # a flipped byte inside the data of boxes_o: the zip CRC check names that array
        i = data.index(b"boxes_o.npy") + 200
        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
    (tmp_path / "dets.npz").write_bytes(data)
    out = refused(["eval", "hicodet", "--gt", str(GT20), "--dets", str(tmp_path / "dets.npz")], "dets.npz")
    assert damage != "member" or "'boxes_o'" in out


@pytest.mark.parametrize(("arrays", "field"), [({"hoi": np.zeros(3)}, "'boxes_h'"),
                                               ({"boxes_h": np.ones((3, 3))}, "'boxes_h'"),
                                               ({"scores": np.array(["a", "b", "c"])}, "'scores'"),
                                               ({"image_index": np.zeros((3, 1))}, "'image_index'")])
def test_hicodet_npz_bad_arrays(tmp_path, arrays: dict, field: str) -> None:
    cols = {"image_index": np.zeros(3, np.int64), "hoi": np.zeros(3), "boxes_h": np.ones((3, 4)),
            "boxes_o": np.ones((3, 4)), "scores": np.ones(3)}
    cols.update(arrays)
    if "hoi" in arrays:
        del cols["boxes_h"]
    np.savez(tmp_path / "d.npz", **cols)
    refused(["eval", "hicodet", "--gt", str(GT20), "--dets", str(tmp_path / "d.npz")], "d.npz", field)


def test_hicodet_npy_is_refused_and_hico_shares_the_reader(tmp_path) -> None:
    np.save(tmp_path / "d.npy", np.zeros((3, 11)))
    refused(["eval", "hicodet", "--gt", str(GT20), "--dets", str(tmp_path / "d.npy")], "d.npy", ".npz")
    labels = {"list_test": ["a.jpg"], "images": [{"pos": [0]}], "train_pos_count": [1] * 600}
    (tmp_path / "a.json").write_text(json.dumps(labels))
    for name, data in (("empty.npz", b""), ("empty.npy", b""), ("cut.npy", b"\x93NUMPY\x01\x00v\x00{'descr'")):
        (tmp_path / name).write_bytes(data)
        refused(["eval", "hico", "--anno", str(tmp_path / "a.json"), "--pred", str(tmp_path / name)], name)


# ------------------------------------------------------------------------------------------------- AVA

def ava_files(tmp_path: Path, gt_rows: str, det_rows: str) -> list[str]:
    (tmp_path / "l.pbtxt").write_text('item {\n  name: "stand"\n  id: 12\n}\n')
    (tmp_path / "g.csv").write_text(gt_rows)
    (tmp_path / "d.csv").write_text(det_rows)
    return ["eval", "ava", "--labelmap", str(tmp_path / "l.pbtxt"), "--gt", str(tmp_path / "g.csv"),
            "--dets", str(tmp_path / "d.csv")]


GOOD = "v,0902,0.1,0.1,0.5,0.5,12,0.9\nv,0903,0.1,0.1,0.5,0.5,12,0.8\n"


@pytest.mark.parametrize("protocol", ava.PROTOCOLS)
@pytest.mark.parametrize("ts", ["", "nan", "inf", "-inf", "1e300"])
def test_ava_bad_timestamp(tmp_path, protocol: str, ts: str) -> None:
    args = ava_files(tmp_path, GOOD, f"v,{ts},0.1,0.1,0.5,0.5,12,0.9\n" + GOOD)
    refused(args + ["--protocol", protocol], "d.csv", "row 0", "'timestamp'")


@pytest.mark.parametrize("protocol", ava.PROTOCOLS)
@pytest.mark.parametrize(("action", "field"), [("100000000000000000000000", "'action'"), ("", "'action'"),
                                               ("1e23", "'action'"), ("12.5", "'action'")])
def test_ava_bad_action(tmp_path, protocol: str, action: str, field: str) -> None:
    args = ava_files(tmp_path, GOOD, GOOD + f"v,0904,0.1,0.1,0.5,0.5,{action},0.7\n")
    refused(args + ["--protocol", protocol], "d.csv", "row 2", field)


def test_ava_head_nan_timestamps_are_not_a_perfect_score(tmp_path) -> None:
    rows = "v,nan,0.1,0.1,0.5,0.5,12,0\nv,nan,0.6,0.6,0.9,0.9,12,1\n"
    args = ava_files(tmp_path, rows, rows)
    refused(args + ["--protocol", "head"], "g.csv", "row 0", "'timestamp'")


@pytest.mark.parametrize("protocol", ava.PROTOCOLS)
@pytest.mark.parametrize("row", ["v,nan,0.1,0.1,0.5,0.5,12,0.9", "v,,0.1,0.1,0.5,0.5,12,0.9",
                                 "v,0904,0.1,nan,0.5,0.5,12,0.9", "v,0904,0.1,0.1,0.5,0.5,,0.9",
                                 "v,0904,0.1,0.1,0.5,0.5,9007199254740993,0.9", "v,0904,0.1,0.1,0.5,0.5,12,inf"])
def test_ava_fast_and_slow_paths_refuse_alike(tmp_path, monkeypatch, protocol: str, row: str) -> None:
    (tmp_path / "d.csv").write_text(GOOD + row + "\n")
    errors = []
    for slow in (False, True):
        if slow:
            monkeypatch.setattr(ava, "_parse_arrow", lambda *a: None)
        with pytest.raises(DataError) as err:
            ava.read_ava_csv(tmp_path / "d.csv", {12}, 50, protocol)
        errors.append((err.value.record, err.value.field))
    assert errors[0] == errors[1] and errors[0][0] == "row 2", errors
