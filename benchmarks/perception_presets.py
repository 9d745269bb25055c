"""The ``--perception`` presets of ``hake infer`` side by side on a COCO-format photo set.

    python benchmarks/perception_presets.py --images DATA/coco-mini/train2017 \\
        --instances DATA/coco-mini/annotations/instances_train2017.json \\
        --keypoints DATA/coco-mini/annotations/person_keypoints_train2017.json [--json OUT]

Protocol (ours): each preset of :data:`hake.engine.infer.pipeline.PERCEPTIONS` runs the default
pipeline of ``hake infer`` once over all the photos (one thread); person AP, AR@100-large and
keypoint AP (pycocotools, as ``hake benchmark photos``) are reported on all photos and on the halves
of seeded permutations of the photos (seeds 0, 1, 2: six halves), with the paired difference of
each preset from the first, mean ± sd over the halves. The halves show how much of a difference
survives the photo-to-photo spread of 80 photos. Nothing is fitted here: the presets are fixed.
Seconds per photo come from ``benchmarks/pipeline_speed.py --compare`` (interleaved), not from
here. No published figure exists for this protocol.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
from perception_split import load_photos, photo_arguments, seeded_halves  # noqa: E402  (this folder)

KEYS = ("person_ap", "person_ar_large", "keypoint_ap")


def main() -> None:
    args = photo_arguments(__doc__)

    import numpy as np

    from hake.engine.bench.photo_metrics import perception_metrics
    from hake.engine.bench.photos import coco_rows
    from hake.engine.infer.pipeline import PERCEPTIONS, build_pipeline

    photos, images = load_photos(args)
    ids = photos.image_ids
    rows: dict[str, dict[int, tuple[list, list]]] = {}
    for name in PERCEPTIONS:
        pipe = build_pipeline(perception=name, pasta_name="spatial_pasta.hake_hicodet", threads=1)
        rows[name] = {i: coco_rows(i, pipe(images[i])) for i in ids}
        print(f"ran {name}", flush=True)

    def score(name: str, subset: list[int]) -> dict:
        boxes = [r for i in subset for r in rows[name][i][0]]
        poses = [r for i in subset for r in rows[name][i][1]]
        return perception_metrics(photos.instances, photos.keypoints, boxes, poses, subset)

    names = list(PERCEPTIONS)
    report: dict = {"protocol": "fixed presets; all photos, and paired differences on seeded halves",
                    "all_photos": {n: {k: score(n, ids)[k] for k in KEYS} for n in names}, "halves": {}}
    halves = [half for seed in args.seeds for half in seeded_halves(ids, seed)]
    per_half = {n: [score(n, h) for h in halves] for n in names}
    for n in names:
        for k in KEYS:
            v = np.array([s[k] for s in per_half[n]])
            d = v - np.array([s[k] for s in per_half[names[0]]])
            report["halves"][f"{n}.{k}"] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)),
                                            "minus_first_mean": float(d.mean()), "minus_first_sd": float(d.std(ddof=1))}
            print(f"{n:9s} {k:16s} all {report['all_photos'][n][k]:.3f}  halves {v.mean():.3f} ± {v.std(ddof=1):.3f}"
                  f"  minus {names[0]} {d.mean():+.3f} ± {d.std(ddof=1):.3f} over {len(halves)} halves")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
