"""Pose-PaSta: part states from the body, with Spatial-PaSta as prior and fallback.

Per human-object pair, Spatial-PaSta (:mod:`hake.models.spatial`) gives PaSta-76 logits from the box
layout and the object class. Pose-PaSta adds, state by state, the logit shifts of
:mod:`hake.models.pose_pasta.shifts` computed from the body evidence of
:mod:`hake.models.pose_pasta.evidence` — only where the joints they need are reliable (contact of
each part with the object, whether any object touches the part for the person-only pair, facing,
hips on the object, posture rules). The shifted PaSta probabilities go through Spatial-PaSta's own
PaSta-R head, and each HOI's probability is then moved in log-odds by the shifts of the states its
verb involves (P(state | verb) counted on HAKE-HICO-DET), so HOIs follow the body too. Each state
of each pair says which evidence set it (:data:`EVIDENCE`): ``pose`` when the shift is at least
``evidence_min_logit`` in size, else ``layout`` for a pair with an object and ``prior`` for the
no-object pair (the layout model's person-alone prior).

All parameters are in one readable JSON file (:class:`PoseParams`), fitted by
``tools/fit_pose_pasta.py``; nothing else is learned.
"""

from __future__ import annotations

import numpy as np
import torch

from hake.errors import DataError
from hake.models.pasta_r import split_groups
from hake.models.pose_pasta.evidence import body_evidence
from hake.models.pose_pasta.params import PoseParams, verb_state_matrix
from hake.models.pose_pasta.shifts import hoi_shift, person_index, pose_shift
from hake.models.spatial import N_OBJECTS, SpatialPasta
from hake.models.weights_io import module_device
from hake.structures.contracts import EVIDENCE, PairBatch, PastaOutput

__all__ = ["PosePasta"]


class PosePasta:
    """Spatial-PaSta layout logits + body-evidence shifts -> PaSta-76, then Spatial-PaSta's PaSta-R -> HOIs.

    Implements :class:`~hake.structures.contracts.PastaModel`; ``PastaOutput.evidence`` is filled.
    Without keypoints in the batch it returns Spatial-PaSta's output with evidence ``layout``/``prior``.
    """

    def __init__(self, layout: SpatialPasta, params: PoseParams) -> None:
        self.layout = layout.eval()
        self.params = params
        self.verb_states = verb_state_matrix(params.verb_states)

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
        parts = [m.layout_mlp(x), m.map_cnn(maps), m.obj_embed(obj_idx)]
        context_mlp = getattr(m, "context_mlp", None)
        if context_mlp is not None:  # a layout model with image context: none given, as in its predict()
            parts.append(context_mlp(torch.zeros(len(x), m.config.context_dim, dtype=x.dtype, device=x.device)))
        h = m.trunk(torch.cat(parts, 1))
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
        return pose_shift(ev, objects, p, person_index(batch.boxes_h, kp))

    def adjust_hois(self, out: PastaOutput, shift: np.ndarray, objects: np.ndarray) -> PastaOutput:
        """``out`` with each HOI probability moved in log-odds by :func:`hoi_shift` (zeros stay zero)."""
        delta = hoi_shift(shift, objects, self.verb_states, self.params.hoi_weight)
        p = np.clip(np.asarray(out.hoi, np.float64), 1e-7, 1 - 1e-7)
        moved = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + delta)))
        out.hoi = np.where(np.asarray(out.hoi) > 0, moved, 0).astype(np.float32)
        return out

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
        out = self.adjust_hois(out, shift, objects)
        code = np.where(objects[:, None] >= 0, EVIDENCE.index("layout"), EVIDENCE.index("prior"))
        code = np.where(np.abs(shift) >= self.params.evidence_min_logit, EVIDENCE.index("pose"), code)
        out.evidence = code.astype(np.int8)
        return out
