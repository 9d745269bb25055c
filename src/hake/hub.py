"""The weights hub: every shipped weight file by name, with sha256, licence, source and how to rebuild it.

This module sits at the bottom of the house (it imports only :mod:`hake.errors`), so perception and
models both resolve weight files here without importing each other. Building a model from a name
or a file is :func:`hake.zoo.create_model`.

Weight files live in the package's ``weights/`` folder (the repository's ``models/``; ``HAKE_MODEL_DIR``
overrides it). The
manifest is ``hake/manifest.json``::

    {"spatial_pasta.hake_hicodet": {"file": "spatial_pasta_hake_hicodet.safetensors",
      "sha256": "...", "licence": "Apache-2.0", "source": "...", "reproduce": "python tools/..."},
     ...}

A name is ``family.variant``; the families are :data:`FAMILIES`. :func:`weight_path` verifies the
sha256 before handing a file out, so a corrupt or swapped file is caught at load time.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from hake.errors import HakeError

#: Model families (the prefix of a zoo name) and what each builds.
FAMILIES: dict[str, str] = {
    "detector": "person and object detector (perception, ONNX)",
    "pose": "pose estimator, COCO-17 keypoints (perception, ONNX)",
    "spatial_pasta": "PaSta model from the box layout (PyTorch)",
    "pose_pasta": "PaSta model from the keypoints and part boxes, box layout as fallback (PyTorch)",
    "activity2vec": "PaSta model from pixels (PyTorch)",
    "pasta_r": "PaSta-R reasoner: part states -> activities (PyTorch)",
}

#: The defaults of ``hake infer`` and of :func:`hake.engine.infer.pipeline.build_pipeline`.
#: NanoDet-m for objects; its persons fused with MoveNet MultiPose's (``hake.perception.fusion``).
#: ``"nanodet_m"`` alone is the detector without fusion.
DEFAULT_DETECTOR = "nanodet_m+movenet_multipose"
#: Default minimum person score, on the fused detector's scale (README "Real photos").
DEFAULT_PERSON_THRESHOLD = 0.12
#: Default minimum object score (README "Real photos": 0.10 scores higher on the labelled photos but
#: triples the objects and gives most persons "hand: hold").
DEFAULT_OBJECT_THRESHOLD = 0.25
DEFAULT_POSE = "movenet_lightning"
#: The default perception preset (``hake.engine.infer.pipeline.PERCEPTIONS``): ``balanced`` keeps
#: within 1.6x the time of NanoDet-m + Lightning; ``accurate`` finds more persons and better poses.
DEFAULT_PERCEPTION = "balanced"
#: Minimum fused person score of the ``accurate`` preset (mirrored photo: scores are means of two views).
ACCURATE_PERSON_THRESHOLD = 0.10
DEFAULT_PASTA_MODEL = "pose_pasta.coco_mini"
#: The layout-only PaSta model (Spatial-PaSta), also the layout prior of Pose-PaSta.
DEFAULT_LAYOUT_MODEL = "spatial_pasta.hake_hicodet"
#: The default reasoner of ``hake explain``.
DEFAULT_PASTA_R = "pasta_r.hake_hico"
#: A family's shipped default, so ``--model spatial_pasta`` means its zoo model.
FAMILY_DEFAULTS: dict[str, str] = {"pose_pasta": DEFAULT_PASTA_MODEL, "spatial_pasta": DEFAULT_LAYOUT_MODEL,
                                   "pasta_r": DEFAULT_PASTA_R,
                                   "detector": "detector.nanodet_m", "pose": "pose." + DEFAULT_POSE}


def model_dir() -> Path:
    """Folder holding the weight files: ``$HAKE_MODEL_DIR``, else the package's ``hake/weights``
    (installed with the wheel; in a checkout a link to the repository's ``models/``), else ``models/``."""
    env = os.environ.get("HAKE_MODEL_DIR")
    if env:
        return Path(env)
    packaged = Path(__file__).resolve().parent / "weights"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "models"


@cache
def manifest() -> dict[str, dict[str, Any]]:
    """Name -> entry of every shipped weight file."""
    ref = resources.files("hake") / "manifest.json"
    data: dict[str, dict[str, Any]] = json.loads(ref.read_text(encoding="utf-8"))
    return data


def family_of(name: str) -> str:
    """The family of a zoo name (``"pose.movenet_thunder"`` -> ``"pose"``)."""
    return name.split(".", 1)[0]


def names(family: str | None = None) -> list[str]:
    """Sorted zoo names, optionally of one family."""
    return sorted(n for n in manifest() if family is None or family_of(n) == family)


def resolve_name(name: str) -> str:
    """A full zoo name for ``name``: itself, a family's shipped default (``"pasta_r"``), or the only
    name of that family."""
    if name in manifest():
        return name
    if name in FAMILY_DEFAULTS:
        return FAMILY_DEFAULTS[name]
    matches = names(name) if "." not in name else []
    if len(matches) != 1:
        raise HakeError(f"unknown model {name!r}; give one of {', '.join(names())}")
    return matches[0]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_VERIFIED: set[Path] = set()


def weight_path(name: str) -> Path:
    """Path of the weight file called ``name`` after checking its sha256 (once per process)."""
    entries = manifest()
    if name not in entries:
        raise HakeError(f"unknown model {name!r}; known: {', '.join(sorted(entries))}")
    entry = entries[name]
    path: Path = model_dir() / str(entry["file"])
    if not path.is_file():
        raise HakeError(f"weight file for {name!r} not found at {path}; set HAKE_MODEL_DIR")
    if path not in _VERIFIED:
        digest = sha256_of(path)
        if digest != entry["sha256"]:
            raise HakeError(f"sha256 mismatch for {path}: {digest} != {entry['sha256']} (corrupt or replaced file)")
        _VERIFIED.add(path)
    return path
