"""``hake infer`` on real photos, a folder with broken files, resume, and a video clip."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
from typer.testing import CliRunner

import hake.engine.infer.pipeline as pipeline_module
from conftest import FIXTURES, shared_file
from hake.viz.overlay import PANEL_WIDTH
from pipeline_standin import infer

runner = CliRunner()




def test_infer_a_photo_writes_json_and_overlay(tmp_path, standin) -> None:
    photo = shared_file("images", "person.jpg")
    res = infer(str(photo), "--out", str(tmp_path), "--save-vis")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "person.json").read_text())
    w, h = data["width"], data["height"]
    assert (w, h) == (640, 424) and data["source"] == str(photo)
    person = data["persons"][0]
    assert len(person["keypoints"]) == 17 and all(len(k) == 3 for k in person["keypoints"])
    parts = np.asarray(person["part_boxes"])
    assert parts.shape == (10, 4)
    assert np.all((parts[:, 0] >= 0) & (parts[:, 2] <= w) & (parts[:, 1] >= 0) & (parts[:, 3] <= h))
    assert set(person["pasta"]) == {"foot", "leg", "hip", "hand", "arm", "head"}
    assert all(set(s) == {"group", "state", "index", "prob"} for s in person["pasta"]["hand"])
    hoi = data["hois"][0]
    assert {"verb", "object", "hoi", "score", "box_h", "box_o"} <= set(hoi)
    assert {x["object"] for x in data["hois"]} <= {o["name"] for o in data["objects"]}
    assert hoi["box_o"] in [o["box"] for o in data["objects"]]
    vis = cv2.imread(str(tmp_path / "person.png"))
    assert vis.shape == (424, 640 + PANEL_WIDTH, 3)
    assert standin == [pipeline_module.DEFAULT_PASTA_MODEL]


def test_broken_files_are_named_and_the_rest_completes(tmp_path, standin) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(shared_file("images", "messi5.jpg"), folder / "messi5.jpg")
    shutil.copy(shared_file("images", "person.jpg"), folder / "sub" / "person.jpg")
    raw = shared_file("images", "horses.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(raw[: len(raw) // 2])
    (folder / "notes.jpg").write_text("this is a text file, not a JPEG\n")
    (folder / "readme.txt").write_text("ignored: not an image or video\n")
    out = tmp_path / "out"
    res = infer(str(folder), str(tmp_path / "missing.png"), "--out", str(out))
    assert res.exit_code == 1
    assert (out / "messi5.json").is_file() and (out / "sub" / "person.json").is_file()
    assert not (out / "truncated.json").exists() and not (out / "notes.json").exists()
    err = res.stderr
    assert "2 done" in err and "3 failed" in err
    failed = [line for line in err.splitlines() if line.startswith("failed:")]
    assert any("truncated.jpg: cannot decode image: image file is truncated" in line for line in failed)
    assert any("notes.jpg: not a readable image" in line for line in failed)
    assert any("missing.png" in line and "no such file" in line for line in failed)
    assert not any("readme.txt" in line for line in failed)


def test_resume_skips_finished_inputs_unless_overwrite(tmp_path, standin) -> None:
    photo = str(shared_file("images", "messi5.jpg"))
    assert infer(photo, "--out", str(tmp_path)).exit_code == 0
    first = (tmp_path / "messi5.json").stat().st_mtime_ns
    res = infer(photo, "--out", str(tmp_path))
    assert res.exit_code == 0 and "0 done, 1 skipped" in res.stderr
    assert (tmp_path / "messi5.json").stat().st_mtime_ns == first
    assert len(standin) == 1  # a fully resumed batch loads no model
    res = infer(photo, "--out", str(tmp_path), "--overwrite")
    assert res.exit_code == 0 and "1 done" in res.stderr and len(standin) == 2


def test_infer_a_video_writes_json_lines_and_an_annotated_video(tmp_path, standin) -> None:
    clip = FIXTURES / "video" / "vtest_clip.avi"
    res = infer(str(clip), "--out", str(tmp_path), "--save-vis", "--max-frames", "3", "--pose", "movenet_lightning")
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "vtest_clip.jsonl").read_text().splitlines()
    assert [json.loads(x)["frame_index"] for x in lines] == [0, 1, 2]
    assert any(p["track_id"] is not None for p in json.loads(lines[2])["persons"])
    cap = cv2.VideoCapture(str(tmp_path / "vtest_clip.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()


def test_bad_options_are_one_line_errors(tmp_path, standin) -> None:
    photo = str(shared_file("images", "messi5.jpg"))
    res = infer(photo, "--out", str(tmp_path), "--pose", "openpose")
    assert res.exit_code == 2 and "unknown pose model 'openpose'" in res.stderr


def test_missing_weights_or_unknown_models_are_one_line_errors(tmp_path) -> None:
    photo = str(shared_file("images", "messi5.jpg"))
    res = infer(photo, "--out", str(tmp_path), "--weights", str(tmp_path / "none.safetensors"))
    assert res.exit_code == 2 and "weight file not found" in res.stderr
    res = infer(photo, "--out", str(tmp_path), "--pasta-model", "spatial_pasta.no_such_model")
    assert res.exit_code == 2 and "no_such_model" in res.stderr
    assert not list(tmp_path.glob("*.json"))


def test_weights_select_activity2vec_through_the_same_interface(tmp_path) -> None:
    import torch

    from hake.models.a2v_predictor import A2VPredictor, save_model
    from hake.models.activity2vec import A2VSpec, Activity2Vec

    torch.manual_seed(0)
    spec = A2VSpec(backbone="tiny", pretrained=False, language=False, neck=32, hidden=32, image_size=256)
    weights = tmp_path / "a2v.safetensors"
    save_model(weights, Activity2Vec(spec), None)
    assert isinstance(pipeline_module.load_pasta_model(weights=weights), A2VPredictor)
    photo = str(shared_file("images", "person.jpg"))
    res = infer(photo, "--out", str(tmp_path / "out"), "--weights", str(weights))
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "out" / "person.json").read_text())
    assert data["persons"] and set(data["persons"][0]["pasta"]) == {"foot", "leg", "hip", "hand", "arm", "head"}
    assert {h["object"] for h in data["hois"]} <= {o["name"] for o in data["objects"]}
