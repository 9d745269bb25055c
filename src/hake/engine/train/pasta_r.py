"""Training and scoring PaSta-R on GT-HAKE data (one process, CPU-friendly, deterministic).

:func:`fit` trains a :class:`~hake.models.pasta_r.PastaR` with Adam on BCE over the 600 HOIs and
117 verbs (+ the Tree's auxiliary PaSta loss), shuffling with a seeded generator, so the same seed on
the same machine gives the same weights bit for bit. :func:`run_gt_hake` trains on the training part
and evaluates the held-out part with the HICO evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from hake.datasets.builders.gt_hake import GtHakeData
from hake.engine.train import distributed as D
from hake.errors import HakeError
from hake.evaluation.hico import evaluate_hico
from hake.models.pasta_r import InSpec, PastaR, split_groups
from hake.vocab.core import load as load_vocab

INPUTS = ("pasta", "pasta+object")
#: GT-HAKE defaults per reasoner (hidden width, epochs), chosen to train in < 1 min on one CPU thread.
PROFILE: dict[str, dict[str, Any]] = {
    "linear": {"hidden": 0, "epochs": 12, "lr": 1e-2},
    "mlp": {"hidden": 1024, "epochs": 8, "lr": 1e-3},
    "gcn": {"hidden": 64, "epochs": 8, "lr": 3e-3},
    "seq": {"hidden": 128, "epochs": 8, "lr": 3e-3},
    "tree": {"hidden": 256, "epochs": 8, "lr": 2e-3},
}


@dataclass
class TrainConfig:
    """One GT-HAKE training run. ``hidden``/``epochs``/``lr`` of None take :data:`PROFILE` values."""

    kind: str = "linear"
    input: str = "pasta+object"
    epochs: int | None = None
    lr: float | None = None
    hidden: int | None = None
    batch_size: int = 256
    weight_decay: float = 0.0
    verb_weight: float = 0.5
    aux_weight: float = 0.5
    language: bool = False
    seed: int = 0

    def resolved(self) -> TrainConfig:
        if self.kind not in PROFILE:
            raise HakeError(f"unknown reasoner {self.kind!r}; choose from {', '.join(PROFILE)}")
        if self.input not in INPUTS:
            raise HakeError(f"unknown input {self.input!r}; choose from {', '.join(INPUTS)}")
        p = PROFILE[self.kind]
        return TrainConfig(**{**asdict(self), **{k: v for k, v in p.items() if getattr(self, k) is None}})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self.resolved())


def build_model(cfg: TrainConfig, with_parts: bool) -> PastaR:
    """The reasoner for ``cfg`` on PaSta-76 one-hots (+ part flags when ``with_parts``)."""
    cfg = cfg.resolved()
    spec = InSpec.pasta("pasta76", parts=with_parts, objects=cfg.input == "pasta+object", language=cfg.language)
    torch.manual_seed(cfg.seed)  # seeded initial weights: reruns and every DDP rank start alike
    return PastaR(cfg.kind, spec, hidden=cfg.hidden or 0)


def model_inputs(model: PastaR, data: GtHakeData, rows: np.ndarray | slice = slice(None)) -> tuple:
    """(groups, obj, parts) tensors of ``data[rows]`` as ``model`` reads them."""
    groups = split_groups(torch.from_numpy(data.pasta[rows]))
    obj = torch.from_numpy(data.objects[rows]) if model.in_spec.n_objects else None
    parts = torch.from_numpy(data.parts[rows]) if model.in_spec.n_parts and data.parts is not None else None
    return groups, obj, parts


@torch.no_grad()
def init_prior_bias(model: PastaR, hois: torch.Tensor, verbs: torch.Tensor) -> None:
    """Start the head's biases at the log-odds of each class's training frequency (clamped to
    [1e-4, 0.5]), so the first steps do not push the shared features to saturation to silence the
    hundreds of absent classes."""
    freq = torch.cat([hois.mean(dim=0), verbs.mean(dim=0)]).clamp(1e-4, 0.5)
    model.head.bias.copy_(torch.log(freq) - torch.log1p(-freq))


def _bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE summed over classes, averaged over samples (a mean over 600 mostly-negative classes
    shrinks the gradients to the size of Adam's epsilon and stalls the recurrent and graph cores)."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.shape[0]


def fit(
    model: PastaR, data: GtHakeData, cfg: TrainConfig, progress: Callable[[int, int, float], None] | None = None
) -> list[float]:
    """Train ``model`` in place on ``data``; returns the mean loss of each epoch.

    ``progress(step, total_steps, loss)`` is called after every batch (e.g. to move a progress bar).
    Under ``torchrun`` the model is wrapped in DDP and each rank takes its share of every global
    batch of ``cfg.batch_size`` rows (:func:`hake.engine.distributed.local_rows`), so the steps equal
    the single-process ones; the learning rate is unchanged (the global batch is).
    """
    cfg = cfg.resolved()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    info = D.current()
    if info.world_size > 1:
        torch.manual_seed(cfg.seed + info.rank)  # independent dropout masks per rank
    net = D.wrap_ddp(model, info)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    hois, verbs, pasta = (torch.from_numpy(a) for a in (data.hois, data.verbs, data.pasta))
    init_prior_bias(model, hois, verbs)
    n = len(data)
    steps = (n + cfg.batch_size - 1) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps * cfg.epochs, pct_start=0.1)
    model.train()
    history, step = [], 0
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen).numpy()
        total = 0.0
        for i in range(steps):
            batch = np.sort(perm[i * cfg.batch_size:(i + 1) * cfg.batch_size])
            rows, weight = D.local_rows(batch, info)
            out = net(*model_inputs(model, data, rows))
            loss = _bce(out["hoi"], hois[rows]) + cfg.verb_weight * _bce(out["verb"], verbs[rows])
            loss = (loss + cfg.aux_weight * model.aux_loss(out, pasta[rows])) * weight
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += D.all_reduce_sum(loss.item()) / info.world_size * len(batch)
            step += 1
            if progress is not None:
                progress(step, steps * cfg.epochs, total / min(n, (i + 1) * cfg.batch_size))
        history.append(total / n)
    model.eval()
    return history


@torch.no_grad()
def predict(model: PastaR, data: GtHakeData, batch_size: int = 4096, object_mask: bool = True) -> np.ndarray:
    """(N, 600) float64 HOI probabilities (sigmoid of the logits).

    With ``object_mask`` and a model that reads objects, HOIs whose object is absent get 0 (the
    convention of :class:`hake.models.interface.PastaOutput`).
    """
    model.eval()
    info = D.current()  # under torchrun: score this rank's shard, gather all rows in dataset order
    mine = D.shard_indices(len(data), info.rank, info.world_size)
    out = [torch.zeros(0, model.out_dim)]
    for s in range(0, len(mine), batch_size):
        out.append(torch.sigmoid(model(*model_inputs(model, data, mine[s:s + batch_size]))["hoi"]))
    probs = D.gather_array(torch.cat(out).double().numpy(), mine, expected=len(data))
    if object_mask and model.in_spec.n_objects:
        probs *= data.objects[:, load_vocab().hoi_object] > 0
    return probs


def metrics_of(result: Any) -> dict[str, dict[str, float]]:
    """``{"default": {mAP, few@1, few@5, few@10}, "known_object": {...}}`` from a HICO result."""
    keys = ("mAP", "few@1", "few@5", "few@10")
    return {mode: {k: float(getattr(result, mode)[k]) for k in keys} for mode in ("default", "known_object")}


def evaluate_scores(scores: np.ndarray, test: GtHakeData, train: GtHakeData) -> Any:
    """HICO evaluation of ``scores`` (N_test, 600) on the held-out part; Few@k counted on ``train``."""
    return evaluate_hico(test.hico_labels(), scores, train.train_pos_count())


def run_gt_hake(
    data: GtHakeData, cfg: TrainConfig, progress: Callable[[int, int, float], None] | None = None, fold: int = 0
) -> tuple[PastaR, dict[str, Any]]:
    """Train on the training part of ``data``, evaluate on the held-out part of hash fold ``fold``.

    Returns:
        the trained model and ``{"default": ..., "known_object": ..., "n_train", "n_heldout", "loss",
        "n_classes"}`` (``n_classes``: per summary value, the number of HOIs averaged over).
    """
    train, test = data.split(fold)
    model = build_model(cfg, with_parts=data.parts is not None)
    history = fit(model, train, cfg, progress)
    res = evaluate_scores(predict(model, test), test, train)
    metrics: dict[str, Any] = metrics_of(res)
    metrics.update({"n_train": len(train), "n_heldout": len(test), "loss": history,
                    "n_classes": res.default.n_classes})
    return model, metrics


def train_and_save(data: GtHakeData, cfg: TrainConfig, out: Path, meta: dict[str, Any],
                   progress: Callable[[int, int, float], None] | None = None) -> dict[str, Any] | None:
    """``hake train pasta-r``: train on hash fold 0's training part (DDP under torchrun / SLURM, a
    plain run otherwise), evaluate on its held-out part and, on the main process, write
    ``out/model.safetensors``, ``out/config.json`` (``meta`` + the config, split sizes and the
    distributed set-up) and ``out/metrics.json``.

    Returns:
        the metrics on the main process (``world_size`` added), None on the other ranks.
    """
    from hake.datasets.builders.gt_hake import SPLIT_RULE
    from hake.models.pasta_r import save_pasta_r
    from hake.structures.results import dumps_json

    cfg = cfg.resolved()
    info = D.init_from_env()  # a no-op in a plain run
    try:
        model, metrics = run_gt_hake(data, cfg, progress)
    finally:
        D.shutdown()
    metrics["world_size"] = info.world_size
    if not info.is_main:
        return None
    out.mkdir(parents=True, exist_ok=True)
    save_pasta_r(model, out / "model.safetensors")
    config = {"train": cfg.to_dict(), "model": model.config_dict(), **meta, "split": SPLIT_RULE,
              "n_train": metrics["n_train"], "n_heldout": metrics["n_heldout"],
              "distributed": D.describe(info, cfg.batch_size)}
    for name, doc in (("config.json", config), ("metrics.json", metrics)):
        (out / name).write_text(dumps_json(doc, where=str(out / name), indent=2) + "\n", encoding="utf-8")
    return metrics

