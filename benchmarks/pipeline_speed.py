"""Per-stage latency of ``hake infer``'s pipeline on the sample photos and video, 1 thread.

    python benchmarks/pipeline_speed.py [--video PATH] [--frames 100] [--json OUT]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=REPO / "examples")
    parser.add_argument("--video", type=Path, help="a video to stream (e.g. OpenCV's vtest.avi)")
    parser.add_argument("--frames", type=int, default=100, help="video frames to process")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the photos")
    parser.add_argument("--pose", default="movenet_lightning")
    parser.add_argument("--pasta-model", default="spatial_pasta.hake_hicodet")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from hake.engine.infer.pipeline import build_pipeline
    from hake.engine.infer.runner import IMAGE_SUFFIXES, read_image
    from hake.engine.infer.video import iter_frames, open_video

    pipe = build_pipeline(pose=args.pose, pasta_name=args.pasta_model, threads=1)
    photos = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    frames = [(str(p), (lambda p=p: read_image(p))) for p in photos]
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
