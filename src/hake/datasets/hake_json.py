"""HAKE annotation readers (no torch): HAKE-HICO image level and HAKE-HICO-DET instance level.

Both read the released ``.tar.gz`` (one JSON member) or the JSON itself; HAKE-Large uses the
instance-level format. Formats (DESIGN §4):

- image level: ``{image name: {hoi_id: [1-based HOI ids], parts_list: 10 × {0,1},
  foot_list, leg_list, hip_list, hand_list, arm_list, head_list: multi-hot over that group's
  PaSta-76 list (last entry = no_interaction)}}``.
- instance level: ``{image name: {dataset, path_prefix, labels: [{hoi_id (1-based), human_bbox,
  object_bbox (x1, y1, x2, y2 pixels), width, height, action_labels (optional):
  [{human_part 0-9, partstate: index in that part's group list}]}]}}``.

**Ids.** HOI ids are 1-based in the files and 0-based in every record; :func:`hoi_to_zero_based`
is the one place that converts them. Part indices and part-state indices are 0-based in the files
already and are kept as they are.

Every malformed value raises :class:`DataError` naming the file, the record (image name) and the
field (e.g. ``labels[3].human_bbox``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hake.datasets.io import read_json_any
from hake.errors import DataError
from hake.vocab import load as load_vocab
from hake.vocab.core import GROUPS
from hake.vocab.sizes import NUM_HOIS

NUM_PARTS = 10
_NUMBER = (int, float)
#: Indices of the six ``no_interaction`` states in the PaSta-76 vector.
NO_INTERACTION_STATES = frozenset(s.stop - 1 for s in load_vocab().pasta_slices("pasta76").values())


@dataclass(frozen=True, eq=False)
class ImageLevelRecord:
    """One HAKE-HICO image.

    Attributes:
        name: image file name.
        hois: (K,) int64 0-based HOI ids (K may be 0).
        pasta76: (76,) uint8 multi-hot, the concatenation of the foot … head group lists.
        parts: (10,) uint8, 1 where the part is annotated as active (part annotation order).
    """

    name: str
    hois: np.ndarray
    pasta76: np.ndarray
    parts: np.ndarray


@dataclass(frozen=True, eq=False)
class InstanceLabel:
    """One human-object label of HAKE-HICO-DET.

    Attributes:
        hoi: 0-based HOI id.
        box_h, box_o: (4,) float32 x1y1x2y2 pixels of the human and the object.
        width, height: image size in pixels.
        part_states: (part 0-9, state index within that part's PaSta-76 group list) pairs.
        has_pasta: False when ``action_labels`` is missing or empty.
        missing_action_labels: True when the key ``action_labels`` is absent (not just empty).
    """

    hoi: int
    box_h: np.ndarray
    box_o: np.ndarray
    width: int
    height: int
    part_states: tuple[tuple[int, int], ...]
    has_pasta: bool
    missing_action_labels: bool = False

    def pasta76(self) -> np.ndarray:
        """(76,) uint8 PaSta-76 multi-hot of this label; left and right parts merge with OR.

        A group with no annotated part state gets its ``no_interaction`` state; a group with an
        annotated active state has ``no_interaction`` cleared (the group interacts if either side
        does). Only meaningful when :attr:`has_pasta`.
        """
        return pasta76_vector(self.part_states)


@dataclass(frozen=True, eq=False)
class InstanceImage:
    """One image of an instance-level file: ``name``, ``dataset``, ``path_prefix`` (the image is at
    ``<root>/<path_prefix>/<name>``) and its :class:`InstanceLabel` s (possibly none)."""

    name: str
    dataset: str
    path_prefix: str
    labels: list[InstanceLabel]


def pasta76_vector(part_states: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(76,) uint8 multi-hot of (part, state-in-group) pairs; see :meth:`InstanceLabel.pasta76`."""
    start, slices, _ = _layout()
    on = {start[part] + state for part, state in part_states}
    busy = {g for g, s in enumerate(slices) if any(s.start <= i < s.stop - 1 for i in on)}
    on = {i for i in on if i not in NO_INTERACTION_STATES} | {s.stop - 1 for g, s in enumerate(slices) if g not in busy}
    out = np.zeros(76, np.uint8)
    out[list(on)] = 1
    return out


@cache
def _layout() -> tuple[tuple[int, ...], tuple[slice, ...], tuple[int, ...]]:
    """Per part its group's offset in the PaSta-76 vector; the six group slices; per part its group's size."""
    vocab = load_vocab()
    slices = vocab.pasta_slices("pasta76")
    groups = [slices[vocab.part_group(p)] for p in range(NUM_PARTS)]
    return tuple(s.start for s in groups), tuple(slices.values()), tuple(s.stop - s.start for s in groups)


def hoi_to_zero_based(value: Any, where: str, record: str, field: str) -> int:
    """The one 1-based -> 0-based id conversion: a file's HOI id 1..600 -> 0..599."""
    hoi = _int(value, where, record, field)
    if not 1 <= hoi <= NUM_HOIS:
        raise DataError(f"HOI id {hoi} outside 1..{NUM_HOIS}", file=where, record=record, field=field)
    return hoi - 1


def _int(value: Any, where: str, record: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"expected an integer, got {type(value).__name__}", file=where, record=record, field=field)
    return value


def _get(obj: Any, key: str, where: str, record: str, prefix: str = "") -> Any:
    if not isinstance(obj, dict):
        raise DataError(f"expected an object, got {type(obj).__name__}", file=where, record=record,
                        field=prefix.rstrip(".") or None)
    if key not in obj:
        raise DataError("missing key", file=where, record=record, field=prefix + key)
    return obj[key]


def _binary(value: Any, n: int, where: str, record: str, field: str) -> np.ndarray:
    if type(value) is not list or len(value) != n:
        raise DataError(f"expected a list of {n} zeros/ones", file=where, record=record, field=field)
    if not set(map(type, value)) <= {int} or not set(value) <= {0, 1}:
        raise DataError("entries must be 0 or 1", file=where, record=record, field=field)
    return np.asarray(value, np.uint8)


def _box(value: Any, where: str, record: str, field: str) -> np.ndarray:
    if type(value) is not list or len(value) != 4:
        raise DataError("expected [x1, y1, x2, y2] numbers", file=where, record=record, field=field)
    x1, y1, x2, y2 = value
    if not (type(x1) in _NUMBER and type(y1) in _NUMBER and type(x2) in _NUMBER and type(y2) in _NUMBER):
        raise DataError("expected [x1, y1, x2, y2] numbers", file=where, record=record, field=field)
    try:
        finite = math.isfinite(x1) and math.isfinite(y1) and math.isfinite(x2) and math.isfinite(y2)
    except OverflowError:  # an integer too large for a float
        finite = False
    if not finite:
        raise DataError("non-finite coordinate", file=where, record=record, field=field)
    if x2 < x1 or y2 < y1:
        raise DataError(f"box {value} has x2 < x1 or y2 < y1", file=where, record=record, field=field)
    return np.array(value, np.float32)


def _top(raw: Any, where: str) -> dict:
    if not isinstance(raw, dict):
        raise DataError(f"expected a JSON object keyed by image name, got {type(raw).__name__}", file=where)
    return raw


def parse_image_level(raw: Any, where: str = "<memory>") -> list[ImageLevelRecord]:
    """Validate a parsed image-level JSON and build records (file order)."""
    sizes = dict(zip(GROUPS, load_vocab().group_sizes("pasta76")))
    out = []
    for name, entry in _top(raw, where).items():
        ids = _get(entry, "hoi_id", where, name)
        if not isinstance(ids, list):
            raise DataError("expected a list of HOI ids", file=where, record=name, field="hoi_id")
        hois = np.array([hoi_to_zero_based(v, where, name, "hoi_id") for v in ids], np.int64)
        parts = _binary(_get(entry, "parts_list", where, name), NUM_PARTS, where, name, "parts_list")
        pasta = np.concatenate([_binary(_get(entry, f"{g}_list", where, name), sizes[g], where, name, f"{g}_list")
                                for g in GROUPS])
        out.append(ImageLevelRecord(name, hois, pasta, parts))
    return out


def _part_states(value: Any, where: str, record: str, field: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list):
        raise DataError("expected a list", file=where, record=record, field=field)
    sizes = _layout()[2]
    states = []
    for k, item in enumerate(value):
        f = f"{field}[{k}]."
        part = _int(_get(item, "human_part", where, record, f), where, record, f + "human_part")
        if not 0 <= part < NUM_PARTS:
            raise DataError(f"part index {part} outside 0..9", file=where, record=record, field=f + "human_part")
        state = _int(_get(item, "partstate", where, record, f), where, record, f + "partstate")
        n = sizes[part]
        if not 0 <= state < n:
            raise DataError(f"state index {state} outside 0..{n - 1} of part {part}'s group", file=where,
                            record=record, field=f + "partstate")
        states.append((part, state))
    return tuple(states)


def _label(item: Any, where: str, record: str, prefix: str) -> InstanceLabel:
    def get(key: str) -> Any:
        return _get(item, key, where, record, prefix)

    hoi = hoi_to_zero_based(get("hoi_id"), where, record, prefix + "hoi_id")
    box_h = _box(get("human_bbox"), where, record, prefix + "human_bbox")
    box_o = _box(get("object_bbox"), where, record, prefix + "object_bbox")
    width = _int(get("width"), where, record, prefix + "width")
    height = _int(get("height"), where, record, prefix + "height")
    if width <= 0 or height <= 0:
        raise DataError(f"image size {width}x{height} is not positive", file=where, record=record,
                        field=prefix + "width")
    missing = "action_labels" not in item
    states = () if missing else _part_states(item["action_labels"], where, record, prefix + "action_labels")
    return InstanceLabel(hoi, box_h, box_o, width, height, states, bool(states), missing)


def parse_instance_level(raw: Any, where: str = "<memory>") -> list[InstanceImage]:
    """Validate a parsed instance-level JSON and build one :class:`InstanceImage` per image (file order)."""
    out = []
    for name, entry in _top(raw, where).items():
        dataset = _get(entry, "dataset", where, name)
        prefix = _get(entry, "path_prefix", where, name)
        labels = _get(entry, "labels", where, name)
        for key, val in (("dataset", dataset), ("path_prefix", prefix)):
            if not isinstance(val, str):
                raise DataError("expected a string", file=where, record=name, field=key)
        if not isinstance(labels, list):
            raise DataError("expected a list", file=where, record=name, field="labels")
        out.append(InstanceImage(name, dataset, prefix,
                                 [_label(item, where, name, f"labels[{j}].") for j, item in enumerate(labels)]))
    return out


def load_image_level(path: str | Path) -> list[ImageLevelRecord]:
    """Read a HAKE-HICO image-level ``.json`` or ``.tar.gz``; see :class:`ImageLevelRecord`."""
    return parse_image_level(read_json_any(path), str(path))


def load_instance_level(path: str | Path) -> list[InstanceImage]:
    """Read a HAKE-HICO-DET (or HAKE-Large) instance-level ``.json`` or ``.tar.gz``; see :class:`InstanceImage`."""
    return parse_instance_level(read_json_any(path), str(path))
