"""Speed-up of training PaSta-R from the Activity2Vec feature cache instead of from pixels, 1 thread.

    python benchmarks/a2v_feature_cache.py [--n 120] [--size 256] [--backbones tiny efficientnet_lite0] [--json OUT]

Draws a synthetic set, saves a (random-init) Activity2Vec, then times one stage-2 epoch (PaSta-R
forward + backward + AdamW step on every pair) reading pixels through the frozen Activity2Vec and
reading ``hake features extract`` shards, and the one-off extraction itself. Goal: the cached epoch
is at least 10x faster for the default EfficientNet-Lite0 backbone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def epoch_seconds(module, loader) -> float:
    """Wall time of one training epoch of ``module`` (a stage-2 A2VModule) over ``loader``."""
    opt = module.configure_optimizers()["optimizer"]
    module.train()
    t0 = time.perf_counter()
    for i, batch in enumerate(loader):
        loss = module.training_step(batch, i)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def run(backbone: str, n: int, size: int, work: Path) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from hake.datasets.builders.synth import generate
    from hake.datasets.keypoint_cache import KeypointCache
    from hake.datasets.torch import InstanceDataset, collate
    from hake.engine.train.a2v import build_module, label_weights
    from hake.engine.train.a2v_config import synthetic_defaults
    from hake.engine.train.features import CachedFeatures, cached_collate, extract_features
    from hake.models.a2v_predictor import save_model
    from hake.models.activity2vec import Activity2Vec

    torch.set_num_threads(1)
    data = work / f"synth_{size}"
    if not data.is_dir():
        generate(data, n, size=size, test_fraction=0.05)
    cfg = synthetic_defaults(data, work / f"run_{backbone}")
    cfg.model.backbone, cfg.model.pretrained = backbone, backbone != "tiny"
    if backbone != "tiny":
        cfg.model.neck, cfg.model.roi_size, cfg.model.hidden = 256, 5, 512
    weights = work / f"a2v_{backbone}.safetensors"
    save_model(weights, Activity2Vec(cfg.model), None)
    cfg.train.mode, cfg.train.init = "stage2", str(weights)
    ds = InstanceDataset(data / "train.json", data, keypoints=KeypointCache(data / "keypoints.json"))
    module = build_module(cfg, label_weights(ds, 10.0))
    t0 = time.perf_counter()
    extract_features(module.a2v, ds, work / f"cache_{backbone}")
    extract_s = time.perf_counter() - t0
    cache = CachedFeatures(work / f"cache_{backbone}")
    pixels = epoch_seconds(module, DataLoader(ds, batch_size=16, collate_fn=collate))
    cached = epoch_seconds(module, DataLoader(cache, batch_size=16, collate_fn=cached_collate))
    return {"backbone": backbone, "image_size": size, "images": len(ds), "pairs": len(cache),
            "epoch_from_pixels_s": round(pixels, 3), "epoch_from_cache_s": round(cached, 4),
            "speedup": round(pixels / cached, 1), "extract_once_s": round(extract_s, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--backbones", nargs="+", default=["tiny", "efficientnet_lite0"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(b, args.n, args.size, Path(tmp)) for b in args.backbones]
    for r in rows:
        print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
