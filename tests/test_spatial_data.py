"""Spatial-PaSta training rows and HICO-DET GT candidate pairs (synthetic cases and the real test GT)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from hake.datasets.builders.spatial_pairs import gt_pairs, hoi_counts, object_prior, training_pairs
from hake.datasets.hicodet import load_test_gt, parse_test_gt
from hake.engine.bench.spatial import candidate_rows, subset_gt
from hake.errors import DataError
from hake.evaluation.hicodet import evaluate_hicodet
from hake.geometry.boxes import iou_plus_one
from hake.vocab import load
from hake.vocab.core import NO_INTERACTION_VERB

V = load()
HORSE = V.objects.index("horse")
RIDE, HOLD, FEED, HUG, NO_HORSE = 139, 131, 129, 132, 145
HIP_SIT_ON, HIP_NONE = 22, 26
HAND = V.pasta_slices()["hand"]


@dataclass
class Label:
    """The fields of ``hake_json.InstanceLabel`` that Spatial-PaSta reads."""

    hoi: int
    box_h: list
    box_o: list
    states: tuple[int, ...] = ()
    width: int = 640
    height: int = 480

    @property
    def has_pasta(self) -> bool:
        return bool(self.states)

    def pasta76(self) -> np.ndarray:
        out = np.zeros(76, np.uint8)
        for s in V.pasta_slices().values():
            out[s.stop - 1] = 1
        for i in self.states:
            out[i] = 1
            out[[s.stop - 1 for s in V.pasta_slices().values() if s.start <= i < s.stop]] = 0
        return out


@dataclass
class Image:
    name: str
    labels: list


def _image() -> Image:
    a, b = [10, 10, 110, 210], [0, 100, 200, 300]
    c, d = [300, 10, 400, 210], [420, 50, 600, 250]
    return Image("img1", [
        Label(RIDE, a, b, (HIP_SIT_ON,)),
        Label(HOLD, [11, 10, 110, 212], [0, 101, 199, 300], (HAND.start,)),  # same pair, IoU > 0.7
        Label(FEED, c, d),
    ])


def test_labels_of_one_pair_merge_into_one_multi_label_row() -> None:
    rows = training_pairs([_image()], negatives=0, person_only=False)
    assert len(rows) == 2 and list(rows.kind) == [0, 0]
    assert set(np.flatnonzero(rows.hoi[0])) == {RIDE, HOLD} and set(np.flatnonzero(rows.hoi[1])) == {FEED}
    assert set(np.flatnonzero(rows.verb[0])) == set(V.hoi_verb[[RIDE, HOLD]])
    assert rows.pasta[0, HIP_SIT_ON] == 1 and rows.pasta[0, HAND.start] == 1
    # OR of the two labels: the groups with an active state lose their no_interaction
    assert rows.pasta[0, HIP_NONE] == 0 and rows.pasta[0, HAND.stop - 1] == 0
    assert rows.pasta[0, V.pasta_slices()["head"].stop - 1] == 1
    assert list(rows.has_pasta) == [True, False]
    assert list(rows.object) == [HORSE, HORSE]
    assert np.array_equal(rows.sizes, [[640, 480], [640, 480]])
    assert np.array_equal(rows.boxes_h[0], [10, 10, 110, 210])


def test_negatives_and_person_only_rows() -> None:
    rows = training_pairs([_image()], negatives=5, person_only=True, seed=3)
    assert list(np.bincount(rows.kind)) == [2, 2, 2]  # only two (person, other object) pairs exist
    neg = rows.subset(rows.kind == 1)
    assert set(np.flatnonzero(neg.hoi.sum(0))) == {NO_HORSE}
    assert np.all(neg.verb[:, NO_INTERACTION_VERB] == 1) and neg.verb.sum() == 2
    assert {tuple(b) for b in neg.boxes_h} == {(10, 10, 110, 210), (300, 10, 400, 210)}
    assert {tuple(b) for b in neg.boxes_o} == {(0, 100, 200, 300), (420, 50, 600, 250)}
    for s in V.pasta_slices().values():
        assert np.all(neg.pasta[:, s.stop - 1] == 1)
    solo = rows.subset(rows.kind == 2)
    assert np.all(solo.object == -1) and solo.hoi.sum() == 0
    assert np.array_equal(solo.boxes_h, solo.boxes_o)
    first = np.flatnonzero(solo.boxes_h[:, 0] == 10)[0]
    assert solo.pasta[first, HIP_SIT_ON] == 1 and solo.has_pasta[first]
    assert set(np.flatnonzero(solo.verb[first])) == set(V.hoi_verb[[RIDE, HOLD]])


def test_pair_context_lists_the_persons_other_objects_and_the_images_objects() -> None:
    from hake.datasets.builders.spatial_pairs import pair_context

    person, other_person = [0, 0, 100, 200], [400, 0, 500, 200]
    cup, cup_dup, chair, horse = [10, 10, 30, 30], [11, 10, 31, 30], [0, 100, 100, 220], [380, 50, 600, 250]
    cand_h = np.array([person, person, person, other_person], np.float32)
    cand_o = np.array([cup, cup_dup, chair, horse], np.float32)
    cand_obj = np.array([41, 41, 56, 17])  # cup, its duplicate (another HOI of the same pair), chair, horse
    ctx = pair_context(cand_h, cand_o, cand_obj, cand_h, cand_o, cand_obj)
    assert ctx.shape == (4, 160)
    assert set(np.flatnonzero(ctx[0, :80])) == {56}  # the cup's duplicate is its own pair, the chair is other
    assert set(np.flatnonzero(ctx[2, :80])) == {41}
    assert not ctx[3, :80].any()  # the other person has no other pair
    assert all(set(np.flatnonzero(c[80:])) == {41, 56, 17} for c in ctx)
    alone = pair_context(np.array([person]), np.array([person]), np.array([-1]), cand_h, cand_o, cand_obj)
    assert set(np.flatnonzero(alone[0, :80])) == {41, 56}  # a person-only row: all the person's objects


def test_bad_hoi_id_names_the_record() -> None:
    with pytest.raises(DataError, match="img9.*hoi_id"):
        training_pairs([Image("img9", [Label(700, [0, 0, 1, 1], [0, 0, 1, 1])])], "train.json")
    with pytest.raises(DataError, match="no labelled"):
        training_pairs([Image("empty", [])], "train.json")


def test_object_prior_is_the_hoi_frequency_given_the_object() -> None:
    rows = training_pairs([_image()], negatives=2)
    counts = hoi_counts(rows)
    assert counts[RIDE] == 1 and counts[FEED] == 1 and counts[NO_HORSE] == 0  # negatives are not counted
    prior = object_prior(counts)
    horse = V.hois_of_object(HORSE)
    assert prior[horse].sum() == pytest.approx(1.0)
    assert prior[RIDE] == pytest.approx(2 / (len(horse) + 3))
    assert prior[V.hois_of_object(0)].sum() == pytest.approx(1.0)


def _gt() -> dict:
    box_h, box_o = [11, 21, 111, 221], [51, 61, 151, 161]
    return {"filenames": ["a.jpg", "b.jpg", "c.jpg"], "size": [[640, 480], [500, 400], [300, 300]],
            "annotation": [
                {"boxes_h": [box_h, box_h, box_h, [13, 21, 111, 223]], "boxes_o": [box_o, box_o, [1, 1, 21, 21], box_o],
                 "hoi": [RIDE, HOLD, FEED, HUG], "object": [HORSE] * 4,
                 "verb": list(V.hoi_verb[[RIDE, HOLD, FEED, HUG]])},
                {"boxes_h": [], "boxes_o": [], "hoi": [], "object": [], "verb": []},
                {"boxes_h": [box_h], "boxes_o": [box_o], "hoi": [1], "object": [int(V.hoi_object[1])],
                 "verb": [int(V.hoi_verb[1])]},
            ]}


def test_gt_pairs_are_unique_per_image_and_zero_based() -> None:
    gt = parse_test_gt(_gt())
    exact = gt_pairs(gt, merge_iou=1.0)
    assert list(exact.image_index) == [0, 0, 0, 2]
    assert np.array_equal(exact.boxes_h[2], [12, 20, 110, 222])
    pairs = gt_pairs(gt)  # the shifted HUG entry is the same pair as RIDE/HOLD at IoU >= 0.7
    assert list(pairs.image_index) == [0, 0, 2]
    assert np.array_equal(pairs.boxes_h[0], [10, 20, 110, 220]) and np.array_equal(pairs.boxes_o[1], [0, 0, 20, 20])
    assert list(pairs.object) == [HORSE, HORSE, V.hoi_object[1]]
    assert np.array_equal(pairs.sizes, [[640, 480], [640, 480], [300, 300]])
    rows = candidate_rows(pairs, np.zeros((3, 600)))
    n_horse = len(V.hois_of_object(HORSE))
    assert len(rows["hoi"]) == 2 * n_horse + len(V.hois_of_object(V.hoi_object[1]))
    assert set(rows["hoi"][: n_horse]) == set(V.hois_of_object(HORSE))


def _oracle(gt, pairs) -> np.ndarray:
    """Score 1 for the HOIs of the GT entries that a candidate pair stands for (same object, IoU >= 0.7)."""
    scores = np.zeros((len(pairs), 600))
    for k, i in enumerate(pairs.image_index):
        n = len(gt.hoi[i])
        same = ((iou_plus_one(gt.boxes_h[i], np.repeat(pairs.boxes_h[k:k + 1] + 1, n, 0)) >= 0.7)
                & (iou_plus_one(gt.boxes_o[i], np.repeat(pairs.boxes_o[k:k + 1] + 1, n, 0)) >= 0.7)
                & (gt.object[i] == pairs.object[k]))
        scores[k, gt.hoi[i][same]] = 1.0
    return scores


def test_oracle_scores_on_gt_pairs_reach_full_ap() -> None:
    gt = parse_test_gt(_gt())
    pairs = gt_pairs(gt)
    res = evaluate_hicodet(gt, **candidate_rows(pairs, _oracle(gt, pairs)))
    present = [RIDE, HOLD, FEED, HUG, 1]  # HUG is found through the merged RIDE/HOLD candidate
    assert res.default.per_class_ap[present] == pytest.approx([1.0] * 5)
    assert res.default.per_class_ap.sum() == pytest.approx(5.0)


def test_real_gt_pairs_cover_every_gt_pair(hicodet_test_gt) -> None:
    gt = load_test_gt(hicodet_test_gt)
    exact = gt_pairs(gt, merge_iou=1.0)
    assert len(exact) == gt.num_pairs == 33405  # the conversion never repeats identical boxes
    pairs = gt_pairs(gt)
    assert len(pairs) == 25393
    key = np.concatenate([pairs.image_index[:, None], pairs.boxes_h, pairs.boxes_o, pairs.object[:, None]], 1)
    assert len(np.unique(key, axis=0)) == len(pairs)
    img, _, bh, bo = gt.flat()
    exact_key = np.concatenate([exact.image_index[:, None], exact.boxes_h, exact.boxes_o, exact.object[:, None]], 1)
    gkey = np.concatenate([img[:, None], bh - 1, bo - 1, np.concatenate(gt.object)[:, None]], 1)
    assert np.array_equal(np.unique(exact_key, axis=0), np.unique(gkey, axis=0))
    assert len(np.unique(np.concatenate([key, gkey]), axis=0)) == len(exact)  # merged pairs are GT entries
    # a perfect scorer on the first 300 images finds every positive of every present HOI
    sub = subset_gt(gt, np.arange(300))
    sub_pairs = gt_pairs(sub)
    res = evaluate_hicodet(sub, **candidate_rows(sub_pairs, _oracle(sub, sub_pairs)))
    present = np.unique(np.concatenate(sub.hoi))
    assert res.default.per_class_ap[present].mean() > 0.99


def test_no_negative_pairs_a_person_with_an_object_it_is_labelled_with() -> None:
    image = Image("two_horses", [Label(RIDE, [10, 10, 110, 210], [0, 100, 200, 300]),
                                 Label(FEED, [12, 10, 110, 212], [300, 0, 500, 200])])
    rows = training_pairs([image], negatives=5, person_only=True)
    assert list(np.bincount(rows.kind, minlength=3)) == [2, 0, 1]  # one person, no negative
