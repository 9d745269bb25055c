"""Offline perception: person/object detection and pose estimation behind two Protocols.

Defaults run ONNX models with onnxruntime on one thread: NanoDet-m (COCO-80 -> HICO object ids) and
MoveNet Thunder / Lightning (top-down) or MultiPose. Plug in your own model by passing any object
with ``detect(image)`` / ``estimate(image, boxes)`` to :class:`hake.engine.pipeline.Pipeline`.

Zoo names: ``detector.nanodet_m``, ``pose.movenet_thunder``, ``pose.movenet_lightning``,
``pose.movenet_multipose`` (``hake.models.zoo.create_model`` builds them once this package is imported).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hake.errors import HakeError
from hake.models import zoo
from hake.perception.base import KEYPOINTS, PERSON, SKELETON, Detector, PoseEstimator, check_image
from hake.perception.movenet import MoveNetMultiPose, MoveNetSingle
from hake.perception.nanodet import NanoDet

DETECTORS = ("nanodet_m",)
POSE_MODELS = ("movenet_thunder", "movenet_lightning", "movenet_multipose")


def create_detector(name: str = "nanodet_m", threads: int = 1, device: str = "cpu", **kwargs: Any) -> Detector:
    """A shipped detector by short name (``"nanodet_m"``), zoo name or ``.onnx`` path (NanoDet format).

    ``kwargs`` go to :class:`NanoDet` (``score_threshold``, ``nms_threshold``, ``max_detections``).
    """
    short = name.split(".", 1)[1] if name.startswith("detector.") else name
    if short in DETECTORS:
        return NanoDet(f"detector.{short}", threads=threads, device=device, **kwargs)
    if name.endswith(".onnx") and Path(name).is_file():
        return NanoDet(name, threads=threads, device=device, **kwargs)
    raise HakeError(f"unknown detector {name!r}; shipped: {', '.join(DETECTORS)}")


def create_pose_estimator(name: str = "movenet_lightning", threads: int = 1, device: str = "cpu") -> PoseEstimator:
    """A shipped pose model by short name (``"movenet_thunder"``, ``"movenet_lightning"``,
    ``"movenet_multipose"``) or zoo name."""
    short = name.split(".", 1)[1] if name.startswith("pose.") else name
    if short == "movenet_multipose":
        return MoveNetMultiPose(f"pose.{short}", threads=threads, device=device)
    if short in POSE_MODELS:
        return MoveNetSingle(f"pose.{short}", threads=threads, device=device)
    raise HakeError(f"unknown pose model {name!r}; shipped: {', '.join(POSE_MODELS)}")


def _detector_loader(path: Path, entry: dict[str, Any]) -> Detector:
    return NanoDet(path)


def _pose_loader(path: Path, entry: dict[str, Any]) -> PoseEstimator:
    if "multipose" in entry["file"]:
        return MoveNetMultiPose(path)
    return MoveNetSingle(path)


zoo.register_loader("detector", _detector_loader)
zoo.register_loader("pose", _pose_loader)

__all__ = [
    "KEYPOINTS", "PERSON", "SKELETON", "Detector", "PoseEstimator", "MoveNetMultiPose", "MoveNetSingle",
    "NanoDet", "check_image", "create_detector", "create_pose_estimator",
]
