"""Torch datasets of Activity2Vec: pair merging, negatives, pose maps, augmentation, image level."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hake.datasets.builders.synth import generate
from hake.datasets.keypoint_cache import KeypointCache
from hake.datasets.torch import Augment, ImageLevelDataset, InstanceDataset, add_negatives, collate, pair_targets
from hake.engine.train.lightning_module import image_max
from hake.errors import DataError
from hake.vocab import load

EXCERPTS = Path(__file__).resolve().parent / "fixtures" / "a2v"


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, 10, size=96, seed=11)
    return out


def test_pose_map_input_matches_hand_drawn_skeleton() -> None:
    from hake.geometry import pose_map

    # person box 0..63 maps 1:1 onto the 64x64 canvas; only the left shoulder (5) and hip (11) are
    # confident, so exactly the limb 5-11 is drawn: column 10, rows 10..50
    kps = np.zeros((1, 17, 3), np.float32)
    kps[0, 5] = [10, 10, 1]
    kps[0, 11] = [10, 50, 1]
    got = pose_map(kps, np.array([[0, 0, 63, 63]], np.float32), size=64)
    expected = np.zeros((64, 64), np.float32)
    expected[10:51, 10] = 1
    np.testing.assert_array_equal(got[0], expected)


def test_real_labels_of_one_pair_merge() -> None:
    from hake.datasets.hake_json import load_instance_level

    images = load_instance_level(EXCERPTS / "hico_det_instance_excerpt.json")
    image = next(im for im in images if im.name == "HICO_train2015_00000001.jpg")
    t = pair_targets(image.labels, 76, 117)
    # four labels (HOIs 153-156, 1-based) of one person and one object, boxes within IoU 0.7
    assert t["boxes_h"].shape == (1, 4)
    assert np.flatnonzero(t["hoi"][0]).tolist() == [152, 153, 154, 155]
    vocab = load()
    assert np.flatnonzero(t["verb"][0]).tolist() == sorted(set(vocab.hoi_verb[[152, 153, 154, 155]]))
    assert t["has_pasta"][0] and t["pasta"][0, vocab.pasta_slices()["hip"].start] == 1  # hip: sit on


def test_negatives_pair_humans_with_other_objects() -> None:
    vocab = load()
    t = {"boxes_h": np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32),
         "boxes_o": np.array([[10, 0, 20, 10], [60, 50, 70, 60]], np.float32),
         "pasta": np.zeros((2, 76), np.float32), "has_pasta": np.array([True, True]),
         "verb": np.zeros((2, 117), np.float32), "hoi": np.zeros((2, 600), np.float32),
         "object": np.array([26, 62])}  # cup, sports ball
    out = add_negatives(t, np.random.default_rng(0), max_neg=5)
    assert len(out["boxes_h"]) == 4
    neg = {(tuple(out["boxes_h"][i]), tuple(out["boxes_o"][i])): i for i in (2, 3)}
    i = neg[(tuple(t["boxes_h"][0]), tuple(t["boxes_o"][1]))]
    assert out["object"][i] == 62
    assert vocab.hoi_name(int(np.flatnonzero(out["hoi"][i])[0])) == "no interaction sports ball"
    assert np.flatnonzero(out["verb"][i]).tolist() == [57]
    assert np.flatnonzero(out["pasta"][i]).tolist() == [s.stop - 1 for s in vocab.pasta_slices().values()]


def test_items_batch_and_flip_mirrors_boxes_and_pose(synth: Path) -> None:
    kp = KeypointCache(synth / "keypoints.json")
    plain = InstanceDataset(synth / "train.json", synth, keypoints=kp)
    flip = InstanceDataset(synth / "train.json", synth, keypoints=kp, augment=Augment(1.0, 0.0, 0.0))
    a, b = plain[0], flip[0]
    w = a["image"].shape[2]
    torch.testing.assert_close(b["image"], a["image"].flip(-1))
    bh = a["boxes_h"]
    torch.testing.assert_close(b["boxes_h"], torch.stack([w - bh[:, 2], bh[:, 1], w - bh[:, 0], bh[:, 3]], 1))
    agree = (b["pose_maps"] == a["pose_maps"].flip(-1)).float().mean()
    assert agree > 0.995 and a["pose_maps"].sum() > 0
    batch = collate([plain[i] for i in range(4)])
    n = sum(len(plain[i]["boxes_h"]) for i in range(4))
    assert batch["images"].shape == (4, 3, 96, 96) and batch["part_boxes"].shape == (n, 10, 4)
    assert batch["batch_index"].tolist() == sorted(batch["batch_index"].tolist()) and not batch["image_level"]


def test_missing_image_names_file_and_record(synth: Path, tmp_path: Path) -> None:
    ds = InstanceDataset(synth / "train.json", tmp_path)
    with pytest.raises(DataError, match="image missing") as err:
        ds[0]
    assert err.value.record == ds.images[0].name


def test_image_max_pools_persons_per_image() -> None:
    values = torch.tensor([[1.0, -2.0], [3.0, -1.0], [0.5, 4.0]])
    got = image_max(values, torch.tensor([0, 0, 2]), 3)
    assert got[0].tolist() == [3.0, -1.0] and got[2].tolist() == [0.5, 4.0]
    assert torch.isinf(got[1]).all()


def test_image_level_dataset_on_synthetic_hico_file(synth: Path, tmp_path: Path) -> None:
    from hake.engine.train.a2v import train
    from hake.engine.train.a2v_config import synthetic_defaults

    vocab = load()
    raw = json.loads((synth / "train.json").read_text())
    groups = list(vocab.pasta_slices().items())
    image_level = {}
    for name, entry in raw.items():  # the HAKE-HICO image-level format of the same images
        hois = sorted({lab["hoi_id"] for lab in entry["labels"]})
        from hake.datasets.hake_json import pasta76_vector

        vec = np.zeros(76, int)
        for lab in entry["labels"]:
            vec |= pasta76_vector(tuple((a["human_part"], a["partstate"]) for a in lab["action_labels"]))
        rec = {f"{g}_list": vec[s].tolist() for g, s in groups}
        rec.update(hoi_id=hois, parts_list=[1] * 10)
        image_level[name] = rec
    (synth / "image_level.json").write_text(json.dumps(image_level))
    ds = ImageLevelDataset(synth / "image_level.json", synth / "images", KeypointCache(synth / "keypoints.json"))
    item = ds[0]
    assert item["image_level"] and item["pasta"].shape == (1, 76)
    assert len(item["boxes_h"]) == len(raw[item["name"]]["labels"])  # one instance per cached person
    cfg = synthetic_defaults(synth, tmp_path / "RUN")
    cfg.data.level, cfg.data.image_dir, cfg.data.train, cfg.data.val = "image", "images", "image_level.json", \
        "image_level.json"
    cfg.train.epochs, cfg.model.hidden = 1, 32
    metrics = train(cfg)
    assert np.isfinite(metrics["loss_history"]).all() and 0 <= metrics["pasta_mAP"] <= 1


def test_real_image_level_annotation_needs_the_images(tmp_path: Path) -> None:
    ds = ImageLevelDataset(EXCERPTS / "hico_image_level_excerpt.json", tmp_path)
    assert len(ds) == 3
    with pytest.raises(DataError, match="image missing") as err:
        ds[0]
    assert err.value.record == ds.records[0].name
