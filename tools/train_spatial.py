"""Train the shipped Spatial-PaSta weights on the HAKE-HICO-DET instance-level annotations.

    python tools/train_spatial.py --annotation hico-det-instance-level.tar.gz \
        --out models/spatial_pasta_hake_hicodet.safetensors

Seeded and single-threaded; reads only boxes, HOI ids and part states (no pixels). Prints the
sha256 of the written file for ``src/hake/models/manifest.json``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotation", type=Path, required=True, help="hico-det-instance-level.tar.gz (or .json)")
    parser.add_argument("--out", type=Path, default=Path("models/spatial_pasta_hake_hicodet.safetensors"))
    from hake.engine.train.spatial import RECIPE, RECIPE_CONFIG

    parser.add_argument("--epochs", type=int, default=RECIPE.epochs)
    parser.add_argument("--batch-size", type=int, default=RECIPE.batch_size)
    parser.add_argument("--lr", type=float, default=RECIPE.lr)
    parser.add_argument("--w-pasta", type=float, default=RECIPE.w_pasta, help="weight of the PaSta loss")
    parser.add_argument("--context", action=argparse.BooleanOptionalAction, default=bool(RECIPE_CONFIG.context_dim),
                        help="read the image context (objects of the person's other pairs and of the image)")
    parser.add_argument("--object-bias", action=argparse.BooleanOptionalAction, default=RECIPE_CONFIG.object_bias,
                        help="learn a PaSta logit offset per object class")
    parser.add_argument("--negatives", type=int, default=2, help="negative pairs per image")
    parser.add_argument("--max-pairs", type=int, default=0, help="subsample the training rows (0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from dataclasses import replace

    import numpy as np
    import torch

    from hake.datasets.builders.spatial_pairs import CONTEXT_DIM, training_pairs
    from hake.datasets.hake_json import load_instance_level
    from hake.engine.train.spatial import fit_spatial
    from hake.hub import sha256_of
    from hake.models.spatial import save_spatial_pasta

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    pairs = training_pairs(load_instance_level(args.annotation), str(args.annotation), negatives=args.negatives,
                           seed=args.seed)
    kinds = np.bincount(pairs.kind, minlength=3)
    print(f"{len(pairs)} rows: {kinds[0]} labelled pairs, {kinds[1]} negatives, {kinds[2]} person-only "
          f"({time.perf_counter() - t0:.0f} s)")
    if args.max_pairs and args.max_pairs < len(pairs):
        pairs = pairs.subset(np.sort(np.random.default_rng(args.seed).permutation(len(pairs))[: args.max_pairs]))
        print(f"subsampled to {len(pairs)} rows")
    options = replace(RECIPE, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, w_pasta=args.w_pasta,
                      seed=args.seed)
    config = replace(RECIPE_CONFIG, context_dim=CONTEXT_DIM if args.context else 0, object_bias=args.object_bias)
    model = fit_spatial(pairs, options, config, log=print)
    command = (f"python tools/train_spatial.py --annotation {args.annotation.name} --epochs {args.epochs} "
               f"--batch-size {args.batch_size} --lr {args.lr} --w-pasta {args.w_pasta} "
               f"--{'' if args.context else 'no-'}context --{'' if args.object_bias else 'no-'}object-bias "
               f"--negatives {args.negatives} "
               f"--max-pairs {args.max_pairs} --seed {args.seed}")
    save_spatial_pasta(model, args.out, {"reproduce": command, "seed": str(args.seed)})
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s; sha256 {sha256_of(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
