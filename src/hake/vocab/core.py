"""Loading and cross-checking the packaged label-space tables."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from hake.errors import DataError
from hake.vocab import sizes as S

#: The six PaSta groups in HAKE order; left/right parts are merged with OR.
GROUPS: tuple[str, ...] = ("foot", "leg", "hip", "hand", "arm", "head")

_EXPECTED = {
    "parts": S.NUM_PARTS, "pasta76": S.NUM_PASTA76, "pasta93": S.NUM_PASTA93, "pasta55": S.NUM_PASTA55,
    "verbs117": S.NUM_VERBS, "verbs157": S.NUM_VERBS157, "objects": S.NUM_OBJECTS, "hois": S.NUM_HOIS,
    "rare_hois": S.NUM_RARE_HOIS,
}
_GROUP_SIZES = {
    "pasta76": (12, 10, 5, 31, 5, 13),
    "pasta93": (16, 15, 6, 34, 8, 14),
    "pasta55": (6, 6, 3, 23, 5, 12),
}
NO_INTERACTION_VERB = 57


@dataclass(frozen=True)
class Vocab:
    """Every HAKE label space, 0-based.

    Attributes:
        parts: the 10 body parts in annotation order.
        groups: group name -> the part indices it merges.
        pasta: space name ("pasta76", "pasta93", "pasta55") -> list of (group, state) names.
        pasta76_to_55: for each PaSta-76 index the PaSta-55 index.
        verbs117, verbs157, objects: names.
        hois: (600, 2) int array of (verb index, object index).
        rare_hois: the 138 HOIs with fewer than 10 HICO-DET training instances.
        pasta76_object_mask: (76, 80) bool, which PaSta can occur with which object.
        coco80_to_hico: (80,) HICO object index of each contiguous COCO-80 class.
        coco91_to_hico: COCO category id (1..90) -> HICO object index.
    """

    parts: tuple[str, ...]
    groups: dict[str, tuple[int, ...]]
    pasta: dict[str, tuple[tuple[str, str], ...]]
    pasta76_to_55: np.ndarray
    verbs117: tuple[str, ...]
    verbs157: tuple[str, ...]
    objects: tuple[str, ...]
    hois: np.ndarray
    rare_hois: np.ndarray
    pasta76_object_mask: np.ndarray
    coco80_to_hico: np.ndarray
    coco91_to_hico: dict[int, int]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def hoi_verb(self) -> np.ndarray:
        """(600,) verb index of each HOI."""
        return self.hois[:, 0]

    @property
    def hoi_object(self) -> np.ndarray:
        """(600,) object index of each HOI."""
        return self.hois[:, 1]

    @property
    def hoi_to_verb_matrix(self) -> np.ndarray:
        """(600, 117) float32 one-hot HOI -> verb matrix."""
        m = np.zeros((600, 117), np.float32)
        m[np.arange(600), self.hoi_verb] = 1
        return m

    @property
    def hoi_to_object_matrix(self) -> np.ndarray:
        """(600, 80) float32 one-hot HOI -> object matrix."""
        m = np.zeros((600, 80), np.float32)
        m[np.arange(600), self.hoi_object] = 1
        return m

    @property
    def non_rare_hois(self) -> np.ndarray:
        """The 462 HOIs not in :attr:`rare_hois`."""
        return np.setdiff1d(np.arange(600), self.rare_hois)

    @property
    def no_interaction_hois(self) -> np.ndarray:
        """The 80 HOIs whose verb is ``no_interaction`` (one per object)."""
        return np.flatnonzero(self.hoi_verb == NO_INTERACTION_VERB)

    def hois_of_object(self, obj: int) -> np.ndarray:
        """HOI indices whose object is ``obj`` (0-based HICO object index)."""
        return np.flatnonzero(self.hoi_object == obj)

    def hoi_name(self, hoi: int) -> str:
        """Readable name, e.g. ``"ride horse"``."""
        v, o = self.hois[hoi]
        return f"{self.verbs117[v]} {self.objects[o]}".replace("_", " ")

    def group_sizes(self, space: str = "pasta76") -> tuple[int, ...]:
        """Number of states per group in :data:`GROUPS` order."""
        return tuple(sum(1 for g, _ in self.pasta[space] if g == name) for name in GROUPS)

    def pasta_slices(self, space: str = "pasta76") -> dict[str, slice]:
        """Group name -> slice of that group's states in the flat PaSta vector."""
        out, start = {}, 0
        for name, size in zip(GROUPS, self.group_sizes(space)):
            out[name] = slice(start, start + size)
            start += size
        return out

    def part_group(self, part: int) -> str:
        """Name of the PaSta group a part (0..9) belongs to."""
        for name, members in self.groups.items():
            if part in members:
                return name
        raise IndexError(f"part index {part} is outside 0..9")


