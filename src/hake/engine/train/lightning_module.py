"""The Lightning module behind ``hake train a2v``: losses, optimiser, per-epoch metrics.

Modes (``TrainConfig.mode``):

- ``stage1``: Activity2Vec's PaSta heads and verb head, weighted BCE on PaSta (pairs that carry
  part-state labels) plus weighted BCE on verbs.
- ``stage2``: PaSta-R on the frozen Activity2Vec's ``f_pasta`` groups (plus the object class).
- ``transfer``: as stage 2, but PaSta-R gets a new last FC for the target label space; Activity2Vec
  stays frozen (bit-identical) and PaSta-R is fine-tuned.
- ``gt_hake``: PaSta-R on ground-truth PaSta vectors (the GT-HAKE upper bound; no pixels needed).

Metrics each validation epoch come from :func:`hake.engine.metrics.multilabel_map` (hake's AP code).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from hake.engine.train.a2v_config import A2VConfig, config_from_dict
from hake.engine.train.metrics import multilabel_map
from hake.models.activity2vec import Activity2Vec
from hake.vocab.sizes import NUM_OBJECTS

FROZEN_MODES = ("stage2", "transfer")


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor) -> torch.Tensor:
    """Mean BCE with per-class positive weights; an empty batch gives 0 (keeps the graph)."""
    if logits.numel() == 0:
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits.float(), target.float(), pos_weight=pos_weight)


def pos_weights(labels: torch.Tensor, cap: float) -> torch.Tensor:
    """(C,) positive weights sqrt(neg / pos) clipped to [1, cap] from (N, C) training labels."""
    pos = labels.float().sum(0)
    neg = labels.shape[0] - pos
    return torch.sqrt(neg / pos.clamp(min=1)).clamp(1.0, cap)


def image_max(values: torch.Tensor, batch_index: torch.Tensor, n_images: int) -> torch.Tensor:
    """(B, C) per-image maximum of (N, C) per-person values (multiple-instance pooling)."""
    out = values.new_full((n_images, values.shape[1]), float("-inf"))
    return out.scatter_reduce(0, batch_index[:, None].expand_as(values), values, "amax", include_self=True)


def group_split(vectors: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """Split (N, sum(sizes)) into the six group blocks."""
    return list(torch.split(vectors, sizes, dim=1))


class A2VModule(L.LightningModule):
    """Activity2Vec (+ PaSta-R) training.

    Args:
        config: the run configuration as a dict (saved in checkpoints, so resume rebuilds it).
        weights: class positive weights ``{"pasta": (P,), "verb": (V,), "target": (T,)}``.
        reasoner: the PaSta-R module for stage2 / transfer / gt_hake (``None`` for stage1).
    """

    def __init__(self, config: dict[str, Any], weights: dict[str, torch.Tensor],
                 reasoner: nn.Module | None = None) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.cfg: A2VConfig = config_from_dict(config)
        self.mode = self.cfg.train.mode
        self.a2v = Activity2Vec(self.cfg.model)
        self.reasoner = reasoner
        for key, w in weights.items():
            self.register_buffer(f"w_{key}", w.float())
        if self.mode in FROZEN_MODES:
            for p in self.a2v.parameters():
                p.requires_grad_(False)
        self._val: dict[str, list[torch.Tensor]] = {}
        self.history: list[float] = []

    def train(self, mode: bool = True) -> A2VModule:
        super().train(mode)
        if self.mode in FROZEN_MODES:
            self.a2v.eval()  # frozen: batch-norm statistics must not move either
        return self

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Lightning restores sub-module modes itself (bypassing train()); re-freeze before every step
        if self.mode in FROZEN_MODES:
            self.a2v.eval()

    def _a2v(self, batch: dict[str, Any]) -> Any:
        """Activity2Vec outputs; for image-level batches the logits are max-pooled over each image's persons."""
        out = self.a2v(batch["images"], batch["boxes_h"], batch["boxes_o"], batch["part_boxes"],
                       batch["batch_index"], batch["pose_maps"])
        if batch.get("image_level"):
            n = len(batch["images"])
            out.pasta_logits = image_max(out.pasta_logits, batch["batch_index"], n)
            out.verb_logits = image_max(out.verb_logits, batch["batch_index"], n)
            out.p_pasta, out.p_verb = torch.sigmoid(out.pasta_logits), torch.sigmoid(out.verb_logits)
        return out

    def reasoner_inputs(self, batch: dict[str, Any]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """PaSta-R inputs: six group tensors and the (N, 80) object one-hot."""
        obj = F.one_hot(batch["object"].long(), NUM_OBJECTS).float()
        if self.mode == "gt_hake":
            return group_split(batch["pasta"].float(), list(self.a2v.group_sizes)), obj
        if "f_pasta" in batch:  # rows of a feature cache (hake features extract)
            return group_split(batch["f_pasta"].float(), self.a2v.group_dims), obj
        with torch.no_grad():
            return [g.detach() for g in self._a2v(batch).groups], obj

    def target_key(self) -> str:
        return "hoi" if self.cfg.train.target == "hoi600" else "verb"

    def forward_target(self, batch: dict[str, Any]) -> torch.Tensor:
        """(N, T) target-space logits of PaSta-R."""
        groups, obj = self.reasoner_inputs(batch)
        return self.reasoner(groups, obj)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        if self.mode == "stage1":
            out = self._a2v(batch)
            keep = batch["has_pasta"]
            loss_p = weighted_bce(out.pasta_logits[keep], batch["pasta"][keep], self.w_pasta)
            loss_v = weighted_bce(out.verb_logits, batch["verb"], self.w_verb)
            loss = loss_p + self.cfg.train.verb_loss * loss_v
            self.log("train/pasta_loss", loss_p.detach(), batch_size=len(keep))
            self.log("train/verb_loss", loss_v.detach(), batch_size=len(keep))
        else:
            loss = weighted_bce(self.forward_target(batch), batch[self.target_key()], self.w_target)
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=len(batch["has_pasta"]))
        self.history.append(float(loss.detach()))
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if self.mode == "stage1":
            out = self._a2v(batch)
            keep = batch["has_pasta"]
            rows = {"pasta_s": out.p_pasta[keep], "pasta_y": batch["pasta"][keep],
                    "verb_s": out.p_verb, "verb_y": batch["verb"]}
        else:
            rows = {"target_s": torch.sigmoid(self.forward_target(batch)), "target_y": batch[self.target_key()]}
        for k, v in rows.items():
            self._val.setdefault(k, []).append(v.detach().float().cpu())

    def on_validation_epoch_end(self) -> None:
        got = {k: torch.cat(v).numpy() for k, v in self._val.items()}
        self._val = {}
        for name in ("pasta", "verb", "target"):
            if f"{name}_s" in got and len(got[f"{name}_s"]):
                _, m = multilabel_map(got[f"{name}_s"], got[f"{name}_y"])
                self.log(f"val/{name}_mAP", m, prog_bar=True, sync_dist=True)

    def configure_optimizers(self) -> Any:
        """AdamW with a cosine learning-rate decay over ``train.epochs`` (stepped per epoch)."""
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.cfg.train.lr, weight_decay=self.cfg.train.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.cfg.train.epochs), eta_min=0.0)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
