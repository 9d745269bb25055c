"""``hake infer`` with the shipped default PaSta model (Pose-PaSta over Spatial-PaSta), no stand-in."""

from __future__ import annotations

import json

import cv2
import numpy as np
from typer.testing import CliRunner

from conftest import shared_file
from hake import hub
from hake.cli import app
from hake.engine.infer.pipeline import DEFAULT_PASTA_MODEL
from hake.viz.overlay import PANEL_WIDTH
from hake.vocab import load


def test_the_default_model_is_in_the_zoo() -> None:
    assert DEFAULT_PASTA_MODEL == "pose_pasta.coco_mini" and DEFAULT_PASTA_MODEL in hub.manifest()
    assert hub.resolve_name("spatial_pasta") == "spatial_pasta.hake_hicodet"


def test_infer_person_photo_with_the_default_model(tmp_path) -> None:
    photo = shared_file("images", "person.jpg")
    res = CliRunner().invoke(app, ["infer", str(photo), "--out", str(tmp_path), "--save-vis", "--no-progress"])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "person.json").read_text())
    w, h = data["width"], data["height"]
    assert len(data["persons"]) >= 1
    person = data["persons"][0]
    kp = np.asarray(person["keypoints"])
    assert kp.shape == (17, 3) and (kp[:, 2] > 0.3).sum() >= 10
    assert np.all((kp[:, 0] >= 0) & (kp[:, 0] < w) & (kp[:, 1] >= 0) & (kp[:, 1] < h))
    parts = np.asarray(person["part_boxes"])
    assert parts.shape == (10, 4)
    assert np.all((parts[:, 0] >= 0) & (parts[:, 2] <= w) & (parts[:, 1] >= 0) & (parts[:, 3] <= h))
    probs = [s["prob"] for states in person["pasta"].values() for s in states]
    assert all(0 <= p <= 1 for p in probs)
    evidence = [s["evidence"] for states in person["pasta"].values() for s in states]
    assert set(evidence) <= {"pose", "layout", "prior"} and "pose" in evidence  # a clear pose decides some
    vocab = load()
    objects = {o["name"] for o in data["objects"]}
    assert {"horse", "dog"} <= objects
    assert data["hois"], "no HOI listed"
    for hoi in data["hois"]:
        verb, obj = vocab.hois[hoi["hoi"]]
        assert (vocab.verbs117[verb], vocab.objects[obj]) == (hoi["verb"], hoi["object"])
        assert hoi["object"] in objects and 0 < hoi["score"] <= 1
    assert cv2.imread(str(tmp_path / "person.png")).shape == (h, w + PANEL_WIDTH, 3)
