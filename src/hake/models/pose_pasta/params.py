"""Pose-PaSta's parameters: one readable JSON file, checked on load (numpy only, no torch).

Every number Pose-PaSta uses is here (:class:`PoseParams`); ``tools/fit_pose_pasta.py`` writes it.
The verb ↔ part-state table ``verb_states`` (``{verb: {"group:state": P(state | verb)}}``) is counted
on the HAKE-HICO-DET instance labels, not fitted on photos; the weights are fitted on the labelled
coco-mini photos.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hake.errors import DataError
from hake.hub import DEFAULT_LAYOUT_MODEL
from hake.vocab.core import load as load_vocab

__all__ = ["FORMAT", "GROUPS", "RULE_STATES", "PoseParams", "load_pose_params", "save_pose_params",
           "verb_state_matrix"]

FORMAT = "hake.pose_pasta/1"
GROUPS = ("foot", "leg", "hip", "hand", "arm", "head")
#: The state each posture rule moves, as (group, state name in PaSta-76).
RULE_STATES: dict[str, tuple[str, str]] = {
    "sit": ("hip", "sit on"), "stand": ("foot", "stand on"), "raise": ("hand", "raise(over head)"),
    "stride": ("foot", "walk with"),
}


def _rules() -> dict[str, dict[str, float]]:
    return {k: {"weight": 0.0, "offset": 0.5} for k in RULE_STATES}


@dataclass
class PoseParams:
    """Every parameter of Pose-PaSta (weights are logit shifts; lengths in person units).

    Attributes:
        layout_model: zoo name of the Spatial-PaSta model used as prior and fallback.
        joint_threshold: a joint counts when its pose score is at least this.
        contact_scale: contact = exp(-distance / contact_scale).
        evidence_min_logit: a shift at least this large marks a state ``pose``.
        reliability_power: pose terms are scaled by (joint score) ** this (0: every reliable joint counts fully).
        contact: per group, the weight of the part-object contact on the pair's object states.
        alone: per group, the weight on the person-only pair's object states of whether ANY of the
            person's objects touches that part (no object near the hands -> "hold" goes down).
        facing: weight of the head's facing towards the object on the head's object states.
        seat: weight of "hips on the object" (:attr:`BodyEvidence.seat`) on "hip: sit on".
        rules: per posture rule (:data:`RULE_STATES`) ``{"weight": w, "offset": t}``.
        hoi_weight: weight of the pair's PaSta shifts, projected through ``verb_states``, on each HOI's logit.
        verb_states: ``{verb: {"group:state": P(state | verb)}}`` from HAKE-HICO-DET (entries >= 0.05).
        fit: how the numbers were obtained (data, folds, scores); informational.
    """

    layout_model: str = DEFAULT_LAYOUT_MODEL
    joint_threshold: float = 0.3
    contact_scale: float = 0.1
    evidence_min_logit: float = 0.5
    reliability_power: float = 0.0
    contact: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GROUPS, 0.0))
    alone: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GROUPS, 0.0))
    facing: float = 0.0
    seat: float = 0.0
    rules: dict[str, dict[str, float]] = field(default_factory=_rules)
    hoi_weight: float = 0.0
    verb_states: dict[str, dict[str, float]] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _check(params: PoseParams, path: str | Path) -> None:
    for name in ("contact", "alone"):
        table = getattr(params, name)
        for g in GROUPS:
            if not _finite(table.get(g) if isinstance(table, dict) else None):
                raise DataError(f"missing or non-finite {name} weight of {g}", file=path, field=name)
    for k in RULE_STATES:
        rule = params.rules.get(k) if isinstance(params.rules, dict) else None
        if not isinstance(rule, dict) or not all(_finite(rule.get(x)) for x in ("weight", "offset")):
            raise DataError(f"rule {k} needs finite weight and offset", file=path, field="rules")
    for key in ("joint_threshold", "contact_scale", "evidence_min_logit", "reliability_power", "facing", "seat",
                "hoi_weight"):
        if not _finite(getattr(params, key)):
            raise DataError(f"{key} must be a finite number", file=path, field=key)
    verb_state_matrix(params.verb_states, path)


def load_pose_params(path: str | Path) -> PoseParams:
    """Read a Pose-PaSta parameter file written by :func:`save_pose_params`.

    Fields missing from an older file keep their neutral defaults (weight 0). Raises
    :class:`DataError` naming the file and field for anything else that is wrong.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"not a readable JSON file: {err}", file=path) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise DataError(f"expected a Pose-PaSta file with format {FORMAT!r}", file=path, field="format")
    raw.pop("format")
    try:
        params = PoseParams(**raw)
    except TypeError as err:
        raise DataError(f"bad Pose-PaSta parameters: {err}", file=path) from None
    if isinstance(params.rules, dict):
        params.rules = {**_rules(), **params.rules}
    _check(params, path)
    return params


def save_pose_params(params: PoseParams, path: str | Path) -> None:
    """Write ``params`` as indented, key-sorted JSON (so the file's bytes depend only on the numbers)."""
    Path(path).write_text(json.dumps({"format": FORMAT, **asdict(params)}, indent=1, sort_keys=True,
                                     allow_nan=False) + "\n", encoding="utf-8")


def verb_state_matrix(table: dict[str, dict[str, float]], path: str | Path = "<params>") -> np.ndarray:
    """(117, 76) float32 P(state | verb) from the ``verb_states`` table (absent entries 0).

    Raises:
        DataError: an unknown verb or state name, or a value outside [0, 1].
    """
    vocab = load_vocab()
    names = {f"{g}:{s}": i for i, (g, s) in enumerate(vocab.pasta["pasta76"])}
    verbs = {v: i for i, v in enumerate(vocab.verbs117)}
    out = np.zeros((len(verbs), len(names)), np.float32)
    if not isinstance(table, dict):
        raise DataError("verb_states must map verbs to {state: probability}", file=path, field="verb_states")
    for verb, row in table.items():
        if verb not in verbs or not isinstance(row, dict):
            raise DataError(f"unknown verb {verb!r}", file=path, record=verb, field="verb_states")
        for state, value in row.items():
            if state not in names or not _finite(value) or not 0 <= value <= 1:
                raise DataError(f"bad state {state!r} or probability {value!r}", file=path, record=verb,
                                field="verb_states")
            out[verbs[verb], names[state]] = value
    return out
