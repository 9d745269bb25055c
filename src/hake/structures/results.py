"""Typed results of hake: persons, objects, PaSta and HOI scores, one frame.

Conventions: boxes are ``x1, y1, x2, y2`` in **pixels of the original image, 0-based**;
keypoints are COCO-17 ``(x, y, score)`` rows in pixels; class ids are 0-based HICO indices.
Every structure round-trips through plain JSON via ``to_dict`` / ``from_dict``.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from hake.errors import DataError, HakeWarning

Box = tuple[float, float, float, float]


def finite_json(obj: Any) -> tuple[Any, int]:
    """``obj`` with every NaN or infinite float (also numpy scalars and arrays) replaced by ``None``.

    Returns the cleaned copy (dicts, lists and tuples become dicts and lists) and how many numbers
    were replaced.
    """
    if isinstance(obj, float):
        return (obj, 0) if math.isfinite(obj) else (None, 1)
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        bad = 0
        for k, v in obj.items():
            out[k], n = finite_json(v)
            bad += n
        return out, bad
    if isinstance(obj, (list, tuple)):
        items = [finite_json(v) for v in obj]
        return [v for v, _ in items], sum(n for _, n in items)
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return finite_json(obj.tolist())
    return obj, 0


def dumps_json(obj: Any, where: str = "output", **kwargs: Any) -> str:
    """Strict JSON text of ``obj`` (``json.dumps`` keywords pass through): non-finite numbers become
    ``null`` with a :class:`HakeWarning` naming ``where``, so every file hake writes is valid JSON."""
    clean, bad = finite_json(obj)
    if bad:
        warnings.warn(f"{where}: {bad} NaN or infinite number(s) written as null", HakeWarning, stacklevel=2)
    return json.dumps(clean, allow_nan=False, **kwargs)


def _box(value: Any, name: str) -> Box:
    if value is None or len(value) != 4:
        raise DataError("a box needs 4 numbers x1, y1, x2, y2", field=name)
    x1, y1, x2, y2 = (float(v) for v in value)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise DataError(f"box has a non-finite coordinate: {value}", field=name)
    if x2 < x1 or y2 < y1:
        raise DataError(f"box has x2 < x1 or y2 < y1: {value}", field=name)
    return (x1, y1, x2, y2)


@dataclass
class PartState:
    """One body-part state with its probability, e.g. ``("hand", "hold", 0.83)``.

    ``evidence`` says what set it when the PaSta model tells (``"pose"``, ``"layout"`` or
    ``"prior"``, see :data:`hake.structures.contracts.EVIDENCE`); ``None`` (left out of the JSON) otherwise.
    """

    group: str
    state: str
    index: int
    prob: float
    evidence: str | None = None


@dataclass
class Person:
    """A detected person.

    Attributes:
        box: person box (x1, y1, x2, y2), pixels.
        score: detector confidence in [0, 1].
        keypoints: 17 rows of (x, y, score), COCO order, pixels; empty if no pose was run.
        part_boxes: 10 rows of (x1, y1, x2, y2) in HAKE part order; empty if not computed.
        track_id: tracker identity in a video, ``None`` for single images.
        pasta: per PaSta group the top states with probabilities.
    """

    box: Box
    score: float
    keypoints: list[list[float]] = field(default_factory=list)
    part_boxes: list[list[float]] = field(default_factory=list)
    track_id: int | None = None
    pasta: dict[str, list[PartState]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.box = _box(self.box, "box")
        if self.keypoints and (len(self.keypoints) != 17 or any(len(k) != 3 for k in self.keypoints)):
            raise DataError("keypoints must be 17 rows of (x, y, score)", field="keypoints")
        if self.part_boxes and len(self.part_boxes) != 10:
            raise DataError("part_boxes must have 10 rows", field="part_boxes")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["box"] = list(self.box)
        for states in d["pasta"].values():
            for st in states:
                if st.get("evidence") is None:
                    st.pop("evidence", None)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Person:
        pasta = {g: [PartState(**s) for s in states] for g, states in d.get("pasta", {}).items()}
        return cls(
            box=d["box"], score=float(d["score"]), keypoints=d.get("keypoints", []),
            part_boxes=d.get("part_boxes", []), track_id=d.get("track_id"), pasta=pasta,
        )


@dataclass
class DetectedObject:
    """A detected object: box (pixels), score, HICO object index and name."""

    box: Box
    score: float
    label: int
    name: str = ""

    def __post_init__(self) -> None:
        self.box = _box(self.box, "box")
        if not 0 <= int(self.label) < 80:
            raise DataError(f"object label {self.label} is outside 0..79", field="label")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["box"] = list(self.box)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DetectedObject:
        return cls(box=d["box"], score=float(d["score"]), label=int(d["label"]), name=d.get("name", ""))


@dataclass
class HoiPrediction:
    """One human-object interaction: person index, object index (``None`` = no object), HOI.

    ``hoi`` is the 0-based HICO HOI index; ``verb`` and ``object`` are names.
    """

    person: int
    object_index: int | None
    hoi: int
    verb: str
    object: str
    score: float
    box_h: Box
    box_o: Box | None

    def __post_init__(self) -> None:
        if not 0 <= int(self.hoi) < 600:
            raise DataError(f"HOI id {self.hoi} is outside 0..599", field="hoi")
        self.box_h = _box(self.box_h, "box_h")
        self.box_o = None if self.box_o is None else _box(self.box_o, "box_o")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["box_h"] = list(self.box_h)
        d["box_o"] = None if self.box_o is None else list(self.box_o)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HoiPrediction:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class FrameResult:
    """Everything hake found in one image or video frame."""

    source: str
    width: int
    height: int
    frame_index: int | None = None
    persons: list[Person] = field(default_factory=list)
    objects: list[DetectedObject] = field(default_factory=list)
    hois: list[HoiPrediction] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "width": self.width, "height": self.height,
            "frame_index": self.frame_index,
            "persons": [p.to_dict() for p in self.persons],
            "objects": [o.to_dict() for o in self.objects],
            "hois": [h.to_dict() for h in self.hois],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameResult:
        return cls(
            source=d["source"], width=int(d["width"]), height=int(d["height"]),
            frame_index=d.get("frame_index"),
            persons=[Person.from_dict(p) for p in d.get("persons", [])],
            objects=[DetectedObject.from_dict(o) for o in d.get("objects", [])],
            hois=[HoiPrediction.from_dict(h) for h in d.get("hois", [])],
        )
