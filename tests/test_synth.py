"""The synthetic HAKE-HICO-DET generator and the keypoint cache, read back with the real readers."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from hake.datasets.builders.synth import ACTIONS, TEMPLATE, generate, is_synthetic
from hake.datasets.keypoint_cache import KeypointCache, write_keypoint_cache
from hake.errors import DataError
from hake.geometry.boxes import iou_matrix
from hake.vocab import load


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, 12, size=96, seed=3)
    return out


def test_folder_layout_and_split(synth_dir) -> None:
    meta = json.loads((synth_dir / "synth.json").read_text())
    train = json.loads((synth_dir / "train.json").read_text())
    test = json.loads((synth_dir / "test.json").read_text())
    assert is_synthetic(synth_dir)
    assert meta["n"] == 12 and meta["n_test"] == 2
    assert len(train) == 10 and len(test) == 2 and not set(train) & set(test)
    assert len(list((synth_dir / "images").glob("*.png"))) == 12


def test_real_reader_sees_the_drawn_part_states(synth_dir) -> None:
    from hake.datasets.hake_json import load_instance_level

    vocab = load()
    names = {vocab.hoi_name(i): i for i in range(600)}
    by_hoi = {names[a.hoi]: a for a in ACTIONS}
    images = load_instance_level(synth_dir / "train.json")
    assert len(images) == 10
    n_labels = 0
    for im in images:
        pixels = cv2.cvtColor(cv2.imread(str(synth_dir / im.path_prefix / im.name)), cv2.COLOR_BGR2RGB)
        for lab in im.labels:
            n_labels += 1
            action = by_hoi[lab.hoi]
            vec = lab.pasta76()
            for part, state in action.states:  # every state the action implies is labelled
                group = vocab.part_group(part)
                idx = [n for g, n in vocab.pasta["pasta76"] if g == group].index(state)
                assert vec[vocab.pasta_slices()[group].start + idx] == 1
            groups_with_state = {vocab.part_group(p) for p, _ in action.states}
            for g, s in vocab.pasta_slices().items():  # the others are no_interaction
                assert vec[s.stop - 1] == (g not in groups_with_state)
            # the object is drawn in its class colour at the centre of its box
            x1, y1, x2, y2 = lab.box_o
            cx, cy = round((x1 + x2) / 2), round((y1 + y2) / 2)
            if action.shape != "triangle":
                assert np.abs(pixels[cy, cx].astype(int) - action.colour).max() <= 2
    assert n_labels >= 10


def test_keypoint_cache_matches_every_human(synth_dir) -> None:
    from hake.datasets.hake_json import load_instance_level

    cache = KeypointCache(synth_dir / "keypoints.json")
    assert len(cache) == 12
    for im in load_instance_level(synth_dir / "test.json"):
        for lab in im.labels:
            kps = cache.lookup(im.name, np.asarray(lab.box_h))
            assert kps is not None and kps.shape == (17, 3)
            x1, y1, x2, y2 = lab.box_h  # the box encloses its skeleton
            assert (kps[:, 0] >= x1).all() and (kps[:, 0] <= x2).all()
            assert (kps[:, 1] >= y1).all() and (kps[:, 1] <= y2).all()
    assert cache.lookup("nope.png", np.zeros(4)) is None


def test_keypoint_cache_errors_name_file_and_record(tmp_path) -> None:
    bad = tmp_path / "kp.json"
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="kp.json") as err:
        KeypointCache(bad)
    assert err.value.field == "format"
    write_keypoint_cache(bad, {"a.jpg": {"boxes": [[0, 0, 1, 1]], "keypoints": np.zeros((1, 17, 3))}})
    raw = json.loads(bad.read_text())
    raw["images"]["a.jpg"]["boxes"].append([0, 0, 2, 2])
    bad.write_text(json.dumps(raw))
    with pytest.raises(DataError, match="2 boxes but 1 poses") as err:
        KeypointCache(bad)
    assert err.value.record == "a.jpg"


def test_iou_matrix_known_values() -> None:
    a = np.array([[0, 0, 2, 2]], float)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[1 / 7, 1.0, 0.0]])
    point = np.array([[4, 4, 4, 4]], float)  # zero area: IoU 0, never NaN
    assert iou_matrix(point, point).tolist() == [[0.0]]


def test_generator_rejects_bad_arguments(tmp_path) -> None:
    with pytest.raises(DataError, match="at least 2"):
        generate(tmp_path, 1)
    with pytest.raises(DataError, match="size"):
        generate(tmp_path, 4, size=8)


def test_template_is_a_plausible_upright_figure() -> None:
    # nose above shoulders above hips above knees above ankles; left joints at x > 0
    assert TEMPLATE[0, 1] < TEMPLATE[5, 1] < TEMPLATE[11, 1] < TEMPLATE[13, 1] < TEMPLATE[15, 1]
    assert (TEMPLATE[[5, 7, 9, 11, 13, 15], 0] > 0).all() and (TEMPLATE[[6, 8, 10, 12, 14, 16], 0] < 0).all()


def test_keypoints_command_poses_the_annotated_humans(synth_dir, tmp_path) -> None:
    from typer.testing import CliRunner

    from hake.cli import app
    from hake.datasets.hake_json import load_instance_level

    out = tmp_path / "kp.json"
    res = CliRunner().invoke(app, ["data", "keypoints", str(synth_dir / "images"), "--out", str(out),
                                   "--annotation", str(synth_dir / "test.json"), "--pose", "movenet_lightning"])
    assert res.exit_code == 0, res.output
    cache = KeypointCache(out)
    assert len(cache) == 12  # every image is listed; only annotated ones have persons
    for im in load_instance_level(synth_dir / "test.json"):
        for lab in im.labels:
            kps = cache.lookup(im.name, np.asarray(lab.box_h), min_iou=0.99)
            assert kps is not None and kps.shape == (17, 3)
            assert np.isfinite(kps).all() and ((kps[:, 2] >= 0) & (kps[:, 2] <= 1)).all()
