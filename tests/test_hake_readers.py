"""HAKE readers on the committed real excerpts, targeted malformed inputs, and the full real tarballs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, shared_file, write_tar_gz
from hake.datasets.hake_json import (
    NO_INTERACTION_STATES,
    load_image_level,
    load_instance_level,
    parse_image_level,
    parse_instance_level,
    pasta76_vector,
)
from hake.errors import DataError
from hake.vocab import load

INSTANCE = FIXTURES / "hake" / "instance_level_excerpt.json"
IMAGE = FIXTURES / "hake" / "image_level_excerpt.json"
FIRST = "HICO_train2015_00000001.jpg"




def test_image_level_excerpt_records() -> None:
    records = load_image_level(IMAGE)
    assert [r.name for r in records][:2] == [FIRST, "HICO_train2015_00000002.jpg"] and len(records) == 6
    first = records[0]
    assert first.hois.dtype == np.int64 and first.hois.tolist() == [152, 153, 154, 155]  # 153..156 in the file
    # foot[0], leg[6], hip[0], hand[0], arm[4] = arm no_interaction, head[12] = head no_interaction
    assert np.flatnonzero(first.pasta76).tolist() == [0, 12 + 6, 22, 27, 58 + 4, 63 + 12]
    assert first.pasta76.dtype == np.uint8 and first.pasta76.shape == (76,)
    assert first.parts.tolist() == [1, 1, 1, 1, 1, 0, 1, 0, 0, 1]
    empty = records[1]
    assert empty.hois.shape == (0,) and empty.hois.dtype == np.int64
    assert set(np.flatnonzero(empty.pasta76)) == set(NO_INTERACTION_STATES)


def test_instance_level_excerpt_records() -> None:
    images = load_instance_level(INSTANCE)
    assert len(images) == 9
    labels = [lab for im in images for lab in im.labels]
    assert len(labels) == 22
    assert sum(lab.missing_action_labels for lab in labels) == 3
    assert sum(not lab.has_pasta for lab in labels) == 3 + 5  # 5 more have an empty list
    im = images[0]
    assert (im.name, im.dataset, im.path_prefix) == (FIRST, "hico-det", "hico_20160224_det/images/train2015")
    lab = im.labels[0]
    assert lab.hoi == 152 and (lab.width, lab.height) == (640, 480)
    assert lab.box_h.dtype == np.float32 and lab.box_h.tolist() == [208, 33, 427, 300]
    assert lab.box_o.tolist() == [59, 98, 572, 405]
    assert lab.part_states == ((6, 0), (9, 0), (4, 0), (0, 0), (3, 0)) and lab.has_pasta
    # hand 0, hip 0, foot 0 annotated; leg, arm and head get their no_interaction state
    assert np.flatnonzero(lab.pasta76()).tolist() == [0, 21, 22, 27, 62, 75]
    assert images[-1].name == "HICO_train2015_00000014.jpg" and images[-1].labels == []


def test_tarball_and_json_give_the_same_records(tmp_path: Path) -> None:
    tgz = write_tar_gz(tmp_path / "x.tar.gz", {"inst/train.json": INSTANCE.read_bytes()})
    a, b = load_instance_level(INSTANCE), load_instance_level(tgz)
    assert [im.name for im in a] == [im.name for im in b]
    for la, lb in zip([x for im in a for x in im.labels], [x for im in b for x in im.labels]):
        assert (la.hoi, la.part_states, la.has_pasta) == (lb.hoi, lb.part_states, lb.has_pasta)
        np.testing.assert_array_equal(la.box_h, lb.box_h)


def test_pasta76_merges_left_and_right_and_clears_no_interaction() -> None:
    vocab = load()
    hand = vocab.pasta_slices()["hand"]
    # R hand "state 5", L hand no_interaction (last of 31): the hand group interacts
    vec = pasta76_vector(((6, 5), (9, 30)))
    assert vec[hand].tolist() == [1 if i == 5 else 0 for i in range(31)]
    assert sum(vec) == 1 + 5  # plus the other five groups' no_interaction
    # only no_interaction annotated for the hand: it stays set
    assert pasta76_vector(((6, 30),))[hand.stop - 1] == 1
    assert set(np.flatnonzero(pasta76_vector(()))) == set(NO_INTERACTION_STATES) and len(NO_INTERACTION_STATES) == 6


def _instance_raw() -> dict:
    return json.loads(INSTANCE.read_text())


@pytest.mark.parametrize(("mutate", "field", "message"), [
    (lambda r: r[FIRST]["labels"][0]["action_labels"][0].update(human_part=11),
     "labels[0].action_labels[0].human_part", "part index 11"),
    (lambda r: r[FIRST]["labels"][0]["action_labels"][0].update(partstate=31),  # hand has states 0..30
     "labels[0].action_labels[0].partstate", "outside 0..30"),
    (lambda r: r[FIRST]["labels"][1]["action_labels"][1].update(partstate=10),  # leg has states 0..9
     "labels[1].action_labels[1].partstate", "outside 0..9"),
    (lambda r: r[FIRST]["labels"][2].update(human_bbox=[300, 33, 200, 300]), "labels[2].human_bbox", "x2 < x1"),
    (lambda r: r[FIRST]["labels"][0].pop("hoi_id"), "labels[0].hoi_id", "missing key"),
    (lambda r: r[FIRST]["labels"][0].update(hoi_id=601), "labels[0].hoi_id", "outside 1..600"),
    (lambda r: r[FIRST]["labels"][0].update(hoi_id=0), "labels[0].hoi_id", "outside 1..600"),
    (lambda r: r[FIRST]["labels"][0].update(object_bbox=[1, 2, 3]), "labels[0].object_bbox", "x1, y1, x2, y2"),
    (lambda r: r[FIRST]["labels"][0].update(width="640"), "labels[0].width", "integer"),
    (lambda r: r[FIRST].pop("path_prefix"), "path_prefix", "missing key"),
    (lambda r: r[FIRST].update(labels={}), "labels", "list"),
])
def test_instance_level_errors_name_file_record_field(tmp_path: Path, mutate, field: str, message: str) -> None:
    raw = _instance_raw()
    mutate(raw)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError, match=message) as err:
        load_instance_level(path)
    assert (err.value.file, err.value.record, err.value.field) == (str(path), FIRST, field)


def test_valid_edge_values_are_accepted() -> None:
    raw = _instance_raw()
    raw[FIRST]["labels"][0]["action_labels"][0]["partstate"] = 30  # the hand's no_interaction
    raw[FIRST]["labels"][0]["hoi_id"] = 600
    raw[FIRST]["labels"][0]["human_bbox"] = [5, 5, 5, 5.5]  # zero width is allowed
    lab = parse_instance_level(raw)[0].labels[0]
    assert lab.hoi == 599 and lab.part_states[0] == (6, 30)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("hand_list", [0] * 30, "31 zeros/ones"), ("parts_list", [2] + [0] * 9, "0 or 1"),
    ("parts_list", [True] + [0] * 9, "0 or 1"), ("hoi_id", [1, 601], "outside"), ("hoi_id", 5, "list"),
])
def test_image_level_errors_name_record_and_field(key: str, value, message: str) -> None:
    raw = json.loads(IMAGE.read_text())
    raw[FIRST][key] = value
    with pytest.raises(DataError, match=message) as err:
        parse_image_level(raw, "img.json")
    assert (err.value.file, err.value.record, err.value.field) == ("img.json", FIRST, key)
    del raw[FIRST][key]
    with pytest.raises(DataError, match="missing key"):
        parse_image_level(raw, "img.json")


def test_non_utf8_truncated_and_wrong_top_level(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.json"
    bad.write_bytes(INSTANCE.read_bytes().replace(b"hico-det", b"hico-d\xe9t", 1))
    with pytest.raises(DataError, match="not UTF-8") as err:
        load_instance_level(bad)
    assert err.value.file == str(bad)
    tgz = write_tar_gz(tmp_path / "x.tar.gz", {"a.json": IMAGE.read_bytes()})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tgz.read_bytes()[: len(tgz.read_bytes()) // 2])
    with pytest.raises(DataError, match="truncated"):
        load_image_level(cut)
    with pytest.raises(DataError, match="keyed by image name"):
        parse_instance_level([1, 2], "list.json")
    with pytest.raises(DataError, match="expected an object") as err:
        parse_instance_level({"a.jpg": 3}, "x.json")
    assert err.value.record == "a.jpg"


# ---- the full real annotations (each tarball is parsed once per module) ----

@pytest.fixture(scope="module")
def real_image_level():
    return load_image_level(shared_file("hake", "annotations", "hico-image-level.tar.gz"))


@pytest.fixture(scope="module")
def real_instance_level():
    return load_instance_level(shared_file("hake", "annotations", "hico-det-instance-level.tar.gz"))


def test_real_image_level_counts(real_image_level) -> None:
    records = real_image_level
    assert len(records) == 38118
    assert sum(len(r.hois) == 0 for r in records) == 4517
    hois = np.concatenate([r.hois for r in records])
    assert hois.min() >= 0 and hois.max() <= 599
    # every group list marks at least one state in every image
    pasta = np.stack([r.pasta76 for r in records])
    for s in load().pasta_slices().values():
        assert (pasta[:, s].sum(1) >= 1).all()


def test_real_instance_level_counts(real_instance_level) -> None:
    images = real_instance_level
    labels = [lab for im in images for lab in im.labels]
    assert len(images) == 38118 and sum(not im.labels for im in images) == 485
    assert len(labels) == 117654
    assert sum(not lab.has_pasta for lab in labels) == 15506
    assert sum(lab.missing_action_labels for lab in labels) == 15204
    for lab in labels[:2000]:
        assert (lab.box_h[2:] >= lab.box_h[:2]).all() and 0 <= lab.hoi < 600


def test_real_instance_hois_are_labelled_at_image_level(real_image_level, real_instance_level) -> None:
    # HAKE-HICO and HAKE-HICO-DET describe the same HICO train images: an image's instance-level HOIs
    # are among its image-level HOIs for most images (89.3% measured), which holds only when both
    # readers convert the 1-based ids the same way (shifting one side by one breaks it).
    by_name = {r.name: set(r.hois.tolist()) for r in real_image_level}
    shared = [im for im in real_instance_level if im.labels and im.name in by_name]

    def agreement(shift: int) -> float:
        return sum({lab.hoi + shift for lab in im.labels} <= by_name[im.name] for im in shared) / len(shared)

    assert len(shared) == 37633
    assert agreement(0) > 0.85 and agreement(1) < 0.3
