"""NanoDet-m and MoveNet (ONNX, 1 thread) on real photos; protocols, checks and the zoo's sha256 gate."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from conftest import REPO, shared_file
from hake import hub, zoo
from hake.errors import DataError, HakeError
from hake.geometry.boxes import iou_matrix
from hake.perception import (
    PERSON,
    Detector,
    MoveNetMultiPose,
    MoveNetSingle,
    NanoDet,
    PoseEstimator,
)
from hake.vocab import load


def rgb(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(shared_file("images", name))), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def detector() -> NanoDet:
    return zoo.create_model("nanodet_m", family="detector", threads=1)


@pytest.fixture(scope="module")
def lightning() -> MoveNetSingle:
    return zoo.create_model("movenet_lightning", family="pose", threads=1)


def test_models_are_listed_with_their_sha256() -> None:
    entries = hub.manifest()
    for name in ("detector.nanodet_m", "pose.movenet_thunder", "pose.movenet_lightning", "pose.movenet_multipose"):
        entry = entries[name]
        assert hub.sha256_of(REPO / "models" / entry["file"]) == entry["sha256"]
        assert entry["licence"] == "Apache-2.0" and "human-models@3.0.4" in entry["source"]
    text = (REPO / "MODELS.md").read_text(encoding="utf-8")
    for name in ("detector.nanodet_m", "pose.movenet_thunder", "pose.movenet_lightning", "pose.movenet_multipose"):
        assert entries[name]["sha256"] in text and entries[name]["file"] in text


def test_nanodet_finds_the_woman_the_horse_and_the_dog(detector: NanoDet) -> None:
    image = rgb("person.jpg")  # darknet sample: a woman between a dog (left) and a horse (right)
    dets = detector.detect(image)
    names = {d.name for d in dets}
    assert {"person", "horse", "dog"} <= names
    scores = [d.score for d in dets]
    assert scores == sorted(scores, reverse=True)
    vocab = load()
    h, w = image.shape[:2]
    for d in dets:
        assert vocab.objects[d.label] == d.name
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    person = next(d for d in dets if d.label == PERSON)
    horse = next(d for d in dets if d.name == "horse")
    dog = next(d for d in dets if d.name == "dog")
    # left to right: dog, woman, horse
    assert dog.box[0] < person.box[0] < horse.box[0]
    assert person.box[3] - person.box[1] > 0.5 * h  # she stands over half the photo's height


def test_nanodet_class_wise_nms_keeps_one_box_per_object(detector: NanoDet) -> None:
    image = rgb("messi5.jpg")
    boxes, scores, classes = detector.raw(image)
    persons = [d for d in detector.detect(image) if d.label == PERSON]
    assert (classes == 0).sum() > len(persons) >= 1  # many raw candidates, one kept per player
    assert len(persons) == 1


def test_movenet_keypoints_lie_on_the_person(detector: NanoDet, lightning: MoveNetSingle) -> None:
    image = rgb("messi5.jpg")
    box = np.array([[d.box for d in detector.detect(image) if d.label == PERSON][0]], np.float32)
    kp = lightning.estimate(image, box)
    assert kp.shape == (1, 17, 3) and kp.dtype == np.float32
    good = kp[0, kp[0, :, 2] > 0.3]
    assert len(good) >= 10
    x1, y1, x2, y2 = box[0]
    margin = 0.15 * max(x2 - x1, y2 - y1)
    assert np.all((good[:, 0] > x1 - margin) & (good[:, 0] < x2 + margin))
    assert np.all((good[:, 1] > y1 - margin) & (good[:, 1] < y2 + margin))
    # COCO order: the nose (0) is above the ankles (15, 16) for an upright player
    assert kp[0, 0, 1] < kp[0, 15:17, 1].max()


def test_multipose_matches_people_to_boxes(detector: NanoDet, lightning: MoveNetSingle) -> None:
    image = rgb("person.jpg")
    multi = zoo.create_model("movenet_multipose", family="pose")
    assert isinstance(multi, MoveNetMultiPose)
    person = np.array([[d.box for d in detector.detect(image) if d.label == PERSON][0]], np.float32)
    far = np.array([[600, 0, 639, 20]], np.float32)  # a box with nobody in it
    kp = multi.estimate(image, np.concatenate([person, far]))
    assert kp.shape == (2, 17, 3)
    assert (kp[0, :, 2] > 0.3).sum() >= 10
    assert np.all(kp[1] == 0)
    single = lightning.estimate(image, person)
    both = (kp[0, :, 2] > 0.5) & (single[0, :, 2] > 0.5)
    # the two models agree on where the confident joints are (within 10% of the person height)
    height = person[0, 3] - person[0, 1]
    assert both.sum() >= 5
    assert np.median(np.linalg.norm(kp[0, both, :2] - single[0, both, :2], axis=1)) < 0.1 * height


def test_shipped_models_satisfy_the_protocols(detector: NanoDet, lightning: MoveNetSingle) -> None:
    assert isinstance(detector, Detector)
    assert isinstance(lightning, PoseEstimator)
    assert lightning.estimate(rgb("messi5.jpg"), np.zeros((0, 4), np.float32)).shape == (0, 17, 3)


def test_bad_images_and_boxes_are_data_errors(detector: NanoDet, lightning: MoveNetSingle) -> None:
    with pytest.raises(DataError, match="uint8"):
        detector.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(DataError, match=r"\(H, W, 3\)"):
        detector.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(DataError, match="boxes"):
        lightning.estimate(np.zeros((10, 10, 3), np.uint8), np.zeros((2, 3), np.float32))


def test_unknown_names_and_corrupt_weights_are_refused(tmp_path, monkeypatch) -> None:
    with pytest.raises(HakeError, match="unknown detector model"):
        zoo.create_model("yolo", family="detector")
    with pytest.raises(HakeError, match="unknown pose model"):
        zoo.create_model("openpose", family="pose")
    entry = hub.manifest()["pose.movenet_lightning"]
    bad = tmp_path / entry["file"]
    shutil.copy(REPO / "models" / entry["file"], bad)
    with open(bad, "r+b") as fh:  # flip one byte
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv("HAKE_MODEL_DIR", str(tmp_path))
    with pytest.raises(HakeError, match="sha256 mismatch"):
        zoo.create_model("movenet_lightning", family="pose")


def test_zoo_builds_perception_models_by_name() -> None:
    model = zoo.create_model("pose.movenet_lightning")
    assert isinstance(model, MoveNetSingle) and model.size == 192
    assert isinstance(zoo.create_model("detector.nanodet_m"), NanoDet)


def test_a_device_without_its_onnxruntime_provider_is_refused() -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    for device in ("cuda", "cuda:1"):  # cuda:N is understood, then refused for the missing provider
        with pytest.raises(HakeError, match="CUDAExecutionProvider"):
            zoo.create_model("nanodet_m", family="detector", device=device)
    for device in ("tpu", "cuda:x", "cpu:1"):
        with pytest.raises(HakeError, match="unknown device"):
            zoo.create_model("nanodet_m", family="detector", device=device)


def test_letterbox_keeps_the_aspect_ratio_and_centres_the_photo(detector: NanoDet) -> None:
    image = np.full((50, 100, 3), 255, np.uint8)  # wide: fills the width, centred vertically
    x, scale, ox, oy = detector.letterbox(image)
    assert x.shape == (1, 3, 416, 416) and x.dtype == np.float32
    assert scale == pytest.approx(4.16) and (ox, oy) == (0.0, 104.0)
    assert np.all(x[0, :, 104:312] == 1.0) and np.all(x[0, :, :104] == 0) and np.all(x[0, :, 312:] == 0)


def test_nanodet_finds_the_footballers_ball_where_it_is(detector: NanoDet) -> None:
    dets = detector.detect(rgb("messi5.jpg"))  # the ball lies at the bottom, right of the standing foot
    balls = [d for d in dets if d.name == "sports_ball"]
    assert balls and balls[0].score > 0.5
    x1, y1, x2, y2 = balls[0].box
    assert 320 < (x1 + x2) / 2 < 400 and 280 < (y1 + y2) / 2 < 342


def test_an_onnx_file_of_another_kind_is_refused_naming_what_it_is() -> None:
    from hake.perception.movenet import MoveNetMultiPose, MoveNetSingle
    from hake.perception.nanodet import NanoDet

    files = {name: hub.weight_path(name) for name in ("detector.nanodet_m", "pose.movenet_lightning",
                                                      "pose.movenet_multipose")}
    cases = [(NanoDet, "pose.movenet_lightning", "not a NanoDet detector"),
             (MoveNetSingle, "detector.nanodet_m", "not a single-person MoveNet"),
             (MoveNetSingle, "pose.movenet_multipose", "not a single-person MoveNet"),
             (MoveNetMultiPose, "pose.movenet_lightning", "not a MoveNet MultiPose")]
    for cls, wrong, message in cases:
        with pytest.raises(HakeError, match=message):
            cls(files[wrong])
    for cls, right in ((NanoDet, "detector.nanodet_m"), (MoveNetSingle, "pose.movenet_lightning"),
                       (MoveNetMultiPose, "pose.movenet_multipose")):
        cls(files[right])  # the shipped files pass the same check


def test_a_nanodet_graph_with_a_free_input_size_runs_on_the_photo_s_rectangle(tmp_path, detector: NanoDet) -> None:
    onnx = pytest.importorskip("onnx", reason="onnx (dev extra) edits the graph's declared input size")
    from hake.perception.nanodet import NanoDet

    graph = onnx.load(str(hub.weight_path("detector.nanodet_m")))
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"  # the convolutions take any multiple of 32
    free = tmp_path / "nanodet_free.onnx"
    onnx.save(graph, str(free))
    rect = NanoDet(free, score_threshold=0.35)
    assert not rect.square and detector.square  # the shipped graph declares its 416 x 416 square
    assert rect.input_shape(427, 640) == (288, 416) and rect.input_shape(640, 427) == (416, 288)
    x, scale, ox, oy = rect.letterbox(np.full((427, 640, 3), 255, np.uint8))
    assert x.shape == (1, 3, 288, 416) and (ox, oy) == (0.0, 5.0)  # 427 x 0.65 = 278 rows centred in 288
    image = rgb("messi5.jpg")
    square = {d.name: d for d in detector.detect(image)}
    found = {d.name: d for d in rect.detect(image)}
    # the same players and ball where the square input finds them: cells are decoded row by row
    # over the rectangle's own width (a wrong column count would scatter the boxes)
    for name in ("person", "sports_ball"):
        iou = iou_matrix(np.array([square[name].box]), np.array([found[name].box]))[0, 0]
        assert iou > 0.7, (name, square[name].box, found[name].box)
