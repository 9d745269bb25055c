"""Pose-PaSta: part states from the body, with Spatial-PaSta as prior and fallback.

Per human-object pair, Spatial-PaSta (:mod:`hake.models.spatial`) gives PaSta-76 logits from the box
layout and the object class. Pose-PaSta adds, state by state, a logit shift computed from the body
evidence of :mod:`hake.models.pose_pasta.evidence` — only where the joints it needs are reliable:

- contact (every group): states of group ``g`` that can occur with the pair's object get
  ``w_g · (2·contact_g − 1)`` (near → up, far → down), that group's ``no_interaction`` the opposite;
- facing: the head's object states get ``w_face · facing``;
- posture rules (``sit``: hip "sit on"; ``stand``: foot "stand on"; ``raise``: hand
  "raise(over head)") get ``w · (feature − offset)`` on every pair of the person.

The shifted PaSta probabilities go through Spatial-PaSta's own PaSta-R head, so HOIs follow the
body too. Each state of each pair says which evidence set it (:data:`EVIDENCE`): ``pose`` when the
shift is at least ``evidence_min_logit`` in size, else ``layout`` for a pair with an object and
``prior`` for the no-object pair (the layout model's person-alone prior).

All parameters are in one readable JSON file (:class:`PoseParams`), fitted by
``tools/fit_pose_pasta.py``; nothing else is learned.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hake.errors import DataError
from hake.models.pasta_r import split_groups
from hake.models.pose_pasta.evidence import BodyEvidence, body_evidence
from hake.models.spatial import N_OBJECTS, SpatialPasta
from hake.models.weights_io import module_device
from hake.structures.contracts import EVIDENCE, PairBatch, PastaOutput
from hake.vocab.core import load as load_vocab

__all__ = ["PoseParams", "PosePasta", "RULE_STATES", "load_pose_params", "save_pose_params", "pose_shift"]

FORMAT = "hake.pose_pasta/1"
#: The state each posture rule moves, as (group, state name in PaSta-76).
RULE_STATES: dict[str, tuple[str, str]] = {
    "sit": ("hip", "sit on"), "stand": ("foot", "stand on"), "raise": ("hand", "raise(over head)"),
}
GROUPS = ("foot", "leg", "hip", "hand", "arm", "head")


@dataclass
class PoseParams:
    """Every parameter of Pose-PaSta (weights are logit shifts; lengths in person units).

    Attributes:
        layout_model: zoo name of the Spatial-PaSta model used as prior and fallback.
        joint_threshold: a joint counts when its pose score is at least this.
        contact_scale: contact = exp(-distance / contact_scale).
        evidence_min_logit: a shift at least this large marks a state ``pose``.
        contact: per group, the weight of the contact evidence.
        facing: weight of the head's facing towards the object on the head's object states.
        rules: per posture rule (:data:`RULE_STATES`) ``{"weight": w, "offset": t}``.
        fit: how the numbers were obtained (data, folds, scores); informational.
    """

    layout_model: str = "spatial_pasta.hake_hicodet"
    joint_threshold: float = 0.3
    contact_scale: float = 0.1
    evidence_min_logit: float = 0.5
    contact: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GROUPS, 0.0))
    facing: float = 0.0
    rules: dict[str, dict[str, float]] = field(
        default_factory=lambda: {k: {"weight": 0.0, "offset": 0.5} for k in RULE_STATES})
    fit: dict[str, Any] = field(default_factory=dict)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def load_pose_params(path: str | Path) -> PoseParams:
    """Read a Pose-PaSta parameter file written by :func:`save_pose_params`."""
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
    for g in GROUPS:
        if not _finite(params.contact.get(g) if isinstance(params.contact, dict) else None):
            raise DataError(f"missing or non-finite contact weight of {g}", file=path, field="contact")
    for k in RULE_STATES:
        rule = params.rules.get(k) if isinstance(params.rules, dict) else None
        if not isinstance(rule, dict) or not all(_finite(rule.get(x)) for x in ("weight", "offset")):
            raise DataError(f"rule {k} needs finite weight and offset", file=path, field="rules")
    for key in ("joint_threshold", "contact_scale", "evidence_min_logit", "facing"):
        if not _finite(getattr(params, key)):
            raise DataError(f"{key} must be a finite number", file=path, field=key)
    return params


def save_pose_params(params: PoseParams, path: str | Path) -> None:
    """Write ``params`` as indented, key-sorted JSON (so the file's bytes depend only on the numbers)."""
    Path(path).write_text(json.dumps({"format": FORMAT, **asdict(params)}, indent=1, sort_keys=True) + "\n",
                          encoding="utf-8")


def pose_shift(ev: BodyEvidence, objects: np.ndarray, params: PoseParams) -> np.ndarray:
    """(P, 76) float32 PaSta-76 logit shifts of P pairs from their body evidence (0 where unreliable).

    Args:
        ev: the pairs' :class:`BodyEvidence`.
        objects: (P,) int64 HICO object 0..79, -1 for none.
    """
    vocab = load_vocab()
    slices = vocab.pasta_slices("pasta76")
    names = vocab.pasta["pasta76"]
    n = len(objects)
    shift = np.zeros((n, len(names)), np.float32)
    allowed = np.zeros((n, len(names)), bool)
    has = objects >= 0
    allowed[has] = vocab.pasta76_object_mask[:, objects[has]].T
    for g, sl in slices.items():
        inter = allowed[:, sl.start:sl.stop - 1]
        delta = np.where(ev.contact_ok[g], params.contact[g] * (2 * ev.contact[g] - 1), 0).astype(np.float32)
        shift[:, sl.start:sl.stop - 1] += np.where(inter, delta[:, None], 0)
        shift[:, sl.stop - 1] -= np.where(inter.any(axis=1), delta, 0)
    head = slices["head"]
    face = np.where(ev.facing_ok, params.facing * ev.facing, 0)
    shift[:, head.start:head.stop - 1] += np.where(allowed[:, head.start:head.stop - 1], face[:, None], 0)
    feats = {"sit": (ev.sit, ev.sit_ok), "stand": (ev.stand, ev.stand_ok), "raise": (ev.raise_, ev.raise_ok)}
    for rule, (group, state) in RULE_STATES.items():
        idx = names.index((group, state))
        value, ok = feats[rule]
        r = params.rules[rule]
        shift[:, idx] += np.where(ok, r["weight"] * (value - r["offset"]), 0)
    return shift


class PosePasta:
    """Spatial-PaSta layout logits + body-evidence shifts -> PaSta-76, then Spatial-PaSta's PaSta-R -> HOIs.

    Implements :class:`~hake.structures.contracts.PastaModel`; ``PastaOutput.evidence`` is filled.
    Without keypoints in the batch it returns Spatial-PaSta's output with evidence ``layout``/``prior``.
    """

    def __init__(self, layout: SpatialPasta, params: PoseParams) -> None:
        self.layout = layout.eval()
        self.params = params

    def to(self, device: str) -> PosePasta:
        """Move the layout model to ``device``; returns self."""
        self.layout.to(device)
        return self

    @torch.no_grad()
    def layout_logits(self, batch: PairBatch) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """(pasta logits (P, 76), six group features, object tensor) of Spatial-PaSta for ``batch``."""
        m = self.layout
        layout, maps, obj = (t.to(module_device(m)) for t in
                             m.inputs(batch.boxes_h, batch.boxes_o, batch.image_size, batch.object_labels))
        mean, std = torch.as_tensor(m.layout_mean), torch.as_tensor(m.layout_std)
        x = (layout - mean) / std
        obj_idx = torch.where(obj < 0, torch.full_like(obj, N_OBJECTS), obj)
        h = m.trunk(torch.cat([m.layout_mlp(x), m.map_cnn(maps), m.obj_embed(obj_idx)], 1))
        return m.pasta_head(h), list(m.group_feat(h).chunk(6, dim=1)), obj

    @torch.no_grad()
    def reason(self, pasta_logits: torch.Tensor, feats: list[torch.Tensor], obj: torch.Tensor) -> PastaOutput:
        """PaSta-76, HOI and verb probabilities from (P, 76) PaSta logits through the layout model's PaSta-R."""
        m = self.layout
        groups = [torch.cat([p, f], 1) for p, f in zip(split_groups(torch.sigmoid(pasta_logits)), feats)]
        one_hot = torch.nn.functional.one_hot(obj.clamp(min=0), N_OBJECTS).to(pasta_logits.dtype) * (obj >= 0)[:, None]
        out = m.reasoner(groups, obj=one_hot)
        probs = m.probabilities({"pasta": pasta_logits, "hoi": out["hoi"], "verb": out["verb"]}, obj)
        return PastaOutput(*(p.cpu().numpy().astype(np.float32) for p in probs))

    def shifts(self, batch: PairBatch) -> np.ndarray:
        """(P, 76) logit shifts of the batch's pairs (zeros without keypoints)."""
        n = len(batch)
        objects = np.asarray(batch.object_labels, np.int64)
        if batch.keypoints is None:
            return np.zeros((n, 76), np.float32)
        kp = np.asarray(batch.keypoints, np.float32)
        if kp.shape != (n, 17, 3) or not np.isfinite(kp).all():
            raise DataError(f"expected ({n}, 17, 3) finite keypoints, got shape {kp.shape}", field="keypoints")
        p = self.params
        ev = body_evidence(kp, batch.boxes_h, batch.boxes_o, objects >= 0, p.joint_threshold, p.contact_scale)
        return pose_shift(ev, objects, p)

    def predict(self, batch: PairBatch) -> PastaOutput:
        """PaSta-76, 600 HOI and 117 verb probabilities of every pair, with per-state evidence codes."""
        n = len(batch)
        if n == 0:
            empty = self.layout.predict(batch)
            empty.evidence = np.zeros((0, 76), np.int8)
            return empty
        self.layout.predict(batch)  # validates boxes and labels with Spatial-PaSta's messages
        logits, feats, obj = self.layout_logits(batch)
        shift = self.shifts(batch)
        out = self.reason(logits + torch.from_numpy(shift).to(logits.device), feats, obj)
        objects = np.asarray(batch.object_labels, np.int64)
        code = np.where(objects[:, None] >= 0, EVIDENCE.index("layout"), EVIDENCE.index("prior"))
        code = np.where(np.abs(shift) >= self.params.evidence_min_logit, EVIDENCE.index("pose"), code)
        out.evidence = code.astype(np.int8)
        return out
