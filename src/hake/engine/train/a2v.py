"""``hake train a2v``: Activity2Vec / PaSta-R training with Lightning.

:func:`train` builds the datasets from :class:`~hake.engine.a2v_config.A2VConfig`, fits with a
Lightning ``Trainer`` (CPU or GPU, DDP via ``devices``, bf16/AMP via ``precision``), keeps
resumable checkpoints in ``RUN/checkpoints`` (``last.ckpt`` every epoch), logs to CSV (and
TensorBoard when installed) under ``RUN/logs``, scores the held-out split with hake's AP code,
and writes ``RUN/metrics.json`` and ``RUN/model.safetensors`` (weights + architecture metadata,
loadable with :meth:`hake.models.a2v_predictor.A2VPredictor.load` or :func:`hake.zoo.create_model`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from hake.datasets.builders.synth import is_synthetic
from hake.datasets.keypoint_cache import KeypointCache
from hake.datasets.torch import Augment, EpochSampler, ImageLevelDataset, InstanceDataset, collate, pair_targets
from hake.engine.train.a2v_config import A2VConfig
from hake.engine.train.features import CachedFeatures, cached_collate
from hake.engine.train.lightning_module import A2VModule, pos_weights
from hake.engine.train.metrics import multilabel_map
from hake.errors import HakeError
from hake.models.a2v_predictor import build_reasoner, load_state, save_model
from hake.structures.results import dumps_json
from hake.vocab import load
from hake.vocab.sizes import NUM_HOIS, NUM_PASTA76

#: What ``metrics.json`` says of a run on a ``hake data synth`` folder: it proves the training loop
#: learns states that are visible by construction, nothing about real photos.
SMOKE_TEST_NOTE = ("smoke test on synthetic images from `hake data synth` (part states visible by "
                   "construction): not a benchmark, says nothing about real photos")


def _quiet_lightning() -> None:
    """Silence Lightning's start-up notes (accelerator lines, tips) and its internal deprecation noise:
    they are not for hake's users; warnings and errors still show."""
    import logging
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")

def build_datasets(cfg: A2VConfig) -> tuple[Any, Any]:
    """Training and held-out datasets of a config (held-out is None if absent): :class:`InstanceDataset`,
    or :class:`ImageLevelDataset` for ``data.level = image``."""
    root = Path(cfg.data.root)
    if not root.is_dir():
        raise HakeError(f"data folder not found: {root}")
    kp = KeypointCache(root / cfg.data.keypoints) if cfg.data.keypoints and (root / cfg.data.keypoints).is_file() \
        else None
    size = cfg.data.image_size or None
    if cfg.data.level == "image":
        if cfg.train.mode != "stage1":
            raise HakeError("image-level data trains stage1; use hake.datasets.builders.gt_hake for image-level "
                            "GT-HAKE")
        images = root / cfg.data.image_dir
        val_path = root / cfg.data.val
        return (ImageLevelDataset(root / cfg.data.train, images, kp, size, cfg.model.n_verbs),
                ImageLevelDataset(val_path, images, kp, size, cfg.model.n_verbs) if val_path.is_file() else None)
    if cfg.data.level != "instance":
        raise HakeError(f"unknown data.level {cfg.data.level!r}; use instance or image")
    common = {"image_root": root, "keypoints": kp, "image_size": size, "n_verbs": cfg.model.n_verbs,
              "only_with_pasta": cfg.data.only_with_pasta}
    train = InstanceDataset(root / cfg.data.train, augment=Augment() if cfg.data.augment else None,
                            negatives=cfg.data.negatives, seed=cfg.train.seed, **common)
    val = InstanceDataset(root / cfg.data.val, seed=cfg.train.seed, **common) if (root / cfg.data.val).is_file() \
        else None
    return train, val


def label_weights(ds: Any, cap: float) -> dict[str, torch.Tensor]:
    """Positive weights of the weighted BCE from the training annotations (no pixels read)."""
    if isinstance(ds, CachedFeatures):
        d = ds.data
        out = {"pasta": d["pasta"][d["has_pasta"]], "verb": d["verb"], "hoi": d["hoi"]}
    elif isinstance(ds, ImageLevelDataset):
        hoi = torch.zeros(len(ds.records), NUM_HOIS)
        for i, r in enumerate(ds.records):
            hoi[i, torch.as_tensor(r.hois, dtype=torch.long)] = 1
        verb = (hoi @ torch.from_numpy(load().hoi_to_verb_matrix)).clamp(max=1)
        out = {"pasta": torch.stack([torch.as_tensor(r.pasta76, dtype=torch.float32) for r in ds.records]),
               "verb": verb, "hoi": hoi}
    else:
        rows = [pair_targets(im.labels, NUM_PASTA76, ds.n_verbs) for im in ds.images]
        out = {"pasta": torch.from_numpy(np.concatenate([r["pasta"][r["has_pasta"]] for r in rows])),
               "verb": torch.from_numpy(np.concatenate([r["verb"] for r in rows])),
               "hoi": torch.from_numpy(np.concatenate([r["hoi"] for r in rows]))}
    return {k: pos_weights(v, cap) for k, v in out.items()}


def cached_datasets(cfg: A2VConfig) -> tuple[CachedFeatures, CachedFeatures | None]:
    """Feature-cache datasets of a config (``data.features`` / ``data.val_features``)."""
    if cfg.train.mode not in ("stage2", "transfer"):
        raise HakeError("training from a feature cache is for stage2 / transfer (Activity2Vec frozen)")
    return CachedFeatures(cfg.data.features), CachedFeatures(cfg.data.val_features) if cfg.data.val_features \
        else None


