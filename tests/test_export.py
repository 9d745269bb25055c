"""ONNX export: dynamic axes, onnxruntime == PyTorch on real inputs, provenance, CLI and runtime model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import shared_file
from hake.cli import app
from hake.errors import DataError, HakeError
from hake.export.check import TOLERANCE, check_onnx
from hake.export.onnx_export import export_onnx, read_info, run_session, run_torch, session
from hake.models.pasta_r import InSpec, PastaR, save_pasta_r

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def small_pasta_r(kind: str, seed: int = 0, **spec) -> PastaR:
    torch.manual_seed(seed)
    hidden = {"linear": 0, "mlp": 64, "gcn": 16, "seq": 32, "tree": 32}[kind]
    return PastaR(kind, InSpec.pasta(**({"parts": True, "objects": True} | spec)), hidden=hidden).eval()


def export_file(model: PastaR, tmp: Path, name: str) -> tuple[Path, Path]:
    weights, onnx_file = tmp / f"{name}.safetensors", tmp / f"{name}.onnx"
    save_pasta_r(model, weights)
    export_onnx(model, onnx_file, source=f"file:{weights}")
    return weights, onnx_file


@pytest.fixture(scope="module")
def gt_inputs(request) -> dict[str, np.ndarray]:
    """PaSta-R inputs of 300 real HAKE-HICO images (PaSta-76 one-hots, part flags, objects)."""
    pytest.importorskip("hake.datasets.hake_json", reason="HAKE annotation reader not available")
    from hake.export.inputs import hake_annotation_inputs

    path = shared_file("hake", "annotations", "hico-image-level.tar.gz")
    return hake_annotation_inputs(path, (12, 10, 5, 31, 5, 13), 10, 80, limit=300)[0]


@pytest.mark.parametrize("kind", ["linear", "mlp", "gcn", "seq", "tree"])
def test_pasta_r_onnx_equals_torch_on_real_gt_inputs(kind: str, tmp_path: Path, gt_inputs) -> None:
    model = small_pasta_r(kind)
    _, onnx_file = export_file(model, tmp_path, kind)
    sess = session(onnx_file)
    info = read_info(onnx_file, sess)
    assert info.inputs == ["pasta", "parts", "objects"] and info.outputs == ["hoi_logits", "verb_logits"]
    # dynamic person axis: the graph was traced with 3 rows
    for n in (300, 1, 0):
        feed = {k: v[:n] for k, v in gt_inputs.items()}
        got, ref = run_session(sess, info, feed), run_torch(model, feed)
        assert got["hoi_logits"].shape == (n, 600) and got["verb_logits"].shape == (n, 117)
        for name in info.outputs:
            assert np.abs(got[name] - ref[name]).max(initial=0.0) < TOLERANCE
    # and the PyTorch reference really is the model's forward
    out = model(list(torch.split(torch.from_numpy(gt_inputs["pasta"][:5]), model.in_spec.group_dims, 1)),
                obj=torch.from_numpy(gt_inputs["objects"][:5]), parts=torch.from_numpy(gt_inputs["parts"][:5]))
    np.testing.assert_allclose(run_torch(model, {k: v[:5] for k, v in gt_inputs.items()})["hoi_logits"],
                               out["hoi"].detach().numpy(), rtol=0, atol=0)


def test_check_passes_and_catches_a_different_model(tmp_path: Path, hake_image_level: Path, gt_inputs) -> None:
    model = small_pasta_r("gcn", parts=False, objects=True)
    weights, onnx_file = export_file(model, tmp_path, "gcn")
    report = check_onnx(onnx_file, annotations=hake_image_level, limit=200)
    assert report.passed and report.rows == 200 and report.family == "pasta_r"
    assert set(report.max_abs_diff) == {"hoi_logits", "verb_logits"}
    other = tmp_path / "other.safetensors"
    save_pasta_r(small_pasta_r("gcn", seed=1, parts=False, objects=True), other)
    bad = check_onnx(onnx_file, weights=other, annotations=hake_image_level, limit=50)
    assert not bad.passed and max(bad.max_abs_diff.values()) > 1e-2
    # a source changed after export is refused rather than compared silently
    save_pasta_r(small_pasta_r("gcn", seed=2, parts=False, objects=True), weights)
    with pytest.raises(HakeError, match="changed since export"):
        check_onnx(onnx_file, annotations=hake_image_level, limit=10)


def test_cli_export_and_check(tmp_path: Path, hake_image_level: Path, gt_inputs) -> None:
    weights = tmp_path / "seq.safetensors"
    save_pasta_r(small_pasta_r("seq"), weights)
    runner = CliRunner()
    res = runner.invoke(app, ["export", "onnx", "--weights", str(weights), "--out", str(tmp_path / "m.onnx")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["export", "check", str(tmp_path / "m.onnx"), "--annotations", str(hake_image_level),
                              "--limit", "64", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("PASS") and '"passed": true' in (tmp_path / "r.json").read_text()
    res = runner.invoke(app, ["export", "onnx", "--out", str(tmp_path / "x.onnx")])
    assert res.exit_code == 2 and "exactly one of --model" in res.output


def test_export_leaves_the_model_in_its_mode(tmp_path: Path) -> None:
    model = small_pasta_r("mlp").train()
    x = [torch.rand(4, d) for d in model.in_spec.group_dims]
    export_onnx(model, tmp_path / "m.onnx")
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    before = model(x, obj=torch.zeros(4, 80), parts=torch.ones(4, 10))["hoi"]
    export_onnx(model, tmp_path / "m.onnx")
    assert not any(m.training for m in model.modules())  # dropout stays off: same outputs
    torch.testing.assert_close(model(x, obj=torch.zeros(4, 80), parts=torch.ones(4, 10))["hoi"], before)


def test_files_that_are_not_hake_exports_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "g.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(DataError) as err:
        session(garbage)
    assert str(garbage) in str(err.value)
    plain = tmp_path / "plain.onnx"
    torch.onnx.export(torch.nn.Linear(2, 2), (torch.zeros(1, 2),), str(plain), dynamo=False)
    with pytest.raises(DataError) as err:
        read_info(plain)
    assert err.value.field == "hake.family"


# --- Activity2Vec -------------------------------------------------------------------------------


def tiny_a2v(with_reasoner: bool):
    from hake.models.a2v_predictor import A2VPredictor, Reasoner
    from hake.models.activity2vec import A2VSpec, Activity2Vec

    torch.manual_seed(0)
    a2v = Activity2Vec(A2VSpec(backbone="tiny", pretrained=False, image_size=160)).eval()
    return A2VPredictor(a2v, Reasoner("linear", a2v.group_dims, 117) if with_reasoner else None)


def photo_feed(with_objects: bool) -> dict[str, np.ndarray]:
    """Real pixels (a sample photo, 2 people-sized boxes) at a size other than the traced one."""
    from hake.engine.infer.runner import read_image

    img = read_image(EXAMPLES / "woman_horse_dog.jpg")[::4, ::4]  # (106, 160, 3)
    boxes_h = np.array([[50, 20, 90, 100], [10, 30, 60, 105]], np.float32)
    boxes_o = np.array([[90, 10, 150, 90], [10, 30, 60, 105]], np.float32)
    t = np.linspace(0.1, 0.9, 10)[None, :, None]
    centres = boxes_h[:, None, :2] + t * (boxes_h[:, None, 2:] - boxes_h[:, None, :2])
    feed = {"images": (img.transpose(2, 0, 1)[None] / 255.0).astype(np.float32), "boxes_h": boxes_h,
            "boxes_o": boxes_o, "part_boxes": np.concatenate([centres - 6, centres + 6], 2).astype(np.float32),
            "batch_index": np.zeros(2, np.int64), "pose_maps": np.zeros((2, 64, 64), np.float32)}
    if with_objects:
        feed["objects"] = np.eye(80, dtype=np.float32)[[18, 0]]
    return feed


@pytest.mark.parametrize("with_reasoner", [False, True])
def test_a2v_onnx_equals_torch_on_a_photo(tmp_path: Path, with_reasoner: bool) -> None:
    pred = tiny_a2v(with_reasoner)
    info = export_onnx(pred, tmp_path / "a2v.onnx")
    assert info.family == "activity2vec"
    feed = photo_feed(with_reasoner)
    got = run_session(session(tmp_path / "a2v.onnx"), info, feed)
    ref = run_torch(pred, feed)
    assert got["p_pasta"].shape == (2, 76) and got["f_pasta"].shape[0] == 2
    for name in info.outputs:
        assert np.abs(got[name] - ref[name]).max() < TOLERANCE, name


def test_onnx_pasta_model_gives_the_predictor_outputs(tmp_path: Path) -> None:
    pytest.importorskip("hake.geometry", reason="part-box geometry not available")
    from hake.engine.infer.runner import read_image
    from hake.export.runtime import OnnxPastaModel
    from hake.models.a2v_predictor import save_model
    from hake.structures.contracts import PairBatch

    pred = tiny_a2v(True)
    weights = tmp_path / "a2v.safetensors"
    save_model(weights, pred.a2v, pred.reasoner)
    export_onnx(pred, tmp_path / "a2v.onnx", source=f"file:{weights}")
    img = read_image(EXAMPLES / "footballer_kick.jpg")
    boxes_h = np.array([[200, 20, 330, 330], [200, 20, 330, 330]], np.float32)
    batch = PairBatch(image_size=(img.shape[1], img.shape[0]), boxes_h=boxes_h,
                      boxes_o=np.array([[200, 20, 330, 330], [120, 250, 190, 320]], np.float32),
                      object_labels=np.array([-1, 36]), image=img)
    got, ref = OnnxPastaModel(tmp_path / "a2v.onnx").predict(batch), pred.predict(batch)
    for name in ("pasta", "hoi", "verb"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), atol=TOLERANCE, rtol=0)
    assert got.hoi[0].max() == 0.0 and got.hoi[1].max() > 0  # no-object pair has no HOI


# --- Spatial-PaSta ------------------------------------------------------------------------------


def test_spatial_pasta_check_and_runtime_on_hicodet_pairs(tmp_path: Path, hicodet_test_gt: Path) -> None:
    from hake.export.inputs import hicodet_pair_batches
    from hake.export.runtime import OnnxPastaModel
    from hake.models.spatial import SpatialPasta, save_spatial_pasta

    torch.manual_seed(0)
    model = SpatialPasta().eval()
    weights, onnx_file = tmp_path / "sp.safetensors", tmp_path / "sp.onnx"
    save_spatial_pasta(model, weights)
    runner = CliRunner()
    res = runner.invoke(app, ["export", "onnx", "--weights", str(weights), "--out", str(onnx_file)])
    assert res.exit_code == 0, res.output
    report = check_onnx(onnx_file, annotations=hicodet_test_gt, limit=60)
    assert report.passed and report.runs == 60 and report.rows > 60  # several pairs per image
    assert set(report.max_abs_diff) == {"pasta_logits", "hoi_logits", "verb_logits"}
    # the pipeline's view: the ONNX model is a PastaModel with the same probabilities
    onnx_model = OnnxPastaModel(onnx_file)
    for batch in hicodet_pair_batches(hicodet_test_gt, limit=20):
        got, ref = onnx_model.predict(batch), model.predict(batch)
        for name in ("pasta", "hoi", "verb"):
            np.testing.assert_allclose(getattr(got, name), getattr(ref, name), atol=TOLERANCE, rtol=0)
        assert (got.hoi > 0).sum() > 0


def test_pasta_r_alone_is_not_a_pipeline_model(tmp_path: Path) -> None:
    from hake.export.runtime import OnnxPastaModel

    _, onnx_file = export_file(small_pasta_r("linear"), tmp_path, "lin")
    with pytest.raises(HakeError, match="reads PaSta rather than"):
        OnnxPastaModel(onnx_file)
