"""Instance-level streams on Activity2Vec's RoI features, fused late with :class:`~hake.models.fusion.LateFusion`.

- ``human``: person RoI feature → MLP (the iCAN/TIN human stream);
- ``object``: object ‖ union RoI features → MLP (object stream);
- ``spatial``: the 2×64×64 interaction pattern of the pair (human and object boxes drawn in their
  union box, as iCAN/TIN) → small CNN;
- ``pairwise``: attention over the ten part features ‖ person feature → MLP (the image-level
  "Pairwise body-part attention" stream).

Inputs are the ``roi`` rows of Activity2Vec (:meth:`Activity2Vec.pool` or the feature cache):
(N, 13, C) in the order person, 10 parts, object, union; boxes x1y1x2y2 pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from hake.models.activity2vec import ROI_OBJECT, ROI_PARTS, ROI_PERSON, ROI_UNION, union_boxes

STREAMS = ("human", "object", "spatial", "pairwise")


def interaction_maps(boxes_h: torch.Tensor, boxes_o: torch.Tensor, size: int = 64) -> torch.Tensor:
    """(N, 2, size, size) binary maps: channel 0 the human box, 1 the object box, in the union box frame.

    A map cell (row i, column j) covers ``[x1 + j·w/size, x1 + (j+1)·w/size)`` of the union box; it is 1
    when its centre lies inside the box.
    """
    u = union_boxes(boxes_h, boxes_o)
    wh = (u[:, 2:] - u[:, :2]).clamp(min=1e-6)
    centres = (torch.arange(size, dtype=boxes_h.dtype, device=boxes_h.device) + 0.5) / size
    xs = u[:, None, 0] + centres[None] * wh[:, None, 0]  # (N, size)
    ys = u[:, None, 1] + centres[None] * wh[:, None, 1]
    maps = []
    for b in (boxes_h, boxes_o):
        inx = (xs >= b[:, None, 0]) & (xs <= b[:, None, 2])
        iny = (ys >= b[:, None, 1]) & (ys <= b[:, None, 3])
        maps.append((iny[:, :, None] & inx[:, None, :]).to(boxes_h.dtype))
    return torch.stack(maps, 1)


def _mlp(d_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


class PairStreams(nn.Module):
    """The four instance-level streams, each giving (N, n_out) logits.

    Args:
        channels: C of the RoI features.
        n_out: size of the label space (600 HOIs, 117 verbs, ...).
        hidden: MLP width.
        streams: which streams to build (subset of :data:`STREAMS`).
    """

    def __init__(self, channels: int, n_out: int, hidden: int = 256, streams: tuple[str, ...] = STREAMS) -> None:
        super().__init__()
        self.streams, self.channels, self.n_out = tuple(streams), channels, n_out
        self.human = _mlp(channels, hidden, n_out) if "human" in streams else None
        self.object = _mlp(2 * channels, hidden, n_out) if "object" in streams else None
        self.spatial = nn.Sequential(
            nn.Conv2d(2, 16, 5, 2, 2), nn.ReLU(), nn.Conv2d(16, 32, 5, 2, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
            nn.Flatten(), _mlp(32 * 16, hidden, n_out)) if "spatial" in streams else None
        if "pairwise" in streams:
            self.attention = nn.Linear(channels, 1)
            self.pairwise = _mlp(2 * channels, hidden, n_out)

    def forward(self, roi: torch.Tensor, boxes_h: torch.Tensor, boxes_o: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per stream for (N, 13, C) RoI features and (N, 4) boxes."""
        roi = roi.float()
        person, out = roi[:, ROI_PERSON], {}
        if self.human is not None:
            out["human"] = self.human(person)
        if self.object is not None:
            out["object"] = self.object(torch.cat([roi[:, ROI_OBJECT], roi[:, ROI_UNION]], 1))
        if self.spatial is not None:
            out["spatial"] = self.spatial(interaction_maps(boxes_h.float(), boxes_o.float()))
        if "pairwise" in self.streams:
            parts = roi[:, ROI_PARTS]
            att = torch.softmax(self.attention(parts).squeeze(-1), 1)  # (N, 10)
            out["pairwise"] = self.pairwise(torch.cat([(att[..., None] * parts).sum(1), person], 1))
        return out
