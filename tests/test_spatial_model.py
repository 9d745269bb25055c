"""Spatial-PaSta: the PastaModel contract, weight files and the zoo, and learning a known layout rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hake import hub, zoo
from hake.datasets.builders.spatial_pairs import PairArrays
from hake.engine.train.spatial import FitOptions, fit_spatial
from hake.errors import DataError, HakeError
from hake.models.spatial import SpatialConfig, SpatialPasta, load_spatial_pasta, save_spatial_pasta
from hake.structures.contracts import PairBatch, PastaModel
from hake.vocab import load

V = load()
HORSE = V.objects.index("horse")
RIDE, WALK = 139, 143
HIP_SIT_ON = 22
SMALL = SpatialConfig(obj_dim=8, hidden=64, group_dim=8, reasoner_hidden=64, dropout=0.0)


def _batch(objects: list[int]) -> PairBatch:
    n = len(objects)
    boxes_h = np.tile(np.array([[100, 50, 200, 300]], np.float32), (n, 1))
    boxes_o = np.tile(np.array([[60, 200, 300, 400]], np.float32), (n, 1))
    return PairBatch((640, 480), boxes_h, boxes_o, np.array(objects, np.int64))


def test_predict_shapes_and_zeroing() -> None:
    torch.manual_seed(0)
    model = SpatialPasta(SMALL).eval()
    assert isinstance(model, PastaModel)
    out = model.predict(_batch([HORSE, 0, -1]))
    assert out.pasta.shape == (3, 76) and out.hoi.shape == (3, 600) and out.verb.shape == (3, 117)
    assert out.pasta.dtype == np.float32 and ((out.pasta > 0) & (out.pasta < 1)).all()
    assert np.array_equal(np.flatnonzero(out.hoi[0]), V.hois_of_object(HORSE))
    assert np.array_equal(np.flatnonzero(out.hoi[1]), V.hois_of_object(0))
    assert out.hoi[2].sum() == 0 and out.verb[2].min() > 0  # no object: PaSta and verbs only
    empty = model.predict(PairBatch((10, 10), np.zeros((0, 4)), np.zeros((0, 4)), np.zeros(0, np.int64)))
    assert empty.hoi.shape == (0, 600)
    with pytest.raises(DataError, match="object_labels"):
        model.predict(_batch([80]))
    bad = _batch([HORSE, 0])
    bad.boxes_o[1, 2] = np.nan
    with pytest.raises(DataError, match="boxes_o"):
        model.predict(bad)
    bad = _batch([HORSE, 0])
    bad.object_labels = np.array([HORSE])
    with pytest.raises(DataError, match="object_labels"):
        model.predict(bad)


def test_no_object_ignores_the_object_box() -> None:
    model = SpatialPasta(SMALL).eval()
    a, b = _batch([-1]), _batch([-1])
    b.boxes_o[:] = [0, 0, 5, 5]
    assert np.array_equal(model.predict(a).pasta, model.predict(b).pasta)


def test_weights_round_trip_and_zoo_sha256(tmp_path, monkeypatch) -> None:
    torch.manual_seed(1)
    model = SpatialPasta(SMALL).eval()
    model.hoi_counts.fill_(3.0)
    path = tmp_path / "spatial_test.safetensors"
    save_spatial_pasta(model, path)
    again = load_spatial_pasta(path)
    assert again.config == SMALL and float(again.hoi_counts.sum()) == 1800.0
    batch = _batch([HORSE, -1])
    assert np.allclose(model.predict(batch).hoi, again.predict(batch).hoi)
    entry = {"file": path.name, "sha256": hub.sha256_of(path), "licence": "Apache-2.0", "source": "test",
             "reproduce": "test"}
    monkeypatch.setenv("HAKE_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr(hub, "manifest", lambda: {"spatial_pasta.test": entry})
    loaded = zoo.create_model("spatial_pasta.test")
    assert isinstance(loaded, SpatialPasta) and not loaded.training
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[:-8] + b"corrupt!")
    monkeypatch.setattr(hub, "manifest", lambda: {"spatial_pasta.bad": {**entry, "file": bad.name}})
    with pytest.raises(HakeError, match="sha256 mismatch"):
        zoo.create_model("spatial_pasta.bad")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="safetensors"):
        load_spatial_pasta(truncated)


def _horse_layouts(rng: np.random.Generator, n: int) -> tuple[PairArrays, np.ndarray]:
    """Rule: a horse under the person (overlapping the lower half) = ride + hip sits on; a horse
    beside the person (no overlap) = walk. Sizes and positions vary."""
    w = rng.uniform(40, 120, n)
    h = w * rng.uniform(1.8, 3.0, n)
    x1, y1 = rng.uniform(50, 300, n), rng.uniform(20, 120, n)
    bh = np.stack([x1, y1, x1 + w, y1 + h], 1)
    ride = rng.random(n) < 0.5
    ow, oh = w * rng.uniform(2.0, 3.0, n), h * rng.uniform(0.6, 0.9, n)
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    ox1 = np.where(ride, x1 + w / 2 - ow / 2 + rng.uniform(-10, 10, n),
                   np.where(side > 0, x1 + w + rng.uniform(5, 40, n), x1 - ow - rng.uniform(5, 40, n)))
    oy1 = np.where(ride, y1 + h * rng.uniform(0.4, 0.6, n), y1 + h - oh + rng.uniform(-10, 10, n))
    bo = np.stack([ox1, oy1, ox1 + ow, oy1 + oh], 1)
    hoi = np.zeros((n, 600), np.float32)
    hoi[np.arange(n), np.where(ride, RIDE, WALK)] = 1
    verb = hoi @ V.hoi_to_verb_matrix
    pasta = np.zeros((n, 76), np.float32)
    pasta[ride, HIP_SIT_ON] = 1
    pasta[~ride, V.pasta_slices()["hip"].stop - 1] = 1
    sizes = np.tile(np.array([[800, 600]], np.float32), (n, 1))
    rows = PairArrays(bh.astype(np.float32), bo.astype(np.float32), sizes, np.full(n, HORSE), pasta,
                      np.ones(n, bool), verb, hoi, np.zeros(n, np.int8), np.zeros((n, 160), np.float32))
    return rows, ride


def test_training_learns_a_layout_rule() -> None:
    torch.set_num_threads(1)
    train, _ = _horse_layouts(np.random.default_rng(0), 600)
    model = fit_spatial(train, FitOptions(epochs=8, batch_size=64, lr=3e-3, seed=0), SMALL)
    test, ride = _horse_layouts(np.random.default_rng(1), 200)
    out = model.predict(PairBatch((800, 600), test.boxes_h, test.boxes_o, test.object))
    predicted_ride = out.hoi[:, RIDE] > out.hoi[:, WALK]
    assert (predicted_ride == ride).mean() >= 0.95
    assert out.pasta[ride, HIP_SIT_ON].mean() > 0.8 and out.pasta[~ride, HIP_SIT_ON].mean() < 0.2
    assert float(model.hoi_counts[RIDE]) == train.hoi[:, RIDE].sum()  # the object prior's counts travel along


def test_image_context_is_learned_and_optional() -> None:
    """A state that only the person's other pair reveals (sitting on a chair) is learned from the context;
    without context the same model still predicts (context counts as all zeros)."""
    torch.set_num_threads(1)
    train, _ = _horse_layouts(np.random.default_rng(0), 600)
    chair = V.objects.index("chair")
    sits = np.random.default_rng(2).random(len(train)) < 0.5
    train.context[sits, chair] = 1
    train.pasta[:, HIP_SIT_ON] = sits
    cfg = SpatialConfig(**{**SMALL.__dict__, "context_dim": 160})
    model = fit_spatial(train, FitOptions(epochs=30, batch_size=64, lr=3e-3, seed=0, context_dropout=0.0), cfg)
    layout, maps, obj = model.inputs(train.boxes_h, train.boxes_o, train.sizes, train.object)
    with torch.no_grad():
        p = torch.sigmoid(model(layout, maps, obj, torch.from_numpy(train.context))["pasta"][:, HIP_SIT_ON]).numpy()
        without = model(layout, maps, obj)["pasta"]
    assert p[sits].mean() > p[~sits].mean() + 0.2
    assert without.shape == (len(train), 76) and torch.isfinite(without).all()


def test_map_size_must_pool_to_32() -> None:
    with pytest.raises(HakeError, match="multiple of 32"):
        SpatialPasta(SpatialConfig(map_size=48))
    model = SpatialPasta(SpatialConfig(map_size=128, obj_dim=8, hidden=32, group_dim=4, reasoner_hidden=32))
    layout, maps, obj = model.inputs(np.array([[0, 0, 10, 20]]), np.array([[5, 5, 30, 30]]), (100, 100), np.array([3]))
    assert maps.shape == (1, 2, 128, 128) and model(layout, maps, obj)["hoi"].shape == (1, 600)


def test_object_bias_shifts_only_its_object_and_round_trips(tmp_path) -> None:
    """The per-object PaSta offset table starts at zero, moves the logits of its own object's pairs only,
    and travels in the weight file; files written without the option load with it off."""
    torch.manual_seed(0)
    plain = SpatialPasta(SMALL).eval()
    model = SpatialPasta(SpatialConfig(**{**SMALL.__dict__, "object_bias": True})).eval()
    model.load_state_dict({**plain.state_dict(), "pasta_bias.weight": model.pasta_bias.weight}, strict=True)
    batch = _batch([HORSE, 0, -1])
    assert np.allclose(model.predict(batch).pasta, plain.predict(batch).pasta)  # zero table = no offset
    with torch.no_grad():
        model.pasta_bias.weight[HORSE, HIP_SIT_ON] = 6.0
    before, after = plain.predict(batch).pasta, model.predict(batch).pasta
    assert after[0, HIP_SIT_ON] > before[0, HIP_SIT_ON] + 0.3
    assert np.allclose(np.delete(after[0], HIP_SIT_ON), np.delete(before[0], HIP_SIT_ON), atol=1e-6)
    assert np.allclose(after[1:], before[1:], atol=1e-6)
    path = tmp_path / "bias.safetensors"
    save_spatial_pasta(model, path)
    again = load_spatial_pasta(path)
    assert again.config.object_bias and np.allclose(again.predict(batch).pasta, after)
    save_spatial_pasta(plain, tmp_path / "plain.safetensors")
    assert load_spatial_pasta(tmp_path / "plain.safetensors").pasta_bias is None
