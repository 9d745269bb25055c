"""Ray Data batch runner: same outputs as one process, resume, per-file failures, manifests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
from PIL import Image  # noqa: E402
from ray import cloudpickle  # noqa: E402  (Ray pickles with its own copy)

from hake.engine.infer.ray_runner import PipelineHandler, read_manifest, run_on_ray, run_pipeline_on_ray  # noqa: E402
from hake.engine.infer.runner import collect_jobs, run_jobs  # noqa: E402
from hake.errors import DataError  # noqa: E402

# Ray workers cannot import this test module by name; ship its functions by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", autouse=True)
def ray_local():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


class _Result:
    def __init__(self, data: dict) -> None:
        self.data = data

    def to_dict(self) -> dict:
        return self.data


class MeanColour:
    """A trivial 'pipeline': per-channel mean and size of the image; 'boom' files raise a bug."""

    def __call__(self, image: np.ndarray, source: str = "") -> _Result:
        if "boom" in source:
            raise RuntimeError("simulated worker bug")
        return _Result({"source": Path(source).name, "size": list(image.shape),
                        "mean": [round(float(m), 6) for m in image.reshape(-1, 3).mean(0)]})


def make_folder(root: Path) -> Path:
    src = root / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ["a.png", "b.jpg", "sub/c.png", "d.png", "e.png", "boom.png"]:
        Image.fromarray(rng.integers(0, 255, (12 + len(name), 9, 3), dtype=np.uint8)).save(src / name)
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return src


def outputs(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*.json"))}


def test_ray_equals_single_process_resumes_and_reports_failures(tmp_path: Path) -> None:
    src = make_folder(tmp_path)
    out_single, out_ray = tmp_path / "single", tmp_path / "ray"
    jobs_single, _ = collect_jobs([src], out_single)
    single = run_jobs([j for j in jobs_single if "boom" not in j.source.name], MeanColour, progress=False)
    assert len(single.done) == 5 and [f.source.name for f in single.failed] == ["broken.jpg"]

    jobs, _ = collect_jobs([src], out_ray)
    report = run_on_ray(jobs, lambda: PipelineHandler(MeanColour), workers=2)
    assert sorted(p.name for p in report.done) == ["a.png", "b.jpg", "c.png", "d.png", "e.png"]
    reasons = {f.source.name: f.reason for f in report.failed}
    assert set(reasons) == {"broken.jpg", "boom.png"}
    assert "not a readable image" in reasons["broken.jpg"] and "simulated worker bug" in reasons["boom.png"]
    assert report.throughput > 0 and report.run_seconds > 0 and "inputs/s" in report.line()
    assert outputs(out_ray) == outputs(out_single)  # byte-identical outputs, same names

    mtimes = {p: p.stat().st_mtime_ns for p in out_ray.rglob("*.json")}
    again = run_on_ray(collect_jobs([src], out_ray)[0], lambda: PipelineHandler(MeanColour), workers=2)
    assert again.done == []  # nothing recomputed
    assert sorted(p.name for p in again.skipped) == ["a.png", "b.jpg", "c.png", "d.png", "e.png"]
    assert {f.source.name for f in again.failed} == {"broken.jpg", "boom.png"}  # failures are retried
    assert {p: p.stat().st_mtime_ns for p in out_ray.rglob("*.json")} == mtimes


def test_fully_resumed_batch_starts_no_work(tmp_path: Path) -> None:
    src = make_folder(tmp_path)
    jobs = [j for j in collect_jobs([src], tmp_path / "o")[0] if j.source.suffix == ".png" and "boom" not in str(j)]
    for j in jobs:
        j.out_json.parent.mkdir(parents=True, exist_ok=True)
        j.out_json.write_text("{}")
    report = run_pipeline_on_ray(jobs, MeanColour, workers=2)
    assert len(report.skipped) == len(jobs) == 4 and report.done == [] and report.run_seconds == 0.0
    assert report.throughput == 0.0
    assert all(j.out_json.read_text() == "{}" for j in jobs)  # untouched


def test_manifest_lists_inputs_relative_to_itself(tmp_path: Path) -> None:
    src = make_folder(tmp_path)
    manifest = tmp_path / "list.txt"
    manifest.write_text("# two inputs\n\nin/a.png\n" + str(src / "sub" / "c.png") + "\n")
    assert read_manifest(manifest) == [src / "a.png", src / "sub" / "c.png"]
    manifest.write_text("in/a.png\nin/missing.png\n")
    with pytest.raises(DataError) as err:
        read_manifest(manifest)
    assert err.value.record == "line 2" and err.value.field == "path" and str(manifest) in str(err.value)


# --- the real command -----------------------------------------------------------------------------


def test_hake_infer_on_ray_equals_single_process_and_resumes(tmp_path: Path) -> None:
    pytest.importorskip("hake.geometry", reason="part-box geometry not available")
    import shutil

    import torch
    from typer.testing import CliRunner

    from hake.cli import app
    from hake.models.spatial import SpatialPasta, save_spatial_pasta

    examples = Path(__file__).resolve().parents[1] / "examples"
    src = tmp_path / "photos"
    src.mkdir()
    for p in sorted(examples.glob("*.jpg")):
        shutil.copy(p, src / p.name)
    (src / "truncated.jpg").write_bytes((examples / "footballer_kick.jpg").read_bytes()[:300])
    # the PaSta model: an exported (seeded, untrained) Spatial-PaSta, run through --onnx
    torch.manual_seed(0)
    weights, onnx_file = tmp_path / "sp.safetensors", tmp_path / "sp.onnx"
    save_spatial_pasta(SpatialPasta().eval(), weights)
    runner = CliRunner()
    assert runner.invoke(app, ["export", "onnx", "--weights", str(weights), "--out", str(onnx_file)]).exit_code == 0
    common = ["--onnx", str(onnx_file), "--hoi-threshold", "0"]
    single = runner.invoke(app, ["infer", str(src), "--out", str(tmp_path / "single"), "--no-progress", *common])
    assert single.exit_code == 1 and "1 failed" in single.output, single.output  # the truncated file
    args = ["infer", str(src), "--out", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2", *common]
    first = runner.invoke(app, args)
    assert first.exit_code == 1 and "inputs/s" in first.output and "truncated.jpg" in first.output, first.output
    got, want = outputs(tmp_path / "ray"), outputs(tmp_path / "single")
    assert len(want) == 2 and got == want  # identical bytes for every output
    assert any(json.loads(v)["persons"] for v in want.values())  # people were found and described
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.json")}
    again = runner.invoke(app, args)
    assert "0 done, 2 skipped" in again.output, again.output  # nothing recomputed
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.json")} == mtimes