def _check(raw: dict[str, Any], where: str) -> None:
    for key, n in _EXPECTED.items():
        if len(raw[key]) != n:
            raise DataError(f"expected {n} entries, found {len(raw[key])}", file=where, field=key)
    for space, sizes in _GROUP_SIZES.items():
        got = tuple(sum(1 for g, _ in raw[space] if g == name) for name in GROUPS)
        if got != sizes:
            raise DataError(f"group sizes {got} != {sizes}", file=where, field=space)
        order = [g for g, _ in raw[space]]
        if order != sorted(order, key=GROUPS.index):
            raise DataError("states are not grouped in foot..head order", file=where, field=space)
        ends = {g: s for g, s in raw[space]}
        if any(ends[g].replace(" ", "_") != "no_interaction" for g in GROUPS):
            raise DataError("every group must end with no_interaction", file=where, field=space)
    names = [f"{raw['verbs117'][v]} {raw['objects'][o]}" for v, o in raw["hois"]]
    if len(set(names)) != 600:
        raise DataError("HOI (verb, object) pairs are not unique", file=where, field="hois")
    objs = [o for _, o in raw["hois"]]
    runs = [o for i, o in enumerate(objs) if i == 0 or objs[i - 1] != o]
    if sorted(runs) != list(range(80)):
        raise DataError("each object's HOIs must form one contiguous run", file=where, field="hois")
    if sorted(set(raw["coco80_to_hico"])) != list(range(80)):
        raise DataError("COCO-80 map is not a permutation of 0..79", file=where, field="coco80_to_hico")
    if sorted(raw["coco91_to_hico"].values()) != list(range(80)):
        raise DataError("COCO-91 map is not onto 0..79", file=where, field="coco91_to_hico")
    if max(raw["pasta76_to_55"]) != 54 or min(raw["pasta76_to_55"]) != 0:
        raise DataError("76->55 map does not cover 0..54", file=where, field="pasta76_to_55")


@cache
def load() -> Vocab:
    """Load the packaged tables (cached) after cross-checking counts and names."""
    ref = resources.files("hake.vocab") / "data" / "vocab.json"
    raw = json.loads(ref.read_text(encoding="utf-8"))
    _check(raw, "hake/vocab/data/vocab.json")
    return Vocab(
        parts=tuple(raw["parts"]),
        groups={g: tuple(raw["groups"][g]) for g in GROUPS},
        pasta={s: tuple((g, n) for g, n in raw[s]) for s in ("pasta76", "pasta93", "pasta55")},
        pasta76_to_55=np.asarray(raw["pasta76_to_55"], np.int64),
        verbs117=tuple(raw["verbs117"]),
        verbs157=tuple(raw["verbs157"]),
        objects=tuple(raw["objects"]),
        hois=np.asarray(raw["hois"], np.int64),
        rare_hois=np.asarray(raw["rare_hois"], np.int64),
        pasta76_object_mask=np.asarray(raw["pasta76_object_mask"], bool),
        coco80_to_hico=np.asarray(raw["coco80_to_hico"], np.int64),
        coco91_to_hico={int(k): int(v) for k, v in raw["coco91_to_hico"].items()},
    )


def sizes() -> dict[str, int]:
    """Label-space sizes, as ``hake vocab --json`` prints them."""
    v = load()
    return {
        "parts": len(v.parts), "pasta76": len(v.pasta["pasta76"]), "pasta93": len(v.pasta["pasta93"]),
        "pasta55": len(v.pasta["pasta55"]), "verbs117": len(v.verbs117), "verbs157": len(v.verbs157),
        "objects": len(v.objects), "hois": len(v.hois), "rare_hois": len(v.rare_hois),
    }
