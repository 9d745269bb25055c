"""HICO image-level evaluator: reference equality, Few@k, readers, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval_reference import ref_hico_class
from hake.datasets.hico import load_labels, load_predictions
from hake.errors import DataError
from hake.evaluation.hico import evaluate_hico

label = st.sampled_from([1.0, -1.0, 0.0, math.nan])
score = st.sampled_from([0.0, 0.25, 0.5, 0.5, 1.0, -1e10, math.nan, math.inf, -math.inf])


def check_against_reference(labels: np.ndarray, scores: np.ndarray, cols: list[int]) -> None:
    res = evaluate_hico(labels, scores, np.arange(600) % 12)
    for mode, ko in ((res.default, False), (res.known_object, True)):
        for c in cols:
            ap, _ = ref_hico_class(labels[:, c].tolist(), scores[:, c].tolist(), ko)
            assert mode.per_class_ap[c] == pytest.approx(ap, abs=1e-12), (c, ko)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.lists(st.lists(label, min_size=3, max_size=3), min_size=n, max_size=n),
    st.lists(st.lists(score, min_size=3, max_size=3), min_size=n, max_size=n))))
def test_matches_reference_on_random_inputs(case) -> None:
    lab3, sc3 = np.array(case[0]), np.array(case[1])
    labels = np.full((len(lab3), 600), -1.0)
    scores = np.zeros((len(lab3), 600))
    cols = [0, 299, 599]
    labels[:, cols], scores[:, cols] = lab3, sc3
    check_against_reference(labels, scores, cols)


def test_random_large_matrix_and_few_k() -> None:
    rng = np.random.default_rng(1)
    n = 120
    labels = rng.choice([1.0, -1.0, 0.0, np.nan], size=(n, 600), p=[0.1, 0.5, 0.1, 0.3])
    labels[:, 5] = -1.0  # a class without positives is left out of the means
    scores = rng.random((n, 600)).round(1)  # many ties
    check_against_reference(labels, scores, list(range(0, 600, 37)) + [5])
    train = np.arange(600) % 12
    res = evaluate_hico(labels, scores, train)
    has = (labels == 1).sum(axis=0) > 0
    assert res.default.n_classes["mAP"] == int(has.sum()) == 599
    assert res.default.mAP == pytest.approx(res.default.per_class_ap[has].mean())
    few5 = has & (train <= 5)
    assert res.default["few@5"] == pytest.approx(res.default.per_class_ap[few5].mean())
    assert res.known_object.n_classes["few@1"] == int((has & (train <= 1)).sum())
    # Known-Object never lowers AP: unknown negatives move to the bottom of the ranking
    assert (res.known_object.per_class_ap >= res.default.per_class_ap - 1e-12).all()


def test_perfect_scores_give_one() -> None:
    labels = np.where(np.eye(8, 600) > 0, 1.0, -1.0)
    res = evaluate_hico(labels, labels.copy(), np.zeros(600))
    assert res.default.mAP == pytest.approx(1.0) and res.default.n_classes["mAP"] == 8
    assert res.to_dict()["known_object"]["few@10"] == pytest.approx(1.0)


def test_json_reader_and_bad_input(tmp_path) -> None:
    anno = {"list_test": ["a.jpg", "b.jpg"], "images": [{"pos": [3], "neg": [4], "amb": [5]}, {"pos": [4]}],
            "train_pos_count": [2] * 600}
    (tmp_path / "anno.json").write_text(json.dumps(anno))
    lab = load_labels(tmp_path / "anno.json")
    assert lab.labels[0, 3] == 1 and lab.labels[0, 4] == -1 and lab.labels[0, 5] == 0
    assert np.isnan(lab.labels[0, 6]) and lab.labels[1, 4] == 1
    (tmp_path / "p.json").write_text(json.dumps({"scores": [[0.1] * 600, [0.2] * 599]}))
    with pytest.raises(DataError, match=r"p\.json.*record 1.*expected 600 scores, got 599"):
        load_predictions(tmp_path / "p.json", 2)
    (tmp_path / "p.json").write_text(json.dumps({"scores": [[0.1] * 600]}))
    with pytest.raises(DataError, match="1 score rows for 2 labelled images"):
        load_predictions(tmp_path / "p.json", 2)
    anno["images"][1] = {"pos": [600]}
    (tmp_path / "bad.json").write_text(json.dumps(anno))
    with pytest.raises(DataError, match=r"bad\.json.*record '1 \(b\.jpg\)'.*'pos'"):
        load_labels(tmp_path / "bad.json")


def test_anno_mat_reader(tmp_path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    test = np.full((600, 3), np.nan)
    test[7, :] = [1, -1, 0]
    train = np.zeros((600, 4))
    train[7, :2] = 1
    names = np.array(["x1.jpg", "x2.jpg", "x3.jpg"], dtype=object).reshape(3, 1)
    scipy_io.savemat(tmp_path / "anno.mat", {"anno_test": test, "anno_train": train, "list_test": names})
    lab = load_labels(tmp_path / "anno.mat")
    assert lab.names == ["x1.jpg", "x2.jpg", "x3.jpg"] and lab.labels.shape == (3, 600)
    assert lab.labels[:, 7].tolist() == [1, -1, 0] and lab.train_pos_count[7] == 2
