"""``hake benchmark photos``: the pipeline on committed COCO-MINI photos, and its scores on cases of known answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, shared_file
from hake.cli import app
from hake.engine.bench.photo_metrics import (
    hoi_map,
    match_persons,
    parse_labels,
    pasta_metrics,
    perception_metrics,
    ranking_ap,
)
from hake.engine.bench.photos import load_photo_set
from hake.errors import DataError
from hake.structures import FrameResult, HoiPrediction, PartState, Person
from hake.vocab import load as load_vocab

MINI = FIXTURES / "coco_mini"
KEYS = ("bbox_ap", "person_ap", "person_ap50", "person_ar_large", "keypoint_ap", "hoi_map", "pasta_map",
        "pasta_map_per_group", "pasta_top1", "seconds_per_image")


def _strict_json(path: Path) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"{path} holds {name}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _photos():
    return load_photo_set(MINI / "train2017", MINI / "instances.json", MINI / "person_keypoints.json",
                          MINI / "hoi_labels.json")


def test_benchmark_runs_on_committed_photos_and_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "photos.json"
    res = CliRunner().invoke(app, ["benchmark", "photos", "--images", str(MINI / "train2017"),
                                   "--instances", str(MINI / "instances.json"),
                                   "--keypoints", str(MINI / "person_keypoints.json"),
                                   "--labels", str(MINI / "hoi_labels.json"), "--json", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    report = _strict_json(out)
    assert set(KEYS) <= set(report)
    for key in KEYS[:7]:
        assert 0.0 <= report[key] <= 1.0, key
    assert report["images"] == 3 and report["persons_found"] >= 5  # 10 listed persons in the 3 photos
    assert report["person_ar_large"] > 0.5  # most of the large persons are found
    assert set(report["pasta_map_per_group"]) == set(report["pasta_top1"]) == {"hand", "head", "hip", "foot"}
    assert all(0 <= v <= 1 for v in [*report["pasta_map_per_group"].values(), *report["pasta_top1"].values()])
    assert report["seconds_per_image"] > 0
    assert "bbox_ap" in res.output and "seconds_per_image" in res.output  # the table


def test_ground_truth_as_detections_scores_one() -> None:
    photos = _photos()
    ids = photos.image_ids
    boxes = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
             for a in photos.instances["annotations"] if not a.get("iscrowd")]
    poses = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
             for a in photos.keypoints["annotations"] if a["num_keypoints"] > 0]
    m = perception_metrics(photos.instances, photos.keypoints, boxes, poses, ids)
    assert m["bbox_ap"] == pytest.approx(1.0) and m["person_ap"] == pytest.approx(1.0)
    assert m["person_ar_large"] == pytest.approx(1.0) and m["keypoint_ap"] == pytest.approx(1.0)
    none = perception_metrics(photos.instances, photos.keypoints, [], [], ids)
    assert none["person_ap"] == 0.0 and none["keypoint_ap"] == 0.0


def test_ranking_ap_known_values() -> None:
    assert ranking_ap(["a", "b", "c"], {"a"}) == 1.0
    assert ranking_ap(["a", "b", "c"], {"b"}) == 0.5
    assert ranking_ap(["a", "b", "c"], {"a", "c"}) == pytest.approx((1 + 2 / 3) / 2)
    assert ranking_ap(["", "", ""], {"x"}) == pytest.approx(1 / 4)  # a missed person: ranked after all 3
    assert match_persons([[0, 0, 10, 10], [20, 20, 30, 30]], [[21, 21, 30, 30], [0, 0, 9, 10], [50, 50, 60, 60]]) \
        == {0: 1, 1: 0}


def _person(box, group_probs: dict[str, dict[str, float]], score: float = 0.9) -> Person:
    vocab = load_vocab()
    pasta = {}
    for group, sl in vocab.pasta_slices("pasta76").items():
        probs = group_probs.get(group, {})
        pasta[group] = [PartState(group, vocab.pasta["pasta76"][i][1], i, probs.get(vocab.pasta["pasta76"][i][1], 0.0))
                        for i in range(sl.start, sl.stop)]
    return Person(box=tuple(box), score=score, pasta=pasta)


def test_pasta_scores_of_a_perfect_and_of_a_missing_detection() -> None:
    labels = parse_labels(json.loads((MINI / "hoi_labels.json").read_text()), "hoi_labels.json")
    perfect = {}
    for image_id, persons in labels.items():
        dets = [_person(p.box, {g: dict.fromkeys(states, 1.0) for g, states in p.pasta.items()}) for p in persons]
        perfect[image_id] = FrameResult(source="", width=640, height=480, persons=dets)
    m = pasta_metrics(labels, perfect)
    assert m["pasta_map"] == 1.0 and all(v == 1.0 for v in m["pasta_top1"].values())
    n_groups = sum(len(p.pasta) for ps in labels.values() for p in ps if not p.difficult)
    assert m["labelled_groups"] == n_groups
    missed = pasta_metrics(labels, {})
    assert missed["pasta_map"] < 0.2 and all(v == 0.0 for v in missed["pasta_top1"].values())


def test_hoi_map_is_one_for_the_labelled_pairs_and_zero_for_misplaced_boxes() -> None:
    photos = _photos()
    labels = photos.labels
    box_of = {a["id"]: a["bbox"] for a in photos.instances["annotations"]}

    def results(shift: float) -> dict:
        out = {}
        for image_id, persons in labels.items():
            hois = []
            for k, p in enumerate(persons):
                for h, obj in p.hois:
                    x, y, w, hh = box_of[obj]
                    hois.append(HoiPrediction(k, 0, h, "", "", 0.5, tuple(v + shift for v in p.box),
                                              (x + shift, y + shift, x + w + shift, y + hh + shift)))
            out[image_id] = FrameResult(source="", width=640, height=480, hois=hois)
        return out

    assert hoi_map(labels, photos.instances, results(0.0)) == pytest.approx(1.0)
    assert hoi_map(labels, photos.instances, results(400.0)) == 0.0


def test_real_labels_count_the_persons_of_the_issue() -> None:
    path = shared_file("coco-mini", "hoi_labels_train2017.json")
    labels = parse_labels(json.loads(path.read_text()), str(path))
    scored = [p for ps in labels.values() for p in ps if not p.difficult]
    assert len(labels) == 29 and len(scored) == 57
    assert sum(len(p.pasta) for p in scored) == 83


def test_bad_labels_and_missing_photos_are_data_errors(tmp_path: Path) -> None:
    data = json.loads((MINI / "hoi_labels.json").read_text())
    data["images"][0]["persons"][0]["pasta"] = {"hand": ["juggle"]}
    with pytest.raises(DataError) as err:
        parse_labels(data, "bad.json")
    assert "bad.json" in str(err.value) and "pasta" in str(err.value) and "person 0" in str(err.value)
    inst = json.loads((MINI / "instances.json").read_text())
    del inst["annotations"][3]["bbox"]
    (tmp_path / "inst.json").write_text(json.dumps(inst))
    with pytest.raises(DataError, match="bbox"):
        load_photo_set(MINI / "train2017", tmp_path / "inst.json")
    photos = load_photo_set(tmp_path, MINI / "instances.json")
    from hake.engine.bench.photos import run_photos_benchmark

    class Never:
        config = type("C", (), {"top_states": 3})()

        def __call__(self, *a, **k):  # pragma: no cover - never reached
            raise AssertionError

    with pytest.raises(DataError, match="missing"):
        run_photos_benchmark(Never(), photos)  # type: ignore[arg-type]
