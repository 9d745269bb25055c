"""Per-stage latency of ``hake infer``'s pipeline on the sample photos and video, 1 thread.

    python benchmarks/pipeline_speed.py [--video PATH] [--frames 100] [--json OUT]
    python benchmarks/pipeline_speed.py --images DATA/coco-mini/train2017 --repeat 3 \
        --compare nanodet_m:0.35 nanodet_m+movenet_multipose:0.1

``--compare DETECTOR:PERSON_THRESHOLD[:LARGE_POSE[:OBJECT_THRESHOLD[:PERCEPTION]]] ...`` times several
perception set-ups on the same photos (``LARGE_POSE``: the pose model of large confident persons with
the fused detector, ``none`` for ``--pose`` on every person; the pipeline's default when left out or
empty; ``OBJECT_THRESHOLD``: the minimum object score, the pipeline's default when left out or empty;
``PERCEPTION``: the ``--perception`` preset, ``balanced`` when left out; an empty
``PERSON_THRESHOLD`` takes the preset's),
interleaved (each photo goes through every set-up in turn, the order reversed every pass, so a
change of machine load hits all alike), and reports seconds per photo (mean ± sd over the passes)
and each set-up's ratio to the first.

Reports milliseconds per frame for each stage (decode, detect, pose, part boxes, pairs, PaSta
model, results, JSON), the share of the pipeline's own overhead (everything but the model calls:
the ONNX runs of detector and pose model and the PaSta model's ``predict``) and the peak resident
memory of the process. Goals: overhead < 20 % of the pipeline time, peak memory < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
STAGES = ("detect", "pose", "part_boxes", "pairs", "pasta", "results")


def measure(pipe, frames, repeat: int = 1) -> dict:
    """Run ``pipe`` on (name, RGB image) pairs; per-stage ms per frame, overhead share."""
    pipe.reset_timings()
    decode = serialise = 0.0
    n = persons = 0
    start = time.perf_counter()
    for _ in range(repeat):
        for name, load in frames:
            t0 = time.perf_counter()
            image = load()
            t1 = time.perf_counter()
            result = pipe(image, source=name)
            t2 = time.perf_counter()
            json.dumps(result.to_dict())
            serialise += time.perf_counter() - t2
            decode += t1 - t0
            n += 1
            persons += len(result.persons)
    wall = time.perf_counter() - start
    pipeline_s = sum(pipe.timings.values())
    model_s = pipe.model_seconds()
    ms = {k: 1000 * pipe.timings.get(k, 0.0) / n for k in STAGES}
    return {
        "frames": n, "persons_per_frame": persons / n,
        "ms_per_frame": {"decode": 1000 * decode / n, **ms, "json": 1000 * serialise / n},
        "pipeline_ms": 1000 * pipeline_s / n, "model_ms": 1000 * model_s / n,
        "overhead_share": (pipeline_s - model_s) / pipeline_s,
        "wall_ms": 1000 * wall / n,
    }


def compare(setups: list[str], photos: list, repeat: int, pose: str, pasta_model: str) -> dict:
    """Seconds per photo of each ``DETECTOR:PERSON_THRESHOLD[:LARGE_POSE[:OBJECT_THRESHOLD[:PERCEPTION]]]``
    set-up, interleaved over ``repeat`` passes."""
    import numpy as np

    from hake.engine.infer.pipeline import PipelineConfig, build_pipeline, person_threshold_for

    pipes = {}
    for setup in setups:
        name, _, rest = setup.partition(":")
        thr, _, rest = rest.partition(":")
        large, _, rest = rest.partition(":")
        obj, _, perception = rest.partition(":")
        perception = perception or "balanced"
        cfg = PipelineConfig(person_threshold=person_threshold_for(float(thr) if thr else None, perception))
        if obj:
            cfg.object_threshold = float(obj)
        extra = {"large_pose": None if large.lower() == "none" else large} if large else {}
        pipes[setup] = build_pipeline(detector=name, pose=pose, config=cfg, pasta_name=pasta_model, threads=1,
                                      perception=perception, **extra)
    images = [load() for _, load in photos]
    for pipe in pipes.values():
        pipe(images[0])  # warm-up
    passes: dict[str, list[float]] = {k: [] for k in pipes}
    persons: dict[str, int] = {k: 0 for k in pipes}
    for r in range(repeat):
        spent = dict.fromkeys(pipes, 0.0)
        for image in images:
            for key in (list(pipes) if r % 2 == 0 else list(pipes)[::-1]):
                t0 = time.perf_counter()
                persons[key] += len(pipes[key](image).persons)
                spent[key] += time.perf_counter() - t0
        for key in pipes:
            passes[key].append(spent[key] / len(images))
    first = np.asarray(passes[setups[0]])
    return {k: {"seconds_per_image": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                "ratio": float(np.mean(np.asarray(v) / first)),
                "persons_per_image": persons[k] / (repeat * len(images))}
            for k, v in passes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=REPO / "examples")
    parser.add_argument("--video", type=Path, help="a video to stream (e.g. OpenCV's vtest.avi)")
    parser.add_argument("--frames", type=int, default=100, help="video frames to process")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the photos")
    parser.add_argument("--pose", default="movenet_lightning")
    parser.add_argument("--pasta-model", default="spatial_pasta.hake_hicodet")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--compare", nargs="+",
                        metavar="DETECTOR:PERSON_THRESHOLD[:LARGE_POSE[:OBJECT_THRESHOLD[:PERCEPTION]]]",
                        help="time these perception set-ups against each other instead")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from hake.engine.infer.pipeline import build_pipeline
    from hake.engine.infer.runner import IMAGE_SUFFIXES, read_image
    from hake.engine.infer.video import iter_frames, open_video

    pipe = build_pipeline(pose=args.pose, pasta_name=args.pasta_model, threads=1)
    photos = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    frames = [(str(p), (lambda p=p: read_image(p))) for p in photos]
    if args.compare:
        figures = compare(args.compare, frames, args.repeat, args.pose, args.pasta_model)
        for key, f in figures.items():
            print(f"{key}: {1000 * f['seconds_per_image']:.1f} ± {1000 * f['sd']:.1f} ms/photo "
                  f"({f['ratio']:.2f}x the first), {f['persons_per_image']:.2f} persons/photo")
        if args.json:
            args.json.write_text(json.dumps({"photos": str(args.images), "compare": figures}, indent=2) + "\n")
        return
    measure(pipe, frames[:1])  # warm-up: first ONNX runs allocate
    report = {"threads": 1, "pose": args.pose, "pasta_model": args.pasta_model,
              "photos": measure(pipe, frames, args.repeat)}
    if args.video:
        cap, info = open_video(args.video)
        cap.release()
        it = iter_frames(args.video, args.frames)
        count = min(args.frames, info.frames) if info.frames else args.frames
        # decoding happens inside the timed loop, one frame at a time
        stream = [(f"{args.video.name}#{k}", (lambda: next(it)[1])) for k in range(count)]
        report["video"] = measure(pipe, stream)
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for key in ("photos", "video"):
        if key not in report:
            continue
        r = report[key]
        stages = "  ".join(f"{k} {v:.1f}" for k, v in r["ms_per_frame"].items())
        print(f"{key}: {r['frames']} frames, {r['persons_per_frame']:.1f} persons/frame; ms/frame: {stages}")
        print(f"  pipeline {r['pipeline_ms']:.1f} ms, model calls {r['model_ms']:.1f} ms, "
              f"overhead {100 * r['overhead_share']:.1f} %")
    print(f"peak memory {report['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    ok = all(report[k]["overhead_share"] < 0.2 for k in ("photos", "video") if k in report)
    sys.exit(0 if ok and report["peak_rss_mb"] < 1536 else 1)


if __name__ == "__main__":
    main()
