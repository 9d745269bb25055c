"""``hake infer`` never loses or overwrites a user's data, and one bad input never ends the batch."""

from __future__ import annotations

import json
import shutil
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import shared_file
from hake.datasets.io import read_image
from hake.engine.infer.ray_runner import expand_manifests
from hake.engine.infer.runner import collect_inputs, collect_jobs, run_jobs, temp_name
from hake.errors import DataError, HakeWarning
from hake.structures.results import FrameResult, Person, dumps_json
from pipeline_standin import infer

runner = CliRunner()




class MeanPipeline:
    """A pipeline stand-in: one person whose score is the image's mean grey level / 255."""

    def __init__(self, fail_on: str | None = None, nan: bool = False) -> None:
        self.fail_on, self.nan = fail_on, nan

    def __call__(self, image: np.ndarray, source: str = "", frame_index: int | None = None) -> FrameResult:
        if self.fail_on and self.fail_on in source:
            raise RuntimeError("the model cannot predict this input")
        h, w = image.shape[:2]
        score = float("nan") if self.nan else float(image.mean() / 255.0)
        return FrameResult(source, w, h, frame_index, persons=[Person((0.0, 0.0, w - 1.0, h - 1.0), score)])


def _pngs(folder: Path, names: list[str], seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
        out.append(p)
    return out


def _bomb_png(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A 1x1 PNG whose header claims width x height (a decompression bomb; the pixels never decode)."""
    Image.new("L", (1, 1)).save(path)
    raw = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", width, height) + bytes(raw[24:29])
    raw[16:29] = ihdr
    raw[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    path.write_bytes(bytes(raw))
    return path


def test_save_vis_into_the_input_folder_never_overwrites_an_input(tmp_path, standin) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(shared_file("images", "person.jpg"), folder / "person.jpg")
    (png,) = _pngs(folder, ["astro.png"])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    res = infer(str(folder), "--out", str(folder), "--save-vis")
    assert res.exit_code == 0, res.output
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before
    assert json.loads((folder / "astro.png.json").read_text())["source"] == str(png)
    assert (folder / "astro.png.png").is_file() and (folder / "person.png").is_file()
    again = infer(str(folder), "--out", str(folder), "--save-vis")  # overlays are not taken for inputs
    assert again.exit_code == 0 and "0 done, 2 skipped" in again.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before


def test_same_names_from_different_folders_get_distinct_outputs_and_resume_checks_the_source(tmp_path) -> None:
    srcs = [_pngs(tmp_path / d, ["x.png"], seed=i)[0] for i, d in enumerate("abc")]
    jpg = tmp_path / "d" / "x.jpg"
    jpg.parent.mkdir()
    shutil.copy(shared_file("images", "person.jpg"), jpg)
    out = tmp_path / "out"
    jobs, failures = collect_jobs([*srcs, jpg], out)
    assert not failures and len({j.out_json for j in jobs}) == 4 and len({j.out_vis for j in jobs}) == 4
    summary = run_jobs(jobs, MeanPipeline, save_vis=False, progress=False)
    assert len(summary.done) == 4
    assert sorted(json.loads(j.out_json.read_text())["source"] for j in jobs) == sorted(map(str, [*srcs, jpg]))
    assert len(run_jobs(jobs, MeanPipeline, progress=False).skipped) == 4
    # another input of the same name in a new run gets a name of its own; nothing else is replaced
    other = _pngs(tmp_path / "e", ["x.png"], seed=9)[0]
    kept = {p: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}
    (job,) = collect_jobs([other], out)[0]
    assert job.out_json not in kept
    for overwrite in (False, True):
        summary = run_jobs([job], MeanPipeline, progress=False, overwrite=overwrite)
        assert summary.done == [other] and json.loads(job.out_json.read_text())["source"] == str(other)
        assert {p: p.read_bytes() for p in kept} == kept


def test_resume_finds_each_inputs_results_whatever_the_order_and_overwrite_keeps_the_others(tmp_path) -> None:
    a, b = (_pngs(tmp_path / d, ["x.png"], seed=i)[0] for i, d in enumerate("ab"))
    out = tmp_path / "out"
    assert len(run_jobs(collect_jobs([a, b], out)[0], MeanPipeline, progress=False).done) == 2
    again = run_jobs(collect_jobs([b, a], out)[0], MeanPipeline, progress=False)  # reversed order
    assert sorted(again.skipped) == sorted([a, b]) and not again.failed
    results = {json.loads(p.read_text())["source"]: p for p in out.glob("*.json")}
    kept_a = results[str(a)].read_bytes()
    (job,) = collect_jobs([b], out)[0]  # b alone, with --overwrite: b's own results are replaced
    assert job.out_json == results[str(b)]
    assert run_jobs([job], MeanPipeline, overwrite=True, progress=False).done == [b]
    assert results[str(a)].read_bytes() == kept_a


def test_a_user_photo_named_like_an_overlay_is_an_input_and_never_overwritten(tmp_path, standin) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(shared_file("images", "person.jpg"), folder / "person.jpg")
    assert infer(str(folder), "--out", str(folder), "--save-vis").exit_code == 0
    assert (folder / "person.png").is_file()  # the overlay of person.jpg
    (mine,) = _pngs(tmp_path, ["mine.png"], seed=3)
    shutil.copy(mine, folder / "person.png")  # the user puts a photo of their own under that name
    photo = (folder / "person.png").read_bytes()
    for extra in ([], ["--overwrite"]):
        res = infer(str(folder), "--out", str(folder), "--save-vis", *extra)
        assert res.exit_code == 0, res.output
        assert (folder / "person.png").read_bytes() == photo
        sources = {json.loads(p.read_text())["source"] for p in folder.glob("*.json")}
        assert str(folder / "person.png") in sources  # processed as the input it is


def test_a_decompression_bomb_is_that_files_error_and_the_batch_goes_on(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _bomb_png(folder / "a_bomb.png")
    _pngs(folder, ["b_good.png"])
    with pytest.raises(DataError, match="900000000 pixels"):
        read_image(folder / "a_bomb.png")
    summary = run_jobs(collect_jobs([folder], tmp_path / "out")[0], MeanPipeline, progress=False)
    assert [p.name for p in summary.done] == ["b_good.png"]
    assert [f.source.name for f in summary.failed] == ["a_bomb.png"] and "pixels" in summary.failed[0].reason


def test_a_model_that_cannot_predict_or_cannot_load_fails_per_input(tmp_path) -> None:
    folder = tmp_path / "in"
    _pngs(folder, ["a.png", "b.png", "c.png"])
    jobs = collect_jobs([folder], tmp_path / "out")[0]
    summary = run_jobs(jobs, lambda: MeanPipeline(fail_on="b.png"), progress=False)
    assert [p.name for p in summary.done] == ["a.png", "c.png"]
    assert summary.failed[0].reason == "RuntimeError: the model cannot predict this input"

    def broken() -> MeanPipeline:
        raise ValueError("bad ONNX graph")

    summary = run_jobs(collect_jobs([folder], tmp_path / "out2")[0], broken, progress=False)
    assert not summary.done and len(summary.failed) == 3
    assert all(f.reason == "cannot build the pipeline: ValueError: bad ONNX graph" for f in summary.failed)


def test_a_wrong_detector_file_is_reported_and_nothing_is_written(tmp_path) -> None:
    photo = str(shared_file("images", "messi5.jpg"))
    fake = tmp_path / "det.onnx"
    fake.write_bytes(b"not an onnx graph")
    res = infer(photo, "--out", str(tmp_path / "out"), "--detector", str(fake))
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "messi5.jpg: cannot build the pipeline" in res.stderr
    assert not list((tmp_path / "out").glob("*.json"))


@pytest.mark.parametrize("kind", ["png16", "rgb16", "tif_float", "tif_int32"])
def test_high_bit_depth_images_are_scaled_by_range(tmp_path, kind) -> None:
    grey = (np.arange(48 * 64).reshape(48, 64) * 21).astype(np.uint16)  # 0 .. 64491
    path = tmp_path / f"{kind}.{'png' if 'png' in kind or 'rgb' in kind else 'tif'}"
    if kind == "png16":
        cv2.imwrite(str(path), grey)
    elif kind == "rgb16":
        cv2.imwrite(str(path), np.dstack([grey, grey, grey]))
    elif kind == "tif_float":
        Image.fromarray((grey / 65535.0).astype(np.float32)).save(path)
    else:
        Image.fromarray(grey.astype(np.int32)).save(path)
    rgb = read_image(path)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    np.testing.assert_allclose(rgb[..., 0].astype(float), grey / 257.0, atol=1.0)
    assert rgb.min() == 0 and rgb.max() >= 250  # not "all white"


def test_float_images_outside_a_known_range_are_refused(tmp_path) -> None:
    path = tmp_path / "depth.tif"
    Image.fromarray(np.full((8, 8), 1000.0, dtype=np.float32)).save(path)
    with pytest.raises(DataError, match=r"float image with values in \[1000, 1000\]"):
        read_image(path)
    Image.fromarray(np.full((8, 8), np.nan, dtype=np.float32)).save(path)
    with pytest.raises(DataError, match="NaN"):
        read_image(path)


def test_a_manifest_with_a_missing_line_runs_the_rest(tmp_path) -> None:
    src = tmp_path / "in"
    _pngs(src, ["a.png", "b.png"])
    manifest = src / "list.txt"
    manifest.write_text("a.png\ngone.png\nb.png\n")
    found = collect_inputs(expand_manifests([manifest]), tmp_path / "out")
    summary = run_jobs(found.jobs, MeanPipeline, progress=False)
    assert [p.name for p in summary.done] == ["a.png", "b.png"]
    assert [(f.source.name, f.reason) for f in found.failures] == [("gone.png", "no such file or folder")]


def test_temp_names_are_unique_per_process_and_call(tmp_path) -> None:
    import os

    a, b = temp_name(tmp_path / "x.json"), temp_name(tmp_path / "x.json")
    assert a != b and f".{os.getpid()}." in a.name and a.parent == tmp_path


def test_nan_never_reaches_a_json_file(tmp_path) -> None:
    with pytest.warns(HakeWarning, match="1 NaN or infinite"):
        assert dumps_json({"mAP": float("nan"), "ok": [1.5, np.float32(2.0)]}) == '{"mAP": null, "ok": [1.5, 2.0]}'
    jobs = collect_jobs(_pngs(tmp_path / "in", ["a.png"]), tmp_path / "out")[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run_jobs(jobs, lambda: MeanPipeline(nan=True), progress=False).ok
    assert any(issubclass(w.category, HakeWarning) for w in caught)
    data = json.loads(jobs[0].out_json.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert data["persons"][0]["score"] is None


def test_empty_folders_unsupported_files_and_bad_output_folders(tmp_path, standin) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = infer(str(empty), "--out", str(tmp_path / "o"))
    assert res.exit_code == 1 and "folder holds no image or video" in res.stderr
    mixed = tmp_path / "mixed"
    _pngs(mixed, ["a.png"])
    Image.new("RGB", (4, 4)).save(mixed / "anim.gif")
    res = infer(str(mixed), "--out", str(tmp_path / "o"))
    assert res.exit_code == 0 and f"skipped: {mixed / 'anim.gif'}: unsupported file type '.gif'" in res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    standin.clear()
    res = infer(str(mixed), "--out", str(blocker))
    assert res.exit_code == 2 and "is a file, not a folder" in res.stderr and not standin
    res = infer(str(mixed), "--out", str(tmp_path / "o2"), "--pasta-model", "pasta_r.hake_hico")
    assert res.exit_code == 2 and "is a pasta_r model, not a PaSta model" in res.stderr and not standin
    res = infer(str(mixed), "--out", str(tmp_path / "o2"), "--detector", "yolo")
    assert res.exit_code == 2 and "unknown detector 'yolo'; known: nanodet_m" in res.stderr


def test_device_cuda_without_a_gpu_says_why_before_loading(tmp_path, standin) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    photo = str(shared_file("images", "messi5.jpg"))
    res = infer(photo, "--out", str(tmp_path), "--device", "cuda")
    assert res.exit_code == 2 and "sees no CUDA GPU" in res.stderr and not standin
