"""How much the perception parameters of ``hake infer`` were fitted to the photos they were chosen on.

    python benchmarks/perception_split.py --images DATA/coco-mini/train2017 \\
        --instances DATA/coco-mini/annotations/instances_train2017.json \\
        --keypoints DATA/coco-mini/annotations/person_keypoints_train2017.json [--json OUT]

Protocol (ours): every candidate of a small grid over the perception parameters (person threshold,
the box area from which a person gets the single-person pose model, and the score / area from
which a large person gets MoveNet Thunder) runs the pipeline of ``hake infer`` once over all the
photos; the photos are split in two halves by image id (seeded permutations). On each half
the candidate with the highest person AP + keypoint AP (pycocotools) among those within the cost
envelope is chosen, and its figures on the *other* half are reported beside the shipped default's
and those of the baseline :data:`BASELINE` (the first fusion's routing: Lightning on every person,
no Thunder); mean ± sd over the folds of several seeded splits. The cost envelope counts pose-model runs per
photo in Lightning units (a Thunder run counts :data:`THUNDER_COST` Lightning runs, the ratio of
their ONNX times on one core) and persons per photo (each costs a PaSta-model pass); its limits
are those that kept the default within 1.6x the old perception's seconds per photo
(``benchmarks/pipeline_speed.py --compare``). No published figure exists for this protocol.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

#: ONNX time of one MoveNet Thunder crop over one Lightning crop, one thread (median of 30 runs).
THUNDER_COST = 3.8
#: The cost envelope: Lightning-unit pose runs and persons per photo.
MAX_POSE_RUNS = 1.2
MAX_PERSONS = 2.0
#: The first fusion's routing, reported beside the choice: threshold 0.10, Lightning on every person
#: scoring >= 0.15 whatever its size, never Thunder (person threshold, Lightning area, Thunder score, area).
BASELINE = (0.10, 0.0, 0.3, float("inf"))


INF = float("inf")


def finite(value):
    """``value`` with every infinite float (a route never taken) written as None, so the JSON is valid."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return None if isinstance(value, float) and not np_isfinite(value) else value


def np_isfinite(x: float) -> bool:
    return x == x and abs(x) != INF


