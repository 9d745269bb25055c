"""The inference pipeline: one RGB frame -> persons, poses, part boxes, PaSta, HOIs (one FrameResult).

frame -> detector -> persons and objects -> pose -> part boxes -> human-object pairs (plus the
no-object pair) -> PaSta model (PaSta-76, and its PaSta-R HOI/verb head) -> HOI scores.

The PaSta model is any :class:`hake.models.interface.PastaModel`; by default Spatial-PaSta from the
model zoo, or Activity2Vec when trained weights are given. Detector and pose model are anything
implementing the :mod:`hake.perception` Protocols.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hake import hub
from hake.engine.infer.pairs import hoi_predictions, make_pairs, person_evidence, person_pasta, top_states
from hake.errors import HakeError
from hake.geometry import part_boxes
from hake.geometry.boxes import iou_matrix
from hake.hub import (
    ACCURATE_PERSON_THRESHOLD,
    DEFAULT_DETECTOR,
    DEFAULT_OBJECT_THRESHOLD,
    DEFAULT_PASTA_MODEL,
    DEFAULT_PERCEPTION,
    DEFAULT_PERSON_THRESHOLD,
    DEFAULT_POSE,
)
from hake.perception.base import PERSON, Detector, PoseEstimator, check_image
from hake.perception.fusion import FusedDetector, FusedPose
from hake.structures import DetectedObject, FrameResult, PastaModel, Person
from hake.zoo import create_model

#: Lowest score of a person candidate (any source) fed to the fusion of person boxes.
FUSION_MIN_SCORE = 0.05
#: Score multiplier of the whole-photo person sources (MultiPose) in the fusion (the detector's is 1).
PERSON_SOURCE_WEIGHT = 1.6
#: Fused person score and box area (pixels²) from which a person's pose comes from the single-person
#: model (its crop); fainter or smaller persons keep MultiPose's keypoints
#: (:class:`~hake.perception.fusion.FusedPose`).
SINGLE_POSE_MIN_SCORE = 0.15
SINGLE_POSE_MIN_AREA = 48.0 ** 2
#: With the fused detector and a single-person ``--pose`` other than it, large confident persons
#: (fused score and box area from these) get this pose model instead (README "Real photos").
LARGE_POSE = "movenet_thunder"
LARGE_POSE_MIN_SCORE = 0.5
LARGE_POSE_MIN_AREA = 250.0 ** 2


@dataclass(frozen=True)
class Perception:
    """How hard the fused perception looks for persons and their poses (``--perception``).

    Attributes:
        person_threshold: the preset's minimum fused person score (when none is given).
        flip: every person model also runs on the mirrored photo
            (:class:`~hake.perception.fusion.FusedDetector` ``flip``).
        single_min_score, single_min_area: fused score and box area (pixels²) from which a person's
            pose comes from the single-person model's crop.
        large_min_score, large_min_area: the same for :data:`LARGE_POSE`.
    """

    person_threshold: float
    flip: bool
    single_min_score: float
    single_min_area: float
    large_min_score: float
    large_min_area: float


#: The presets (README "Real photos"): ``balanced`` (the default) keeps within 1.6x the seconds per
#: photo of NanoDet-m + Lightning; ``accurate`` adds the mirrored photo and gives Lightning and
#: Thunder to more persons (the first fusion's person threshold and the routes measured over the
#: time limit), for about 2x the balanced time (3x NanoDet-m + Lightning; README "Real photos").
PERCEPTIONS: dict[str, Perception] = {
    "balanced": Perception(DEFAULT_PERSON_THRESHOLD, False, SINGLE_POSE_MIN_SCORE, SINGLE_POSE_MIN_AREA,
                           LARGE_POSE_MIN_SCORE, LARGE_POSE_MIN_AREA),
    "accurate": Perception(ACCURATE_PERSON_THRESHOLD, True, SINGLE_POSE_MIN_SCORE, 32.0 ** 2, 0.3, 150.0 ** 2),
}


def perception_preset(name: str) -> Perception:
    """The preset called ``name`` (:data:`PERCEPTIONS`).

    Raises:
        HakeError: an unknown name, listing the known ones.
    """
    if name not in PERCEPTIONS:
        raise HakeError(f"unknown --perception {name!r}; use {' or '.join(PERCEPTIONS)}")
    return PERCEPTIONS[name]


def person_threshold_for(given: float | None, perception: str) -> float:
    """``given`` if set, else the person threshold of the preset ``perception``."""
    return perception_preset(perception).person_threshold if given is None else float(given)


#: Model families whose models are PaSta models.
PASTA_FAMILIES = ("pose_pasta", "spatial_pasta", "activity2vec")


def merge_overlapping(objects: list[DetectedObject], iou: float) -> list[DetectedObject]:
    """Objects sorted by score, dropping any whose box overlaps a higher-scored one's by IoU >= ``iou``."""
    objects = sorted(objects, key=lambda d: -d.score)
    if len(objects) < 2 or iou >= 1:
        return objects
    xywh = [[o.box[0], o.box[1], o.box[2] - o.box[0], o.box[3] - o.box[1]] for o in objects]
    keep = cv2.dnn.NMSBoxes(xywh, [o.score for o in objects], 0.0, float(iou))
    return [objects[i] for i in sorted(np.asarray(keep, dtype=np.int64).reshape(-1).tolist())]


