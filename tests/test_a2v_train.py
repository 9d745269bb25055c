"""Training Activity2Vec end to end on the synthetic set: learning, transfer, resume, caching, serving."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from conftest import REPO, shared_file
from hake.cli import app
from hake.datasets.builders.synth import generate
from hake.engine.train.a2v import train
from hake.engine.train.a2v_config import A2VConfig, config_from_dict, load_config, synthetic_defaults
from hake.errors import DataError


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """`hake data synth --n 400` + `hake train a2v --data S --out RUN` with its synthetic defaults."""
    root = tmp_path_factory.mktemp("a2v")
    runner = CliRunner()
    res = runner.invoke(app, ["data", "synth", "--out", str(root / "S"), "--n", "400"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", "a2v", "--data", str(root / "S"), "--out", str(root / "RUN")])
    assert res.exit_code == 0, res.output
    return root


def _tiny_cfg(root: Path, out: Path, epochs: int) -> A2VConfig:
    cfg = synthetic_defaults(root, out)
    cfg.model.hidden, cfg.model.neck = 32, 16
    cfg.train.epochs, cfg.train.batch_size = epochs, 4
    return cfg


@pytest.mark.slow
def test_synthetic_run_learns_pasta_and_verbs(trained: Path) -> None:
    metrics = json.loads((trained / "RUN" / "metrics.json").read_text())
    assert metrics["val_images"] == 80 and metrics["pasta_classes"] >= 10 and metrics["verb_classes"] >= 8
    assert metrics["pasta_mAP"] >= 0.9
    assert metrics["verb_mAP"] >= 0.9
    assert (trained / "RUN" / "checkpoints" / "last.ckpt").is_file()
    assert "val/pasta_mAP" in (trained / "RUN" / "logs" / "version_0" / "metrics.csv").read_text()


@pytest.fixture(scope="module")
def stage2(trained: Path) -> dict:
    """Feature caches of both splits from the stage-1 model, and PaSta-R (verb117) trained from them."""
    from hake.datasets.keypoint_cache import KeypointCache
    from hake.datasets.torch import InstanceDataset
    from hake.engine.train.features import extract_features
    from hake.models.a2v_predictor import A2VPredictor

    s = trained / "S"
    a2v = A2VPredictor.load(trained / "RUN" / "model.safetensors").a2v
    kp = KeypointCache(s / "keypoints.json")
    extract_features(a2v, InstanceDataset(s / "train.json", s, keypoints=kp), trained / "CACHE_train", shard_rows=50)
    res = CliRunner().invoke(app, ["features", "extract", "--weights", str(trained / "RUN" / "model.safetensors"),
                                   "--data", str(s), "--out", str(trained / "CACHE_test"), "--split", "test.json",
                                   "--shard-rows", "50"])
    assert res.exit_code == 0, res.output
    cfg = synthetic_defaults(s, trained / "STAGE2")
    cfg.train.mode, cfg.train.epochs, cfg.train.init = "stage2", 6, str(trained / "RUN" / "model.safetensors")
    cfg.data.features, cfg.data.val_features = str(trained / "CACHE_train"), str(trained / "CACHE_test")
    return {"a2v": a2v, "metrics": train(cfg), "model": trained / "STAGE2" / "model.safetensors"}


@pytest.mark.slow
def test_feature_cache_matches_pixels_and_trains_stage2(trained: Path, stage2: dict) -> None:
    from hake.datasets.keypoint_cache import KeypointCache
    from hake.datasets.torch import InstanceDataset, collate
    from hake.engine.train.features import CachedFeatures

    s = trained / "S"
    cache = CachedFeatures(trained / "CACHE_test")
    assert len(cache.index["shards"]) >= 2
    ds = InstanceDataset(s / "test.json", s, keypoints=KeypointCache(s / "keypoints.json"))
    batch = collate([ds[i] for i in range(3)])
    with torch.no_grad():
        direct = stage2["a2v"](batch["images"], batch["boxes_h"], batch["boxes_o"], batch["part_boxes"],
                               batch["batch_index"], batch["pose_maps"])
    n = len(batch["boxes_h"])
    torch.testing.assert_close(cache.data["f_pasta"][:n], direct.f_pasta, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(cache.data["verb"][:n], batch["verb"])
    metrics = stage2["metrics"]
    assert metrics["train_images"] == len(CachedFeatures(trained / "CACHE_train"))
    assert metrics["verb_mAP"] >= 0.9


@pytest.mark.slow
def test_transfer_to_hoi_space_keeps_a2v_bit_identical(trained: Path, stage2: dict) -> None:
    cfg = synthetic_defaults(trained / "S", trained / "TRANSFER")
    cfg.train.mode, cfg.train.target, cfg.train.epochs = "transfer", "hoi600", 3
    cfg.train.init = str(stage2["model"])
    metrics = train(cfg)
    print("transfer metrics", metrics)
    before = load_file(cfg.train.init)
    after = load_file(str(trained / "TRANSFER" / "model.safetensors"))
    a2v_keys = [k for k in before if k.startswith("a2v.")]
    assert len(a2v_keys) > 20 and all(torch.equal(before[k], after[k]) for k in a2v_keys)
    assert after["reasoner.net.head.weight"].shape[0] == 600 != before["reasoner.net.head.weight"].shape[0]
    assert metrics["target_mAP"] >= 0.9 and metrics["target_classes"] >= 8


@pytest.mark.slow
def test_pair_streams_train_from_cache_and_fusion_is_saved(trained: Path, stage2: dict) -> None:
    from hake.engine.train.features import CachedFeatures
    from hake.engine.train.streams import load_streams, save_streams, stream_logits, train_streams

    train_c, val_c = CachedFeatures(trained / "CACHE_train"), CachedFeatures(trained / "CACHE_test")
    res = train_streams(train_c, val_c, target="hoi", epochs=8)
    m = res.metrics
    assert set(res.fusion.streams) == {"human", "object", "spatial", "pairwise", "a2v"}
    assert m["fused_mAP"] >= 0.9
    assert m["fused_mAP"] >= max(m[f"{s}_mAP"] for s in res.fusion.streams) - 0.02
    save_streams(trained / "streams.safetensors", res)
    model, fusion = load_streams(trained / "streams.safetensors")
    a = res.fusion(stream_logits(res.streams, val_c.data, "hoi"))
    b = fusion(stream_logits(model, val_c.data, "hoi"))
    torch.testing.assert_close(a, b)


@pytest.mark.slow
def test_trained_weights_serve_the_pipeline_interface(trained: Path) -> None:
    import cv2

    from hake.datasets.hake_json import load_instance_level
    from hake.datasets.keypoint_cache import KeypointCache
    from hake.models.a2v_predictor import A2VPredictor
    from hake.structures.contracts import PairBatch, PastaModel
    from hake.vocab import load

    vocab = load()
    model = A2VPredictor.load(trained / "RUN" / "model.safetensors")
    assert isinstance(model, PastaModel)
    s = trained / "S"
    kp = KeypointCache(s / "keypoints.json")
    hits = total = 0
    for im in load_instance_level(s / "test.json")[:30]:
        img = cv2.cvtColor(cv2.imread(str(s / im.path_prefix / im.name)), cv2.COLOR_BGR2RGB)
        bh = np.asarray([lab.box_h for lab in im.labels], np.float32)
        labels = np.asarray([vocab.hoi_object[lab.hoi] for lab in im.labels])
        batch = PairBatch(image_size=(img.shape[1], img.shape[0]), boxes_h=bh,
                          boxes_o=np.asarray([lab.box_o for lab in im.labels], np.float32), object_labels=labels,
                          keypoints=np.stack([kp.lookup(im.name, b) for b in bh]), image=img)
        out = model.predict(batch)
        assert out.pasta.shape == (len(bh), 76) and out.verb.shape == (len(bh), 117)
        assert out.hoi.shape == (len(bh), 600)
        assert (out.hoi[vocab.hoi_object[None, :] != labels[:, None]] == 0).all()
        for k, lab in enumerate(im.labels):
            total += 1
            hits += int(out.verb[k].argmax() == vocab.hoi_verb[lab.hoi])
    assert hits >= 0.9 * total


@pytest.mark.slow
def test_pipeline_runs_with_trained_weights(trained: Path) -> None:
    import cv2

    from hake.engine.infer.pipeline import build_pipeline
    from hake.models.a2v_predictor import A2VPredictor

    photo = shared_file("images", "person.jpg")
    pipe = build_pipeline(weights=trained / "RUN" / "model.safetensors")
    assert isinstance(pipe.pasta_model, A2VPredictor)
    result = pipe(cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB), source="person.jpg")
    assert result.persons and all(set(p.pasta) == {"foot", "leg", "hip", "hand", "arm", "head"}
                                  for p in result.persons)


def test_resume_continues_the_same_loss_curve(tmp_path: Path) -> None:
    generate(tmp_path / "S", 16, size=64, seed=5)
    whole = train(_tiny_cfg(tmp_path / "S", tmp_path / "A", epochs=2))["loss_history"]
    # the same run interrupted after its first epoch (4 steps), then resumed from last.ckpt
    first = train(_tiny_cfg(tmp_path / "S", tmp_path / "B", epochs=2), max_steps=4)["loss_history"]
    cfg = _tiny_cfg(tmp_path / "S", tmp_path / "B", epochs=2)
    cfg.train.resume = "last"
    second = train(cfg)["loss_history"]
    assert len(first) == len(second) == len(whole) // 2 == 4
    np.testing.assert_allclose(first + second, whole, rtol=1e-5, atol=1e-6)
    assert whole[0] != whole[-1]


def test_configs_parse_and_synthetic_yaml_equals_defaults() -> None:
    synth = load_config(REPO / "configs" / "a2v_synth.yaml")
    defaults = synthetic_defaults(synth.data.root, synth.out)
    assert synth == defaults
    hico = load_config(REPO / "configs" / "a2v_hico.yaml")
    assert hico.model.backbone == "efficientnet_lite0" and hico.train.precision == "bf16-mixed"


def test_config_errors_name_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("train:\n  epoch: 3\n")
    with pytest.raises(DataError, match="c.yaml") as err:
        load_config(bad)
    assert err.value.field == "train.epoch"
    with pytest.raises(DataError, match="expected int") as err:
        config_from_dict({"train": {"epochs": "many"}})
    assert err.value.field == "train.epochs"
    assert config_from_dict({"train": {"lr": 1}}).train.lr == 1.0


def test_cli_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["train", "a2v", "--data", str(tmp_path / "missing"), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "data folder not found" in res.output


def test_gt_hake_mode_reasons_verbs_from_true_part_states(tmp_path: Path) -> None:
    generate(tmp_path / "S", 60, size=64, seed=7)
    cfg = _tiny_cfg(tmp_path / "S", tmp_path / "GT", epochs=6)
    cfg.train.mode, cfg.train.batch_size, cfg.train.lr = "gt_hake", 8, 0.01
    metrics = train(cfg)
    # on the synthetic set every verb except no_interaction is a function of the part states
    assert metrics["verb_mAP"] >= 0.9 and metrics["verb_classes"] >= 5
    written = json.loads((tmp_path / "GT" / "metrics.json").read_text())
    assert written["mode"] == "gt_hake"
    assert "smoke test" in written["smoke_test"]  # a synthetic run never passes for a benchmark


def test_bf16_precision_option_trains(tmp_path: Path) -> None:
    generate(tmp_path / "S", 8, size=64, seed=2)
    cfg = _tiny_cfg(tmp_path / "S", tmp_path / "BF16", epochs=1)
    cfg.train.precision = "bf16-mixed"
    metrics = train(cfg)
    assert np.isfinite(metrics["loss_history"]).all() and len(metrics["loss_history"]) == 2
    assert 0.0 <= metrics["pasta_mAP"] <= 1.0
