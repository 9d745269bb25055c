"""Train the shipped default PaSta-R reasoner ``pasta_r.hake_hico`` (GT-HAKE, HAKE-HICO image level).

    OMP_NUM_THREADS=1 python tools/train_pasta_r_default.py --data hico-image-level.tar.gz [--check]

The MLP reasoner (hidden 1024) on PaSta-76 one-hots + 10 part flags + the objects present, seed 0,
the GT-HAKE profile of ``hake.engine.train.pasta_r``, trained on the 80 % training part of the fixed
split (sha1 rule, see ``hake.datasets.builders.gt_hake``). Writes ``models/pasta_r_hake_hico.safetensors`` (config,
training settings and held-out metrics in its metadata) and prints its sha256. On one CPU thread with
the same torch version the file is identical bit for bit; ``--check`` retrains in a temporary folder and
compares the sha256 with the model manifest instead of writing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from hake.datasets.builders.gt_hake import SPLIT_RULE, load_gt_hake  # noqa: E402
from hake.engine.train.pasta_r import TrainConfig, run_gt_hake  # noqa: E402
from hake.hub import manifest, model_dir, sha256_of  # noqa: E402
from hake.models.pasta_r import save_pasta_r  # noqa: E402

NAME = "pasta_r.hake_hico"
CONFIG = TrainConfig(kind="mlp", input="pasta+object", seed=0)


def train(data: Path, out: Path) -> dict:
    """Train, write ``out`` and return the held-out metrics."""
    torch.set_num_threads(1)
    model, metrics = run_gt_hake(load_gt_hake(data, "image"), CONFIG)
    info = {"train": CONFIG.to_dict(), "data": data.name, "level": "image", "split": SPLIT_RULE,
            "heldout": {k: metrics[k] for k in ("default", "known_object", "n_train", "n_heldout")}}
    save_pasta_r(model, out, info)
    return metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="HAKE-HICO hico-image-level.tar.gz")
    parser.add_argument("--check", action="store_true", help="retrain and compare with the manifest's sha256")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.safetensors" if args.check else model_dir() / manifest()[NAME]["file"]
        metrics = train(args.data, out)
        digest = sha256_of(out)
    print(f"{out.name}: sha256 {digest}; held-out Default mAP {metrics['default']['mAP']:.4f}")
    if args.check:
        same = digest == manifest()[NAME]["sha256"]
        print("identical to the shipped file" if same else "DIFFERENT from the shipped file")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
