"""Offline perception: person/object detection and pose estimation behind two Protocols.

May import errors, vocab, structures, geometry and :mod:`hake.hub` (weight files); never :mod:`hake.models`.
Defaults run ONNX models with onnxruntime on one thread: NanoDet-m (COCO-80 -> HICO object ids) and
MoveNet Thunder / Lightning (top-down) or MultiPose. Plug in your own model by passing any object
with ``detect(image)`` / ``estimate(image, boxes)`` to :class:`hake.engine.infer.pipeline.Pipeline`.
Build the shipped ones with :func:`hake.zoo.create_model` (``"detector.nanodet_m"``,
``"pose.movenet_thunder"``, ``"pose.movenet_lightning"``, ``"pose.movenet_multipose"``).
"""

from __future__ import annotations

from hake.perception.base import PERSON, Detector, PoseEstimator, check_image
from hake.perception.movenet import MoveNetMultiPose, MoveNetSingle
from hake.perception.nanodet import NanoDet

__all__ = ["PERSON", "Detector", "PoseEstimator", "MoveNetMultiPose", "MoveNetSingle", "NanoDet", "check_image"]