def merge_persons_first(detections: list[DetectedObject], iou: float) -> list[DetectedObject]:
    """Persons merged among themselves, objects among themselves, then every object whose box
    overlaps a kept person's at IoU >= ``iou`` dropped (a person is never lost to an object box
    on it: fused person scores and NanoDet's object scores are not on one scale). Sorted by score."""
    persons = merge_overlapping([d for d in detections if d.label == PERSON], iou)
    objects = merge_overlapping([d for d in detections if d.label != PERSON], iou)
    if persons and objects and iou < 1:
        overlap = iou_matrix(np.array([o.box for o in objects]), np.array([p.box for p in persons]))
        objects = [o for o, row in zip(objects, overlap, strict=True) if row.max() < iou]
    return sorted(persons + objects, key=lambda d: -d.score)


@dataclass
class PipelineConfig:
    """Thresholds and limits of :class:`Pipeline`.

    Attributes:
        person_threshold: minimum detector score of a person (on the fused scale with the default
            detector, see :mod:`hake.perception.fusion`).
        object_threshold: minimum detector score of an object.
        hoi_threshold: minimum HOI score ``s_h * s_o * p`` reported.
        top_states: states reported per PaSta group and person.
        top_hois: HOIs reported per human-object pair.
        max_persons: at most this many persons per frame (highest scores).
        max_objects: at most this many objects per frame (highest scores).
        object_merge_iou: of two objects of different classes whose boxes overlap at least this
            much (IoU) only the higher-scored is kept (the detector suppresses duplicates per
            class only), and an object overlapping a person this much is dropped
            (:func:`merge_persons_first`).
    """

    person_threshold: float = DEFAULT_PERSON_THRESHOLD
    object_threshold: float = DEFAULT_OBJECT_THRESHOLD
    hoi_threshold: float = 0.01
    top_states: int = 3
    top_hois: int = 5
    max_persons: int = 20
    max_objects: int = 20
    object_merge_iou: float = 0.7


