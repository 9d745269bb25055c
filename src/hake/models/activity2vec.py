"""Activity2Vec: body-part states (PaSta) and a per-instance representation from pixels.

One *instance* is a human (optionally paired with an object) in one image. For each instance the
model pools backbone features with RoIAlign over 13 boxes (person, 10 parts, object, union),
adds the image's scene feature and a pose-map stream, and runs six part-group heads
(feature → 512 → 512 → states). Outputs per instance:

- ``p_pasta`` (N, n_pasta): PaSta probabilities (PaSta-76 or -93 order, groups foot..head);
- ``p_verb`` (N, n_verbs): verb probabilities (117 or 157);
- ``f_pasta`` (N, 6·(512 + L)): per group the 512-d visual feature ‖ the language feature
  ``p_k @ E_k`` (E_k: the group's phrase embeddings, L = 384), the input of PaSta-R.

Boxes are x1, y1, x2, y2 in pixels of the input tensor, 0-based. Images are (B, 3, H, W) floats in
[0, 1]; the model normalises them itself. Instances of all images are concatenated and carry
their image's index in ``batch_index``, so images may hold any number of persons (also 0).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torchvision.ops import roi_align

from hake.errors import DataError
from hake.models.backbones import IMAGENET_MEAN, IMAGENET_STD, build_backbone
from hake.vocab import load
from hake.vocab.core import GROUPS

#: Order of the pooled boxes of one instance.
ROI_PERSON, ROI_PARTS, ROI_OBJECT, ROI_UNION = 0, slice(1, 11), 11, 12
N_ROIS = 13


@dataclass
class A2VSpec:
    """Architecture of an Activity2Vec model (stored in the weight file's metadata).

    Attributes:
        backbone: ``efficientnet_lite0`` | ``resnet50`` | ``timm:<name>`` | ``tiny``.
        pretrained: start the backbone from its ImageNet weights (EfficientNet-Lite0 only).
        pasta: PaSta label space, ``pasta76`` or ``pasta93``.
        n_verbs: verb label space size, 117 (HICO) or 157 (HAKE 2.0).
        neck: channels after the 3×3 convolution on the backbone map.
        roi_size: RoIAlign output size (pixels of the feature map grid), average-pooled after.
        hidden: width of the part-group heads (HAKE: 512).
        pose: use the 64×64 pose-map stream.
        scene: use the whole-image (scene) feature.
        language: append the PaSta phrase-embedding feature to ``f_pasta``.
        language_dim: width of the phrase embeddings.
        image_size: longer image side the predictor resizes to, pixels.
    """

    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    pasta: str = "pasta76"
    n_verbs: int = 117
    neck: int = 256
    roi_size: int = 5
    hidden: int = 512
    pose: bool = True
    scene: bool = True
    language: bool = True
    language_dim: int = 384
    image_size: int = 512

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "<memory>") -> A2VSpec:
        """The spec stored in a weight file, every field checked (type and a sane range, so a
        damaged spec cannot ask for gigabytes before the weights are read).

        Raises:
            DataError: not JSON, unknown value or a size out of range, naming ``where`` and the field.
        """
        try:
            raw = json.loads(text)
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise DataError("spec is not JSON", file=where, field="spec") from None
        if not isinstance(raw, dict):
            raise DataError("spec must be a JSON object", file=where, field="spec")
        spec = cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})
        for name, (lo, hi) in _SPEC_RANGES.items():
            value = getattr(spec, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise DataError(f"expected an integer in {lo}..{hi}, got {value!r}", file=where, record="spec",
                                field=name)
        for name in ("pretrained", "pose", "scene", "language"):
            if not isinstance(getattr(spec, name), bool):
                raise DataError(f"expected true or false, got {getattr(spec, name)!r}", file=where, record="spec",
                                field=name)
        if spec.pasta not in ("pasta76", "pasta93") or spec.n_verbs not in (117, 157):
            raise DataError(f"unknown label space {spec.pasta!r} / {spec.n_verbs} verbs", file=where, record="spec",
                            field="pasta")
        if not isinstance(spec.backbone, str):
            raise DataError("backbone must be a name", file=where, record="spec", field="backbone")
        return spec


#: Ranges an :class:`A2VSpec` read from a file must respect.
_SPEC_RANGES: dict[str, tuple[int, int]] = {
    "n_verbs": (1, 1000), "neck": (1, 4096), "roi_size": (1, 32), "hidden": (1, 8192),
    "language_dim": (1, 4096), "image_size": (32, 4096),
}


@dataclass
class A2VOutput:
    """Per-instance outputs (N instances). Logits are pre-sigmoid."""

    f_pasta: torch.Tensor
    p_pasta: torch.Tensor
    p_verb: torch.Tensor
    pasta_logits: torch.Tensor
    verb_logits: torch.Tensor
    groups: list[torch.Tensor]


class PoseStream(nn.Module):
    """(N, 64, 64) pose maps in [0, 1] -> (N, out) features."""

    def __init__(self, out: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 5, 2, 2), nn.ReLU(), nn.Conv2d(16, 32, 5, 2, 2), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(32 * 16, out), nn.ReLU(),
        )

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.net(maps[:, None].float())


def union_boxes(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 4) smallest boxes enclosing both ``a`` and ``b`` (x1y1x2y2)."""
    return torch.cat([torch.minimum(a[:, :2], b[:, :2]), torch.maximum(a[:, 2:], b[:, 2:])], 1)


def instance_rois(boxes_h: torch.Tensor, boxes_o: torch.Tensor, part_boxes: torch.Tensor,
                  batch_index: torch.Tensor) -> torch.Tensor:
    """(N·13, 5) RoIAlign rows ``(image index, x1, y1, x2, y2)`` in :data:`N_ROIS` order per instance."""
    n = boxes_h.shape[0]
    boxes = torch.cat([boxes_h[:, None], part_boxes, boxes_o[:, None], union_boxes(boxes_h, boxes_o)[:, None]], 1)
    idx = batch_index.to(boxes.dtype)[:, None, None].expand(n, N_ROIS, 1)
    return torch.cat([idx, boxes], 2).reshape(n * N_ROIS, 5)


class Activity2Vec(nn.Module):
    """The Activity2Vec network (see the module docstring for inputs and outputs)."""

    def __init__(self, spec: A2VSpec | None = None, phrase_table: torch.Tensor | None = None) -> None:
        super().__init__()
        self.spec = spec = spec or A2VSpec()
        vocab = load()
        self.group_sizes = vocab.group_sizes(spec.pasta)
        self.slices = [vocab.pasta_slices(spec.pasta)[g] for g in GROUPS]
        self.group_parts = [vocab.groups[g] for g in GROUPS]
        self.backbone = build_backbone(spec.backbone, spec.pretrained)
        self.neck = nn.Sequential(nn.Conv2d(self.backbone.out_channels, spec.neck, 3, 1, 1), nn.ReLU())
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.pose_stream = PoseStream() if spec.pose else None
        d_in = spec.neck * (4 + int(spec.scene)) + (64 if spec.pose else 0)
        self.heads = nn.ModuleList([
            nn.Sequential(nn.Linear(d_in, spec.hidden), nn.ReLU(), nn.Linear(spec.hidden, spec.hidden), nn.ReLU())
            for _ in GROUPS
        ])
        self.state_fcs = nn.ModuleList([nn.Linear(spec.hidden, n) for n in self.group_sizes])
        self.verb_head = nn.Sequential(
            nn.Linear(6 * spec.hidden + spec.neck, spec.hidden), nn.ReLU(), nn.Linear(spec.hidden, spec.n_verbs))
        if spec.language:
            if phrase_table is None:
                from hake.models.language import phrase_embeddings

                phrase_table = torch.as_tensor(phrase_embeddings(spec.pasta), dtype=torch.float32)
            self.register_buffer("phrases", phrase_table.float().reshape(sum(self.group_sizes), spec.language_dim))
        else:
            self.phrases = None

    @property
    def group_dims(self) -> list[int]:
        """Width of each group's slice of ``f_pasta``."""
        extra = self.spec.language_dim if self.spec.language else 0
        return [self.spec.hidden + extra] * len(GROUPS)

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """(B, neck, H/stride, W/stride) features of (B, 3, H, W) images in [0, 1]."""
        return self.neck(self.backbone((images - self.mean) / self.std))

    def pool(self, fmap: torch.Tensor, boxes_h: torch.Tensor, boxes_o: torch.Tensor, part_boxes: torch.Tensor,
             batch_index: torch.Tensor) -> torch.Tensor:
        """(N, 13, neck) RoIAlign features (mean over the ``roi_size``² grid) of every instance box."""
        rois = instance_rois(boxes_h.float(), boxes_o.float(), part_boxes.float(), batch_index)
        pooled = roi_align(fmap, rois.to(fmap.dtype), self.spec.roi_size, 1.0 / self.backbone.stride,
                           sampling_ratio=2, aligned=True)
        return pooled.mean((2, 3)).reshape(boxes_h.shape[0], N_ROIS, fmap.shape[1])

    def instance_features(self, fmap: torch.Tensor, boxes_h: torch.Tensor, boxes_o: torch.Tensor,
                          part_boxes: torch.Tensor, batch_index: torch.Tensor,
                          pose_maps: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Per-group head inputs (six (N, d_in)) and the person feature (N, neck)."""
        roi = self.pool(fmap, boxes_h, boxes_o, part_boxes, batch_index)
        ctx = [roi[:, ROI_PERSON], roi[:, ROI_OBJECT], roi[:, ROI_UNION]]
        if self.spec.scene:
            ctx.append(fmap.mean((2, 3))[batch_index])
        if self.pose_stream is not None:
            if pose_maps is None:
                pose_maps = fmap.new_zeros(boxes_h.shape[0], 64, 64)
            ctx.append(self.pose_stream(pose_maps.to(fmap.dtype)))
        ctx_t = torch.cat(ctx, 1)
        parts = roi[:, ROI_PARTS]
        per_group = [torch.cat([parts[:, list(p)].amax(1), ctx_t], 1) for p in self.group_parts]
        return per_group, roi[:, ROI_PERSON]

    def heads_forward(self, per_group: list[torch.Tensor], person: torch.Tensor) -> A2VOutput:
        """Run the six group heads and the verb head on :meth:`instance_features` output."""
        hidden = [head(x) for head, x in zip(self.heads, per_group)]
        logits = torch.cat([fc(h) for fc, h in zip(self.state_fcs, hidden)], 1)
        p_pasta = torch.sigmoid(logits)
        verb_logits = self.verb_head(torch.cat([*hidden, person], 1))
        groups = hidden
        if self.phrases is not None:
            groups = [torch.cat([h, p_pasta[:, s] @ self.phrases[s].to(h.dtype)], 1)
                      for h, s in zip(hidden, self.slices)]
        return A2VOutput(f_pasta=torch.cat(groups, 1), p_pasta=p_pasta, p_verb=torch.sigmoid(verb_logits),
                         pasta_logits=logits, verb_logits=verb_logits, groups=groups)

    def forward(self, images: torch.Tensor, boxes_h: torch.Tensor, boxes_o: torch.Tensor,
                part_boxes: torch.Tensor, batch_index: torch.Tensor,
                pose_maps: torch.Tensor | None = None) -> A2VOutput:
        """Args: images (B, 3, H, W) in [0, 1]; boxes_h, boxes_o (N, 4); part_boxes (N, 10, 4);
        batch_index (N,) int64 image of each instance; pose_maps (N, 64, 64) in [0, 1] or None."""
        fmap = self.feature_map(images)
        per_group, person = self.instance_features(fmap, boxes_h, boxes_o, part_boxes, batch_index, pose_maps)
        return self.heads_forward(per_group, person)