class Memo:
    """Wraps a detector or pose model so that a photo (the same array object) or crop runs only once.

    The candidates share their detector (for one person threshold) and their crops; only the
    routing of persons to pose models differs, so each model call is made once per photo and box.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model = getattr(inner, "model", None)
        self.seen: dict = {}
        self.calls = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def detect(self, image):
        if id(image) not in self.seen:
            self.seen[id(image)] = (self.inner.detect(image), self.inner.last)
        dets, self.inner.last = self.seen[id(image)]
        return dets

    def estimate(self, image, boxes):
        import numpy as np

        out = np.zeros((len(boxes), 17, 3), np.float32)
        for k, box in enumerate(np.asarray(boxes, np.float32)):
            key = (id(image), tuple(box.tolist()))
            if key not in self.seen:
                self.seen[key] = self.inner.estimate(image, box[None])[0]
            out[k] = self.seen[key]
            self.calls += 1
        return out


def run_candidate(pipe, images: dict, rows_of) -> tuple[dict, dict, dict]:
    """Boxes and poses (COCO result rows) per image id, and the pose runs and persons per photo."""
    boxes, poses = {}, {}
    single, large = pipe.pose.single, pipe.pose.large
    single.calls = large.calls = 0
    for image_id, image in images.items():
        boxes[image_id], poses[image_id] = rows_of(image_id, pipe(image))
    runs = (single.calls + THUNDER_COST * large.calls) / len(images)
    persons = sum(sum(b["category_id"] == 1 for b in rows) for rows in boxes.values()) / len(images)
    return boxes, poses, {"pose_runs_per_photo": runs, "persons_per_photo": persons}


def photo_arguments(doc: str | None) -> argparse.Namespace:
    """The command line of the perception benchmarks: a COCO-format photo set, split seeds, JSON output."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--instances", type=Path, required=True)
    parser.add_argument("--keypoints", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the splits into halves")
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


def load_photos(args: argparse.Namespace) -> tuple:
    """(photo set, {image id: RGB image}) of ``args``, every photo decoded once; torch on one thread."""
    import torch

    from hake.engine.bench.photos import load_photo_set
    from hake.engine.infer.runner import read_image

    torch.set_num_threads(1)
    photos = load_photo_set(args.images, args.instances, args.keypoints)
    return photos, {i: read_image(photos.file_of(i)) for i in photos.image_ids}


def seeded_halves(ids: list[int], seed: int) -> list[list[int]]:
    """The two halves (sorted image ids) of a seeded permutation of ``ids``."""
    import numpy as np

    perm = np.random.default_rng(seed).permutation(len(ids))
    return [sorted(ids[k] for k in perm[: len(ids) // 2]), sorted(ids[k] for k in perm[len(ids) // 2:])]


def main() -> None:
    args = photo_arguments(__doc__)

    import numpy as np

    from hake.engine.bench.photo_metrics import perception_metrics
    from hake.engine.bench.photos import coco_rows
    from hake.engine.infer import pipeline as P

    photos, images = load_photos(args)
    ids = photos.image_ids
    default = (P.hub.DEFAULT_PERSON_THRESHOLD, P.SINGLE_POSE_MIN_AREA, P.LARGE_POSE_MIN_SCORE, P.LARGE_POSE_MIN_AREA)
    grid = sorted(set(itertools.product((0.10, 0.12, 0.15), (32.0 ** 2, 40.0 ** 2, 48.0 ** 2),
                                        (0.3, 0.5), (150.0 ** 2, 250.0 ** 2, INF))) | {default})
    grid = [g for g in grid if g[3] != INF or g[2] == 0.3] + [BASELINE]
    pipes: dict[float, object] = {}
    runs: dict[tuple[float, ...], tuple[dict, dict, dict]] = {}
    for cand in grid:
        thr, single_area, large_score, large_area = cand
        cfg = P.PipelineConfig(person_threshold=thr)
        if thr not in pipes:
            pipe = P.build_pipeline(config=cfg, threads=1)
            pipe.detector = pipe.pose.detector = Memo(pipe.detector)
            pipe.pose.single, pipe.pose.large = Memo(pipe.pose.single), Memo(pipe.pose.large)
            pipes[thr] = pipe
        pipe = pipes[thr]
        pipe.pose.single_min_area, pipe.pose.large_min_score, pipe.pose.large_min_area = (
            single_area, large_score, large_area)
        runs[cand] = run_candidate(pipe, images, coco_rows)
        print(f"ran {cand}: {runs[cand][2]}", flush=True)

    def score(cand, subset):
        boxes, poses, cost = runs[cand]
        m = perception_metrics(photos.instances, photos.keypoints, [r for i in subset for r in boxes[i]],
                               [r for i in subset for r in poses[i]], subset)
        return {**m, **cost}

    def affordable(cand) -> bool:
        cost = runs[cand][2]
        return cost["pose_runs_per_photo"] <= MAX_POSE_RUNS and cost["persons_per_photo"] <= MAX_PERSONS

    def choose(subset):
        return max((c for c in grid if affordable(c)), key=lambda c: (s := score(c, subset))["person_ap"]
                   + s["keypoint_ap"])

    name = ("person_threshold", "single_min_area", "large_min_score", "large_min_area")
    report = {"protocol": "2-fold splits by image id (seeded); choose on one half, report the other",
              "default": dict(zip(name, default)), "baseline": dict(zip(name, BASELINE)), "folds": []}
    on_all = choose(ids)
    report["chosen_on_all"] = {**dict(zip(name, on_all)), **score(on_all, ids)}
    labels = ("chosen_on_other_half", "default_on_other_half", "baseline_on_other_half")
    for seed in args.seeds:
        halves = seeded_halves(ids, seed)
        for k in (0, 1):
            pick, other = halves[k], halves[1 - k]
            chosen = choose(pick)
            fold = {"seed": seed, "chosen_on": f"half {k + 1}", "chosen": dict(zip(name, chosen)),
                    labels[0]: score(chosen, other), labels[1]: score(default, other),
                    labels[2]: score(BASELINE, other)}
            report["folds"].append(fold)
            for label in labels:
                f = fold[label]
                print(f"seed {seed} fold {k + 1} {label:24s} person AP {f['person_ap']:.3f}  "
                      f"AR-large {f['person_ar_large']:.3f}  keypoint AP {f['keypoint_ap']:.3f}  "
                      f"pose runs {f['pose_runs_per_photo']:.2f}  persons {f['persons_per_photo']:.2f}")
            print(f"seed {seed} fold {k + 1} chosen: {fold['chosen']}")
    summary = {}
    for label in labels:
        for key in ("person_ap", "person_ar_large", "keypoint_ap"):
            values = np.array([f[label][key] for f in report["folds"]])
            summary[f"{label}.{key}"] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1))}
            print(f"{label:24s} {key:16s} {values.mean():.3f} ± {values.std(ddof=1):.3f} over {len(values)} folds")
    report["summary"] = summary
    print(f"chosen on all photos: {report['chosen_on_all']}")
    if args.json:
        args.json.write_text(json.dumps(finite(report), indent=2, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