class Pipeline:
    """Runs detector, pose model and PaSta model on frames.

    Attributes:
        timings: seconds spent per stage (``detect``, ``pose``, ``part_boxes``, ``pairs``,
            ``pasta``, ``results``) summed over all calls; :meth:`reset_timings` zeroes them.
        frames: number of frames processed since the last reset.
    """

    def __init__(
        self,
        detector: Detector,
        pose: PoseEstimator,
        pasta_model: PastaModel,
        config: PipelineConfig | None = None,
    ) -> None:
        self.detector = detector
        self.pose = pose
        self.pasta_model = pasta_model
        self.config = config or PipelineConfig()
        self.timings: dict[str, float] = defaultdict(float)
        self.frames = 0

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[name] += time.perf_counter() - start

    def reset_timings(self) -> None:
        """Zero :attr:`timings`, :attr:`frames` and the ONNX run-time counters of the perception models."""
        self.timings = defaultdict(float)
        self.frames = 0
        for m in (self.detector, self.pose):
            if hasattr(getattr(m, "model", None), "reset_timer"):
                m.model.reset_timer()

    def model_seconds(self) -> float:
        """Seconds spent inside model calls: ONNX runs of detector and pose model, plus the PaSta model."""
        onnx = sum(getattr(getattr(m, "model", None), "run_seconds", 0.0) for m in (self.detector, self.pose))
        return onnx + self.timings.get("pasta", 0.0)

    def __call__(self, image: np.ndarray, source: str = "", frame_index: int | None = None) -> FrameResult:
        """Analyse one (H, W, 3) uint8 RGB frame; boxes in the result are pixels of this frame."""
        image = check_image(image, source or None)
        h, w = image.shape[:2]
        cfg = self.config
        with self._stage("detect"):
            dets = self.detector.detect(image)
            kept = [d for d in dets if d.score >= (cfg.person_threshold if d.label == PERSON else cfg.object_threshold)]
            kept = merge_persons_first(kept, cfg.object_merge_iou)
            persons = [d for d in kept if d.label == PERSON][: cfg.max_persons]
            objects = [d for d in kept if d.label != PERSON][: cfg.max_objects]
        result = FrameResult(source=source, width=w, height=h, frame_index=frame_index, objects=objects)
        self.frames += 1
        if not persons:
            return result
        boxes = np.asarray([p.box for p in persons], np.float32)
        scores = np.asarray([p.score for p in persons], np.float32)
        with self._stage("pose"):
            keypoints = np.array(self.pose.estimate(image, boxes), np.float32).reshape(len(persons), 17, 3)
            np.clip(keypoints[..., 0], 0, w - 1, out=keypoints[..., 0])  # joints guessed off-frame
            np.clip(keypoints[..., 1], 0, h - 1, out=keypoints[..., 1])
        with self._stage("part_boxes"):
            parts = np.asarray(part_boxes(keypoints, boxes, (w, h)), np.float32)
        with self._stage("pairs"):
            pairs = make_pairs(boxes, keypoints, parts, objects, (w, h), image)
        with self._stage("pasta"):
            out = self.pasta_model.predict(pairs.batch)
        with self._stage("results"):
            pasta = person_pasta(np.asarray(out.pasta), pairs.person, len(persons))
            evidence = None if getattr(out, "evidence", None) is None else person_evidence(
                np.asarray(out.pasta), np.asarray(out.evidence), pairs.person, len(persons))
            for i, det in enumerate(persons):
                result.persons.append(Person(
                    box=det.box, score=det.score, keypoints=keypoints[i].tolist(), part_boxes=parts[i].tolist(),
                    pasta=top_states(pasta[i], cfg.top_states, evidence=None if evidence is None else evidence[i]),
                ))
            result.hois = hoi_predictions(np.asarray(out.hoi), pairs, scores, objects, cfg.hoi_threshold, cfg.top_hois)
        return result


def load_pasta_model(name: str = DEFAULT_PASTA_MODEL, weights: Path | None = None, device: str = "cpu") -> Any:
    """The PaSta model to run on ``device``: the weight file ``weights`` if given, else the zoo model ``name``.

    Raises:
        HakeError: unknown name, missing, corrupt or foreign weight file, not a PaSta model, device unavailable.
    """
    model = create_model(weights if weights is not None else name, device=device)
    if not isinstance(model, PastaModel):
        known = ", ".join(n for fam in PASTA_FAMILIES for n in hub.names(fam))
        raise HakeError(f"{weights or name!r} is not a PaSta model (it has no predict(PairBatch)); "
                        f"PaSta models: {known} or an Activity2Vec / Spatial-PaSta .safetensors file")
    return model


def split_detector(text: str) -> tuple[str, list[str]]:
    """``"nanodet_m+movenet_multipose"`` -> (``"nanodet_m"``, [``"movenet_multipose"``]): the base detector
    and the pose models (MultiPose) whose persons are fused with the detector's."""
    base, *sources = [part.strip() for part in str(text).split("+")]
    return base, sources


