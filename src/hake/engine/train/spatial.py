"""Training Spatial-PaSta on :class:`~hake.engine.spatial_data.PairArrays` (seeded, CPU-friendly).

Losses per batch (all binary cross-entropy on logits, averaged): PaSta-76 on rows that carry
part states, 117 verbs on every row, and 600 HOIs on rows with an object, restricted to the HOIs
of that object (the others are zeroed at prediction time anyway). Interaction maps are drawn per
batch, so memory stays at the layout arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from hake.datasets.builders.spatial_pairs import PairArrays, hoi_counts
from hake.models.layout import pair_layout
from hake.models.spatial import SpatialConfig, SpatialPasta
from hake.vocab.sizes import NUM_HOIS, NUM_PASTA76


@dataclass
class FitOptions:
    """Optimisation settings: epochs, batch size, Adam learning rate (cosine decay), weight decay,
    loss weights of the PaSta / verb / HOI terms, the share of rows whose image context is zeroed
    (models with context only: so that they also work without it), and the seed of initialisation and shuffling."""

    epochs: int = 6
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-5
    w_pasta: float = 1.0
    w_verb: float = 1.0
    w_hoi: float = 2.0
    context_dropout: float = 0.3
    seed: int = 0


#: The recipe of the shipped weights (``tools/train_spatial.py`` defaults), chosen on hash fold 1 of the training
#: images (``tools/validate_spatial.py``, models trained on folds 2-4; README "Spatial-PaSta"): PaSta loss weight 4,
#: 12 epochs (validation PaSta mAP 42.88 / 45.65 / 46.93 / 47.91 % at 3 / 5 / 8 / 12 epochs).
RECIPE = FitOptions(epochs=12, w_pasta=4.0)
RECIPE_CONFIG = SpatialConfig()


def _masked_bce(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BCE summed over the entries where ``mask`` is 1, divided by the number of masked rows."""
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none") * mask
    rows = (mask.sum(1) > 0).sum().clamp(min=1)
    return loss.sum() / rows


def fit_spatial(pairs: PairArrays, options: FitOptions | None = None, config: SpatialConfig | None = None,
                log: Callable[[str], None] | None = None) -> SpatialPasta:
    """Train a fresh :class:`SpatialPasta` on ``pairs`` and return it in eval mode.

    The layout normalisation (mean/std) and the HOI counts of the labelled rows are stored in the model.
    """
    opt = options or FitOptions()
    torch.manual_seed(opt.seed)
    rng = np.random.default_rng(opt.seed)
    model = SpatialPasta(config)
    layout = pair_layout(pairs.boxes_h, pairs.boxes_o, pairs.sizes, pairs.object >= 0)
    model.layout_mean.copy_(torch.from_numpy(layout.mean(0)))
    model.layout_std.copy_(torch.from_numpy(np.maximum(layout.std(0), 1e-3)))
    model.hoi_counts.copy_(torch.from_numpy(hoi_counts(pairs).astype(np.float32)))
    n = len(pairs)
    steps = opt.epochs * max(1, -(-n // opt.batch_size))
    optim = torch.optim.AdamW(model.parameters(), lr=opt.lr, weight_decay=opt.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=opt.lr, total_steps=steps, pct_start=0.1)
    t0 = time.perf_counter()
    model.train()
    for epoch in range(opt.epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, opt.batch_size):
            idx = order[start:start + opt.batch_size]
            b = pairs.subset(idx)
            lay, maps, obj = model.inputs(b.boxes_h, b.boxes_o, b.sizes, b.object)
            context = None
            if model.config.context_dim:
                keep = rng.random(len(idx)) >= opt.context_dropout
                context = torch.from_numpy(b.context * keep[:, None].astype(np.float32))
            out = model(lay, maps, obj, context)
            has_pasta = torch.from_numpy(b.has_pasta.astype(np.float32))[:, None].expand(-1, NUM_PASTA76)
            hoi_mask = torch.zeros(len(idx), NUM_HOIS)
            has = obj >= 0
            hoi_mask[has] = model.hoi_mask[obj[has]]
            loss = (opt.w_pasta * _masked_bce(out["pasta"], torch.from_numpy(b.pasta), has_pasta)
                    + opt.w_verb * F.binary_cross_entropy_with_logits(out["verb"], torch.from_numpy(b.verb),
                                                                      reduction="sum") / len(idx)
                    + opt.w_hoi * _masked_bce(out["hoi"], torch.from_numpy(b.hoi), hoi_mask))
            optim.zero_grad()
            loss.backward()
            optim.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if log is not None:
            log(f"epoch {epoch + 1}/{opt.epochs}: loss {total / n:.4f} ({time.perf_counter() - t0:.0f} s)")
    return model.eval()