def loaders(cfg: A2VConfig, train: Any, val: Any) -> tuple[DataLoader, Any]:
    fn = cached_collate if isinstance(train, CachedFeatures) else collate
    kw = {"batch_size": cfg.train.batch_size, "collate_fn": fn, "num_workers": cfg.data.num_workers}
    tl = DataLoader(train, sampler=EpochSampler(len(train), cfg.train.seed), **kw)
    vl = DataLoader(val, sampler=EpochSampler(len(val), shuffle=False), **kw) if val is not None else None
    return tl, vl


def build_module(cfg: A2VConfig, weights: dict[str, torch.Tensor]) -> A2VModule:
    """The Lightning module of a config; stage2/transfer start Activity2Vec from ``train.init``."""
    mode = cfg.train.mode
    if mode not in ("stage1", "stage2", "transfer", "gt_hake"):
        raise HakeError(f"unknown mode {mode!r}; use stage1, stage2, transfer or gt_hake")
    if mode in ("stage2", "transfer") and not cfg.train.init:
        raise HakeError(f"mode {mode} needs train.init = a trained model.safetensors")
    if cfg.train.target not in ("verb117", "hoi600"):
        raise HakeError(f"unknown train.target {cfg.train.target!r}; use verb117 or hoi600")
    w = {"pasta": weights["pasta"], "verb": weights["verb"]}
    reasoner = None
    if mode != "stage1":
        target = "hoi" if cfg.train.target == "hoi600" else "verb"
        w["target"] = weights[target]
        reasoner = build_reasoner(cfg, gt=mode == "gt_hake", n_out=len(weights[target]))
    module = A2VModule(cfg.to_dict(), w, reasoner)
    if cfg.train.init:
        a2v_state, r_state, _ = load_state(cfg.train.init)
        module.a2v.load_state_dict(a2v_state)
        if r_state and mode == "transfer":  # keep the trunk, the last FC is new (other label space)
            fresh = module.reasoner.state_dict()
            last = module.reasoner.last_fc() + "."
            keep = {k: v for k, v in r_state.items() if k in fresh and fresh[k].shape == v.shape
                    and not k.startswith(last)}
            module.reasoner.load_state_dict(keep, strict=False)
    return module


def evaluate(module: A2VModule, loader: DataLoader) -> dict[str, float]:
    """mAPs of a module on a loader (held-out split): pasta/verb in stage 1, target otherwise."""
    module.eval()
    module._val = {}
    with torch.no_grad():
        for i, batch in enumerate(loader):
            module.validation_step(batch, i)
    got = {k: torch.cat(v).numpy() for k, v in module._val.items()}
    module._val = {}
    out = {}
    for name in ("pasta", "verb", "target"):
        if f"{name}_s" in got:
            ap, m = multilabel_map(got[f"{name}_s"], got[f"{name}_y"])
            out[f"{name}_mAP"] = m
            out[f"{name}_classes"] = int((~np.isnan(ap)).sum())
    if "target_mAP" in out and module.cfg.train.target == "verb117":
        out["verb_mAP"], out["verb_classes"] = out["target_mAP"], out["target_classes"]
    return out


def _loggers(out: Path) -> list[Any]:
    from lightning.pytorch.loggers import CSVLogger

    found: list[Any] = [CSVLogger(str(out / "logs"), name="")]  # version_N: a resumed run appends one
    try:
        from lightning.pytorch.loggers import TensorBoardLogger

        found.append(TensorBoardLogger(str(out / "logs"), name="tb"))
    except (ImportError, ModuleNotFoundError):
        pass
    return found


def train(cfg: A2VConfig, *, progress: bool = False, max_steps: int = -1) -> dict[str, Any]:
    """Fit, evaluate on the held-out split, write ``metrics.json`` and ``model.safetensors``; return the metrics."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.train.accelerator in ("cpu", "auto") and not torch.cuda.is_available():
        torch.set_num_threads(cfg.train.threads)
    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    train_ds, val_ds = cached_datasets(cfg) if cfg.data.features else build_datasets(cfg)
    module = build_module(cfg, label_weights(train_ds, cfg.train.max_pos_weight))
    tl, vl = loaders(cfg, train_ds, val_ds)
    ckpt = ModelCheckpoint(dirpath=str(out / "checkpoints"), save_last=True, save_top_k=0)
    _quiet_lightning()
    trainer = L.Trainer(
        max_epochs=cfg.train.epochs, max_steps=max_steps, accelerator=cfg.train.accelerator,
        devices=cfg.train.devices, precision=cfg.train.precision, logger=_loggers(out), callbacks=[ckpt],
        enable_progress_bar=progress, enable_model_summary=False, deterministic=False,
        num_sanity_val_steps=0, check_val_every_n_epoch=1, log_every_n_steps=1,
    )
    resume = cfg.train.resume
    if resume == "last":
        resume = str(out / "checkpoints" / "last.ckpt")
    trainer.fit(module, tl, vl, ckpt_path=resume or None)
    metrics: dict[str, Any] = {"mode": cfg.train.mode, "epochs": cfg.train.epochs,
                               "train_images": len(train_ds), "steps": int(trainer.global_step)}
    if is_synthetic(cfg.data.root):
        metrics["smoke_test"] = SMOKE_TEST_NOTE
    if vl is not None:
        metrics.update(evaluate(module, vl))
        metrics["val_images"] = len(val_ds)
    if trainer.is_global_zero:  # every rank evaluated the whole held-out split; one writes
        for name, doc in (("metrics.json", metrics), ("config.json", cfg.to_dict())):
            (out / name).write_text(dumps_json(doc, where=str(out / name), indent=2) + "\n", encoding="utf-8")
        save_model(out / "model.safetensors", module.a2v, module.reasoner, cfg)
    metrics["loss_history"] = list(module.history)
    return metrics