def build_detector(detector: str, config: PipelineConfig | None = None, device: str = "cpu",
                   threads: int = 1, flip: bool = False) -> Detector:
    """The detector named ``detector`` (see :func:`split_detector`), built through :func:`hake.zoo.create_model`.

    With person sources the result is a :class:`~hake.perception.fusion.FusedDetector`: the base
    detector keeps candidates down to :data:`FUSION_MIN_SCORE` so that a person seen faintly by it and
    clearly by MultiPose is fused, and every source's persons are fused by weighted box fusion
    (``flip``: also on the mirrored photo).
    """
    cfg = config or PipelineConfig()
    base, sources = split_detector(detector)
    if not sources:
        return create_model(base, device=device, family="detector", threads=threads,  # type: ignore[no-any-return]
                            score_threshold=min(cfg.person_threshold, cfg.object_threshold))
    det = create_model(base, device=device, family="detector", threads=threads, score_threshold=cfg.object_threshold,
                       person_threshold=min(cfg.person_threshold, FUSION_MIN_SCORE))
    people = [create_model(name, device=device, family="pose", threads=threads) for name in sources]
    for name, model in zip(sources, people):
        if not hasattr(model, "people"):
            raise HakeError(f"--detector: {name!r} finds no persons in a whole photo; only movenet_multipose can "
                            "be fused with the detector")
    return FusedDetector(det, people, weights=[1.0] + [PERSON_SOURCE_WEIGHT] * len(people),
                         min_score=FUSION_MIN_SCORE, nms_iou=0.5, flip=flip)


def build_pipeline(
    pasta_model: PastaModel | None = None,
    detector: str = DEFAULT_DETECTOR,
    pose: str = DEFAULT_POSE,
    config: PipelineConfig | None = None,
    device: str = "cpu",
    threads: int = 1,
    pasta_name: str = DEFAULT_PASTA_MODEL,
    weights: Path | None = None,
    large_pose: str | None = LARGE_POSE,
    perception: str = DEFAULT_PERCEPTION,
) -> Pipeline:
    """A :class:`Pipeline` with the chosen perception and PaSta models, all loaded through
    :func:`hake.zoo.create_model` on ``device``.

    Args:
        pasta_model: an already built PaSta model (e.g. an ONNX export); overrides ``pasta_name``/``weights``.
        detector: detector zoo name, short name (``nanodet_m``) or ``.onnx`` file (NanoDet layout),
            optionally ``+`` whole-photo person sources whose persons are fused with its own
            (``nanodet_m+movenet_multipose``, the default; see :func:`build_detector`).
        pose: pose zoo name or short name (``movenet_lightning``, ``movenet_thunder``, ``movenet_multipose``).
        config: thresholds and limits.
        device: ``cpu`` or ``cuda[:N]``, for every model.
        threads: CPU threads of the ONNX models.
        pasta_name: zoo name of the PaSta model.
        weights: a PaSta model's weight file, instead of ``pasta_name``.
        large_pose: with the fused detector and a single-person ``pose``, the pose model of large
            confident persons (:data:`LARGE_POSE`); None, or the same as ``pose``, gives every person
            above the preset's single-pose score ``pose``.
        perception: the preset of :data:`PERCEPTIONS` (with the fused detector: mirrored photo or
            not, pose routes; ``config`` None also takes its person threshold).
    """
    preset = perception_preset(perception)
    cfg = config or PipelineConfig(person_threshold=preset.person_threshold)
    det = build_detector(detector, cfg, device=device, threads=threads, flip=preset.flip)
    est = create_model(pose, device=device, family="pose", threads=threads)
    if isinstance(det, FusedDetector) and not hasattr(est, "people"):
        large = None
        if large_pose is not None and str(large_pose).removeprefix("pose.") != str(pose).removeprefix("pose."):
            large = create_model(large_pose, device=device, family="pose", threads=threads)
        est = FusedPose(est, det, single_min_score=preset.single_min_score, single_min_area=preset.single_min_area,
                        large=large, large_min_score=preset.large_min_score, large_min_area=preset.large_min_area)
    model = pasta_model if pasta_model is not None else load_pasta_model(pasta_name, weights, device)
    return Pipeline(det, est, model, cfg)
