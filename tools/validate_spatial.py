"""Choose Spatial-PaSta recipe options on a validation split of the *training* images (never the test set).

    python tools/validate_spatial.py --annotation hico-det-instance-level.tar.gz --w-pasta 8 --object-bias

Split: HAKE-HICO-DET images by the fixed hash (:func:`hake.datasets.builders.gt_hake.is_heldout`); fold 0 (the
``hake benchmark pasta`` held-out images) is not read, fold 1 is the validation split, the model is
trained on folds 2-4. Prints (and with ``--json`` writes) the validation PaSta-76 mAP of the model
alone and with the object prior's log-odds added at several weights (as ``hake benchmark pasta``), and
the raw GT-pair HOI mAP (Full / Rare / Non-Rare, pair NMS, as ``hake benchmark spatial``) at several
verb weights. Seeded and single-threaded.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

PRIOR_WEIGHTS = (0.0, 0.5, 1.0, 2.0)
VERB_WEIGHTS = (0.25, 0.5, 0.75)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotation", type=Path, required=True, help="hico-det-instance-level.tar.gz (or .json)")
    from hake.engine.train.spatial import RECIPE, RECIPE_CONFIG

    parser.add_argument("--epochs", type=int, default=RECIPE.epochs)
    parser.add_argument("--w-pasta", type=float, default=RECIPE.w_pasta, help="weight of the PaSta loss")
    parser.add_argument("--context", action=argparse.BooleanOptionalAction, default=bool(RECIPE_CONFIG.context_dim))
    parser.add_argument("--object-bias", action=argparse.BooleanOptionalAction, default=RECIPE_CONFIG.object_bias)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--save", type=Path, default=None, help="write the validation model here (safetensors)")
    args = parser.parse_args(argv)

    from dataclasses import replace

    import torch

    from hake.datasets.builders.gt_hake import is_heldout
    from hake.datasets.builders.spatial_pairs import CONTEXT_DIM, gt_pairs, training_pairs
    from hake.datasets.hake_json import load_instance_level
    from hake.engine.bench.pasta import _log_odds, object_prior_scores, spatial_pasta_scores, state_ap, summarise
    from hake.engine.bench.spatial import _evaluate, duplicate_groups, gt_from_instances, spatial_scores
    from hake.engine.train.spatial import fit_spatial
    from hake.models.spatial import save_spatial_pasta

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    where = str(args.annotation)
    images = [im for im in load_instance_level(args.annotation) if not is_heldout(im.name, 0)]
    val_images = [im for im in images if is_heldout(im.name, 1)]
    train = training_pairs([im for im in images if not is_heldout(im.name, 1)], where, negatives=2, seed=args.seed)
    val = training_pairs(val_images, where, negatives=0, person_only=False)
    val = val.subset(val.has_pasta)
    print(f"{len(train)} training rows, {len(val)} validation pairs ({time.perf_counter() - t0:.0f} s)")
    options = replace(RECIPE, epochs=args.epochs, w_pasta=args.w_pasta, seed=args.seed)
    config = replace(RECIPE_CONFIG, context_dim=CONTEXT_DIM if args.context else 0, object_bias=args.object_bias)
    model = fit_spatial(train, options, config, log=print)
    if args.save:
        save_spatial_pasta(model, args.save, {"validation": "trained on hash folds 2-4"})

    prior = _log_odds(object_prior_scores(train, val))
    own = _log_odds(spatial_pasta_scores(model, val))
    pasta = {str(w): summarise(state_ap(val.pasta, own + w * prior))["map"] for w in PRIOR_WEIGHTS}
    gt = gt_from_instances(val_images, where)
    pairs = gt_pairs(gt, merge_iou=1.0)
    group = duplicate_groups(pairs)
    hoi = {str(w): _evaluate(gt, pairs, spatial_scores(model, pairs, verb_weight=w), group)["default"]
           for w in VERB_WEIGHTS}
    report = {"options": vars(args) | {"annotation": args.annotation.name, "json": None, "save": None},
              "pasta_map_by_prior_weight": pasta, "hoi_raw_pairs_by_verb_weight": hoi,
              "seconds": time.perf_counter() - t0}
    print(json.dumps(report, indent=1, default=str))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
