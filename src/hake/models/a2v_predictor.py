"""Saving, loading and serving trained Activity2Vec (+ PaSta-R) models.

The weight file is one safetensors file: tensors ``a2v.*`` (and ``reasoner.*`` after stage 2),
metadata ``format = hake-a2v-v1``, ``spec`` (the :class:`A2VSpec` JSON) and ``reasoner`` (PaSta-R
kind, input widths, output size and label space) — no side files. :class:`A2VPredictor`
implements the :class:`~hake.models.interface.PastaModel` protocol so the inference pipeline
can use it (``--weights FILE``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hake.errors import DataError, HakeError
from hake.models.activity2vec import A2VSpec, Activity2Vec
from hake.models.weights_io import build_checked, module_device, read_weights, save_weights
from hake.structures.contracts import PairBatch, PastaOutput
from hake.vocab import load

FORMAT = "hake-a2v-v1"


class Reasoner(nn.Module):
    """PaSta-R on six group inputs and the object one-hot, giving (N, n_out) logits.

    Args:
        kind: PaSta-R kind (``linear``, ``mlp``, ``gcn``, ``seq``, ``tree``).
        in_dims: widths of the six group inputs.
        n_out: size of the label space predicted.
    """

    def __init__(self, kind: str, in_dims: list[int], n_out: int) -> None:
        super().__init__()
        from hake.models.pasta_r import InSpec, PastaR

        self.kind, self.in_dims, self.n_out = kind, list(in_dims), n_out
        self.net = PastaR(kind, InSpec(tuple(in_dims), n_objects=80), out_dim=n_out, n_verbs=0)

    def forward(self, groups: list[torch.Tensor], obj: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(groups, obj=obj)["hoi"]

    def last_fc(self) -> str:
        """Name of the last ``nn.Linear`` producing the ``n_out`` logits (replaced in transfer)."""
        names = [n for n, m in self.named_modules() if isinstance(m, nn.Linear) and m.out_features == self.n_out]
        if not names:
            raise HakeError(f"PaSta-R {self.kind!r} has no final Linear with {self.n_out} outputs")
        return names[-1]

    def meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "in_dims": self.in_dims, "n_out": self.n_out}


def build_reasoner(cfg: Any, gt: bool, n_out: int) -> Reasoner:
    """PaSta-R for a training config: on ``f_pasta`` groups, or on GT PaSta vectors (``gt``)."""
    if gt:
        dims = list(load().group_sizes(cfg.model.pasta))
    else:
        extra = cfg.model.language_dim if cfg.model.language else 0
        dims = [cfg.model.hidden + extra] * 6
    return Reasoner(cfg.train.reasoner, dims, n_out)


def save_model(path: str | Path, a2v: Activity2Vec, reasoner: Reasoner | None, cfg: Any | None = None) -> None:
    """Write Activity2Vec (+ PaSta-R) weights and their architecture to one safetensors file."""
    tensors = {f"a2v.{k}": v for k, v in a2v.state_dict().items()}
    meta = {"format": FORMAT, "spec": a2v.spec.to_json()}
    if reasoner is not None:
        tensors.update({f"reasoner.{k}": v for k, v in reasoner.state_dict().items()})
        default = "hoi600" if reasoner.n_out == len(load().hois) else "verb117"
        target = getattr(getattr(cfg, "train", None), "target", default)
        meta["reasoner"] = json.dumps({**reasoner.meta(), "target": target})
    save_weights(path, tensors, meta)


def load_state(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, str]]:
    """(Activity2Vec state, PaSta-R state (maybe empty), metadata) of a weight file."""
    tensors, meta = read_weights(path)
    if meta.get("format") != FORMAT:
        raise HakeError(f"{path}: not an Activity2Vec weight file (metadata format != {FORMAT})")
    a2v = {k[4:]: v for k, v in tensors.items() if k.startswith("a2v.")}
    reasoner = {k[9:]: v for k, v in tensors.items() if k.startswith("reasoner.")}
    return a2v, reasoner, meta


def _reasoner_meta(text: str | None, path: str | Path) -> dict[str, Any]:
    """The ``reasoner`` metadata entry, its types and sizes checked before anything is allocated."""
    try:
        rm = json.loads(text) if text is not None else None
    except (TypeError, ValueError, OverflowError, RecursionError):
        rm = None
    dims = rm.get("in_dims") if isinstance(rm, dict) else None
    n_out = rm.get("n_out") if isinstance(rm, dict) else None
    if (not isinstance(rm, dict) or not isinstance(rm.get("kind"), str) or not isinstance(dims, list)
            or len(dims) != 6 or not all(isinstance(d, int) and 0 < d <= 100_000 for d in dims)
            or not isinstance(n_out, int) or not 0 < n_out <= 10_000):
        raise DataError("expected {kind, in_dims: 6 widths in 1..100000, n_out in 1..10000}", file=path,
                        field="reasoner")
    return rm


class A2VPredictor:
    """A trained Activity2Vec (+ PaSta-R) serving :class:`PairBatch` -> :class:`PastaOutput`."""

    def __init__(self, a2v: Activity2Vec, reasoner: Reasoner | None = None, target: str = "verb117") -> None:
        self.a2v = a2v.eval()
        self.reasoner = reasoner.eval() if reasoner is not None else None
        self.target = target

    def to(self, device: str | torch.device) -> A2VPredictor:
        """Move Activity2Vec and PaSta-R to ``device``; :meth:`predict` then runs there."""
        self.a2v.to(device)
        if self.reasoner is not None:
            self.reasoner.to(device)
        return self

    @classmethod
    def load(cls, path: str | Path) -> A2VPredictor:
        """Build the model a weight file describes and load its tensors.

        Raises:
            HakeError / DataError: not an Activity2Vec file, a damaged ``spec`` or ``reasoner``
                entry, one asking for more than :data:`~hake.models.weights_io.MAX_PARAMS` parameters,
                or tensors that are missing, extra or of the wrong shape (all naming the file; checked
                on the ``meta`` device before anything is allocated).
        """
        a2v_state, r_state, meta = load_state(path)
        if "spec" not in meta:
            raise DataError("metadata has no spec", file=path, field="spec")
        spec = A2VSpec.from_json(meta["spec"], str(path))
        spec.pretrained = False  # the file holds the trained backbone
        phrases = a2v_state.get("phrases")
        # each part is built on the meta device first and checked against the stored tensors
        a2v = build_checked(lambda: Activity2Vec(spec, phrase_table=phrases), a2v_state, path, "spec")
        reasoner, target = None, "verb117"
        if r_state:
            rm = _reasoner_meta(meta.get("reasoner"), path)
            reasoner = build_checked(lambda: Reasoner(rm["kind"], rm["in_dims"], rm["n_out"]), r_state, path,
                                     "reasoner")
            target = str(rm.get("target", "verb117"))
        return cls(a2v, reasoner, target)

    def tensors(self, batch: PairBatch) -> dict[str, torch.Tensor]:
        """Model inputs of a pair batch (image resized so its longer side is ``spec.image_size``)."""
        from hake.geometry import part_boxes, pose_map

        if batch.image is None:
            raise HakeError("Activity2Vec looks at pixels: PairBatch.image is required")
        import cv2

        h, w = batch.image.shape[:2]
        s = self.a2v.spec.image_size / max(h, w)
        img = cv2.resize(batch.image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        bh = np.asarray(batch.boxes_h, np.float32).reshape(-1, 4)
        kps = batch.keypoints
        if batch.part_boxes is not None:
            pb = np.asarray(batch.part_boxes, np.float32)
        elif kps is not None:
            pb = np.asarray(part_boxes(kps, bh, (w, h)), np.float32)
        else:
            pb = np.repeat(bh[:, None], 10, 1)
        maps = np.asarray(pose_map(kps, bh, size=64), np.float32) if kps is not None else \
            np.zeros((len(bh), 64, 64), np.float32)
        return {
            "images": torch.from_numpy(img.astype(np.float32).transpose(2, 0, 1) / 255.0)[None],
            "boxes_h": torch.from_numpy(bh * s), "boxes_o": torch.from_numpy(np.asarray(batch.boxes_o, np.float32) * s),
            "part_boxes": torch.from_numpy(pb.reshape(-1, 10, 4) * s), "pose_maps": torch.from_numpy(maps),
            "batch_index": torch.zeros(len(bh), dtype=torch.int64),
        }

    @torch.no_grad()
    def predict(self, batch: PairBatch) -> PastaOutput:
        """PaSta-76, HOI-600 and verb-117 probabilities of every pair (see :class:`PastaOutput`)."""
        if self.a2v.spec.pasta != "pasta76":
            raise HakeError("PastaOutput holds PaSta-76; this model predicts " + self.a2v.spec.pasta)
        vocab = load()
        labels = np.asarray(batch.object_labels, np.int64).reshape(-1)
        device = module_device(self.a2v)  # honours .to(device)
        t = {k: v.to(device) for k, v in self.tensors(batch).items()}
        out = self.a2v(**t)
        verb = out.p_verb.cpu().numpy().astype(np.float32)
        hoi = None
        if self.reasoner is not None:
            obj = torch.zeros(len(labels), 80)
            has = labels >= 0
            obj[torch.from_numpy(np.flatnonzero(has)), torch.from_numpy(labels[has])] = 1
            scores = torch.sigmoid(self.reasoner(out.groups, obj.to(device))).cpu().numpy().astype(np.float32)
            if self.target == "hoi600":
                hoi = scores
            else:
                verb = scores
        if hoi is None:  # an HOI's score is its verb's score for pairs with that object
            hoi = verb[:, vocab.hoi_verb]
        hoi = hoi * (vocab.hoi_object[None, :] == labels[:, None])
        return PastaOutput(pasta=out.p_pasta.cpu().numpy().astype(np.float32), hoi=hoi.astype(np.float32), verb=verb)
