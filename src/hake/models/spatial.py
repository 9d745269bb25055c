"""Spatial-PaSta: the offline, visual-free default PaSta model (DESIGN §6).

Per human-object pair it reads only the layout — the :func:`~hake.models.layout.pair_layout`
vector (relative offsets, scales, IoU, a 3×3 part-prior grid), the 2×64×64 iCAN/TIN interaction
map (:func:`~hake.models.pair_streams.interaction_maps`) — and the object class (learned
embedding). A trunk turns these into PaSta-76 logits (one BCE head per state) and a small feature
per part group; each group's PaSta probabilities ‖ group feature feed a
:class:`~hake.models.pasta_r.PastaR` (with the object one-hot as context) that outputs the 600 HOI
and 117 verb logits. :meth:`SpatialPasta.predict` implements :class:`~hake.models.interface.PastaModel`.

Weights are safetensors: the state dict (including the layout normalisation and the training
HOI counts used by the ``object_prior`` baseline) with the config (and how the file was made) as JSON in the
metadata key ``hake``. The zoo builds ``spatial_pasta.*`` names with :func:`load_spatial_pasta`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from hake.errors import DataError, HakeError
from hake.models.layout import LAYOUT_DIM, pair_layout
from hake.models.pair_streams import interaction_maps
from hake.models.pasta_r import InSpec, PastaR, split_groups
from hake.models.weights_io import build_checked, module_device, read_weights, save_weights
from hake.structures.contracts import PairBatch, PastaOutput
from hake.vocab.core import load as load_vocab
from hake.vocab.sizes import NUM_OBJECTS

__all__ = ["SpatialConfig", "SpatialPasta", "save_spatial_pasta", "load_spatial_pasta"]

N_OBJECTS = NUM_OBJECTS


@dataclass
class SpatialConfig:
    """Widths of Spatial-PaSta.

    Attributes:
        map_size: side of the interaction map in cells (a multiple of 32; the CNN pools it to 32×32).
        obj_dim: width of the object embedding (81 rows: 80 objects + "no object").
        hidden: width of the trunk.
        group_dim: width of the per-group feature appended to each group's PaSta probabilities.
        reasoner: PaSta-R kind; reasoner_hidden its hidden width; dropout of trunk and reasoner.
        context_dim: width of the optional image context
            (:func:`~hake.datasets.builders.spatial_pairs.pair_context`), 0 = none;
            a model with context treats a missing context as all zeros (it is trained with context dropout).
        object_bias: add a learned (81, 76) table of PaSta logit offsets, one row per object class (+ "no
            object"), to the PaSta head: the object-conditional state prior inside the model.
    """

    map_size: int = 64
    obj_dim: int = 32
    hidden: int = 256
    group_dim: int = 32
    reasoner: str = "mlp"
    reasoner_hidden: int = 512
    dropout: float = 0.3
    layout_dim: int = LAYOUT_DIM
    context_dim: int = 0
    object_bias: bool = False


class SpatialPasta(nn.Module):
    """Layout + object class → PaSta-76 → PaSta-R → 600 HOIs / 117 verbs (see the module doc)."""

    def __init__(self, config: SpatialConfig | None = None) -> None:
        super().__init__()
        c = self.config = config or SpatialConfig()
        if c.map_size < 32 or c.map_size % 32:
            raise HakeError(f"map_size must be a positive multiple of 32, got {c.map_size}")
        vocab = load_vocab()
        self.group_sizes = vocab.group_sizes("pasta76")
        self.map_cnn = nn.Sequential(  # 2×64×64 → 2×32×32 (box fractions) → 8×16×16 → 16×8×8 → 128
            nn.AvgPool2d(c.map_size // 32), nn.Conv2d(2, 8, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 64, 128), nn.ReLU(),
        )
        self.layout_mlp = nn.Sequential(nn.Linear(c.layout_dim, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU())
        self.obj_embed = nn.Embedding(N_OBJECTS + 1, c.obj_dim)
        self.context_mlp = nn.Sequential(nn.Linear(c.context_dim, 64), nn.ReLU()) if c.context_dim else None
        self.trunk = nn.Sequential(
            nn.Linear(256 + c.obj_dim + (64 if c.context_dim else 0), c.hidden), nn.ReLU(), nn.Dropout(c.dropout),
            nn.Linear(c.hidden, c.hidden), nn.ReLU(),
        )
        self.pasta_head = nn.Linear(c.hidden, sum(self.group_sizes))
        self.pasta_bias = nn.Embedding(N_OBJECTS + 1, sum(self.group_sizes)) if c.object_bias else None
        if self.pasta_bias is not None:
            nn.init.zeros_(self.pasta_bias.weight)
        self.group_feat = nn.Linear(c.hidden, 6 * c.group_dim)
        spec = InSpec(tuple(n + c.group_dim for n in self.group_sizes), n_objects=N_OBJECTS, obj_embed_dim=c.obj_dim)
        self.reasoner = PastaR(c.reasoner, spec, hidden=c.reasoner_hidden, dropout=c.dropout)
        self.register_buffer("layout_mean", torch.zeros(c.layout_dim))
        self.register_buffer("layout_std", torch.ones(c.layout_dim))
        self.register_buffer("hoi_counts", torch.zeros(600))
        self.register_buffer("hoi_mask", torch.as_tensor(vocab.hoi_to_object_matrix.T.copy(), dtype=torch.float32))

    def forward(self, layout: Tensor, maps: Tensor, obj: Tensor, context: Tensor | None = None) -> dict[str, Tensor]:
        """Logits of a batch of pairs.

        Args:
            layout: (B, layout_dim) raw :func:`pair_layout` rows (normalised here).
            maps: (B, 2, map_size, map_size) interaction maps.
            obj: (B,) int64 object 0..79, -1 for none.
            context: (B, context_dim) :func:`~hake.datasets.builders.spatial_pairs.pair_context` rows, or None
                (all zeros);
                ignored by a model without context.

        Returns:
            ``{"pasta": (B, 76), "hoi": (B, 600), "verb": (B, 117)}`` logits.
        """
        x = (layout - self.layout_mean) / self.layout_std
        obj_idx = torch.where(obj < 0, torch.full_like(obj, N_OBJECTS), obj)
        parts = [self.layout_mlp(x), self.map_cnn(maps), self.obj_embed(obj_idx)]
        if self.context_mlp is not None:
            if context is None:
                context = torch.zeros(len(layout), self.config.context_dim, dtype=layout.dtype, device=layout.device)
            parts.append(self.context_mlp(context))
        h = self.trunk(torch.cat(parts, 1))
        pasta = self.pasta_head(h)
        if self.pasta_bias is not None:
            pasta = pasta + self.pasta_bias(obj_idx)
        feats = self.group_feat(h).chunk(6, dim=1)
        groups = [torch.cat([p, f], 1) for p, f in zip(split_groups(torch.sigmoid(pasta)), feats)]
        # one-hot without boolean-mask indexing, so the graph exports to ONNX with a dynamic pair count
        one_hot = torch.nn.functional.one_hot(obj.clamp(min=0), N_OBJECTS).to(layout.dtype) * (obj >= 0)[:, None]
        out = self.reasoner(groups, obj=one_hot)
        return {"pasta": pasta, "hoi": out["hoi"], "verb": out["verb"]}

    def inputs(self, boxes_h: np.ndarray, boxes_o: np.ndarray, sizes: np.ndarray | tuple[int, int],
               objects: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
        """(layout, maps, obj) tensors for :meth:`forward` from pixel boxes (P, 4), sizes and objects (P,)."""
        objects = np.asarray(objects, np.int64)
        has = objects >= 0
        bh = np.asarray(boxes_h, np.float32).reshape(-1, 4)
        bo = np.where(has[:, None], np.asarray(boxes_o, np.float32).reshape(-1, 4), bh)
        layout = torch.from_numpy(pair_layout(bh, bo, sizes, has))
        maps = interaction_maps(torch.from_numpy(bh), torch.from_numpy(bo), self.config.map_size)
        return layout, maps, torch.from_numpy(objects)

    @torch.no_grad()
    def predict(self, batch: PairBatch) -> PastaOutput:
        """PaSta-76, 600 HOI and 117 verb probabilities of every pair (HOIs of other objects are 0;
        pairs without object get PaSta and verbs and an all-zero HOI row). Keypoints and pixels are not read.
        """
        n = len(batch)
        if n == 0:
            return PastaOutput(np.zeros((0, 76), np.float32), np.zeros((0, 600), np.float32),
                               np.zeros((0, 117), np.float32))
        for name in ("boxes_h", "boxes_o"):
            boxes = np.asarray(getattr(batch, name))
            if boxes.shape != (n, 4) or not np.isfinite(boxes).all():
                raise DataError(f"expected ({n}, 4) finite boxes, got shape {boxes.shape}", field=name)
        objects = np.asarray(batch.object_labels, np.int64)
        if objects.shape != (n,) or objects.max() >= N_OBJECTS or objects.min() < -1:
            raise DataError(f"expected {n} object labels in -1..79", field="object_labels")
        was_training = self.training
        self.eval()
        device = module_device(self)  # honours model.to(device)
        inputs = self.inputs(batch.boxes_h, batch.boxes_o, batch.image_size, objects)
        out = self(*(t.to(device) for t in inputs))
        self.train(was_training)
        probs = self.probabilities(out, torch.from_numpy(objects).to(device))
        return PastaOutput(*(p.cpu().numpy().astype(np.float32) for p in probs))

    def probabilities(self, out: dict[str, Tensor], obj: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Sigmoid of the logits with each pair's HOIs restricted to its object: (pasta, hoi, verb)."""
        mask = torch.zeros(len(obj), 600, dtype=out["hoi"].dtype, device=out["hoi"].device)
        has = obj >= 0
        mask[has] = self.hoi_mask[obj[has]]
        return torch.sigmoid(out["pasta"]), torch.sigmoid(out["hoi"]) * mask, torch.sigmoid(out["verb"])


def save_spatial_pasta(model: SpatialPasta, path: str | Path, extra: dict[str, str] | None = None) -> None:
    """Write the state dict as safetensors; the metadata has the single key ``hake``: JSON of
    ``{"config": ..., **extra}`` (one key, so the file's bytes do not depend on hash order)."""
    meta = {"hake": json.dumps({"config": asdict(model.config), **(extra or {})}, sort_keys=True)}
    save_weights(path, model.state_dict(), meta)


def load_spatial_pasta(path: str | Path) -> SpatialPasta:
    """Rebuild a :class:`SpatialPasta` written by :func:`save_spatial_pasta` (eval mode, CPU)."""
    state, meta = read_weights(path)
    try:
        config = SpatialConfig(**json.loads(meta["hake"])["config"])
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise DataError(f"bad Spatial-PaSta config: {err}", file=path, field="hake") from None
    return build_checked(lambda: SpatialPasta(config), state, path, "hake")  # sizes checked before allocating

