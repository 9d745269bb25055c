"""Scale-out and export figures: ``hake infer`` images/s with 1 process vs Ray, PyTorch vs ONNX latency.

    python benchmarks/scale.py [--images examples] [--copies 6] [--workers 2] [--persons 8] [--json OUT]

1. Throughput: the sample photos, each copied ``--copies`` times into a temporary folder, are run
   through the default pipeline (detector, pose, Spatial-PaSta) once in this process
   (:func:`hake.engine.runner.run_jobs`) and once on a local Ray instance with ``--workers`` actors
   (:func:`hake.engine.batch.run_pipeline_on_ray`). Each worker uses one thread. Reported: images/s
   of the processing itself and of the whole call (Ray start-up included); outputs are compared.
2. Latency: every exportable model (Spatial-PaSta: the shipped default, or its architecture with
   seeded weights when not installed; the five PaSta-R reasoners with the GT-HAKE widths;
   Activity2Vec EfficientNet-Lite0 with ImageNet backbone and untrained heads on a 384×512 image) is
   exported to ONNX and its graph is timed in PyTorch and onnxruntime (1 thread each) on
   ``--persons`` rows, median of ``--reps`` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]


def throughput(images: list[Path], copies: int, workers: int, work: Path) -> dict:
    from hake.engine.infer.pipeline import build_pipeline
    from hake.engine.infer.ray_runner import run_pipeline_on_ray
    from hake.engine.infer.runner import collect_jobs, run_jobs

    src = work / "in"
    src.mkdir()
    for k in range(copies):
        for p in images:
            shutil.copy(p, src / f"{p.stem}_{k}{p.suffix}")
    n = copies * len(images)

    def make_pipeline():
        import torch

        from hake.engine.infer.pipeline import load_pasta_model
        from hake.errors import HakeError

        torch.set_num_threads(1)
        try:
            pasta = load_pasta_model()
        except HakeError:  # zoo default not installed: same architecture, seeded weights (same speed)
            from hake.models.spatial import SpatialPasta

            torch.manual_seed(0)
            pasta = SpatialPasta().eval()
        return build_pipeline(pasta, threads=1)

    jobs, _ = collect_jobs([src], work / "single")
    pipeline = make_pipeline()  # models loaded outside the timed region, as Ray workers do before their first input
    t0 = time.perf_counter()
    single = run_jobs(jobs, lambda: pipeline, progress=False)
    t_single = time.perf_counter() - t0
    jobs_ray, _ = collect_jobs([src], work / "ray")
    report = run_pipeline_on_ray(jobs_ray, make_pipeline, workers=workers)
    same = all((work / "single" / j.out_json.name).read_text() == j.out_json.read_text() for j in jobs_ray
               if j.out_json.exists())
    return {
        "images": n, "workers": workers, "single_done": len(single.done), "ray_done": len(report.done),
        "single_images_per_s": n / t_single, "ray_images_per_s": report.throughput,
        "ray_images_per_s_once_started": report.steady_throughput,
        "ray_images_per_s_with_startup": len(report.done) / report.seconds if report.seconds else 0.0,
        "single_seconds": t_single, "ray_run_seconds": report.run_seconds, "ray_total_seconds": report.seconds,
        "outputs_identical": same,
    }


def _median_ms(fn, reps: int, *args) -> float:
    """Median wall time of ``fn(*args)`` in milliseconds over ``reps`` calls, after one warm-up call."""
    fn(*args)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def latency(persons: int, reps: int, work: Path) -> list[dict]:
    import numpy as np
    import torch

    from hake.errors import HakeError
    from hake.export.graphs import a2v_example, eval_mode, family_of
    from hake.export.onnx_export import export_onnx, load_source, read_info, run_session, session

    torch.set_num_threads(1)
    from hake.engine.train.pasta_r import PROFILE
    from hake.models.a2v_predictor import A2VPredictor
    from hake.models.activity2vec import A2VSpec, Activity2Vec
    from hake.models.pasta_r import InSpec, PastaR
    from hake.models.spatial import SpatialPasta

    models: list[tuple[str, object]] = []
    try:
        models.append(("spatial_pasta.hake_hicodet", load_source("zoo:spatial_pasta.hake_hicodet")[0]))
    except HakeError:  # not installed: the same architecture with seeded weights (the same speed)
        torch.manual_seed(0)
        models.append(("spatial_pasta (default architecture, seeded weights)", SpatialPasta()))
    for kind, prof in PROFILE.items():  # the GT-HAKE reasoners, PaSta-76 + part flags + objects
        torch.manual_seed(0)
        models.append((f"pasta_r {kind} (hidden {prof['hidden'] or '-'})",
                       PastaR(kind, InSpec.pasta(parts=True, objects=True), hidden=prof["hidden"])))

    models.append(("activity2vec (EfficientNet-Lite0, 1 image 384x512)", A2VPredictor(Activity2Vec(A2VSpec()).eval())))
    rows = []
    for name, model in models:
        path = work / f"{len(rows)}.onnx"
        export_onnx(model, path)
        sess = session(path)
        info = read_info(path, sess)
        graph = family_of(model).graph(model)
        if info.family == "activity2vec":
            ex = list(a2v_example(len(info.inputs) > 6))
            ex[0] = torch.rand(1, 3, 384, 512)
            idx = torch.arange(persons) % 3
            ex[1:] = [t[idx] if t.ndim and t.shape[0] == 3 else t for t in ex[1:]]
            ex[4] = torch.zeros(persons, dtype=torch.int64)
        else:
            ex = [t[torch.arange(persons) % t.shape[0]] for t in graph.example]
        feed = {n: t.numpy() for n, t in zip(info.inputs, ex)}
        with eval_mode(graph.module), torch.no_grad():
            t_torch = _median_ms(graph.module, reps, *ex)
            ref = [t.numpy() for t in graph.module(*ex)]
        t_onnx = _median_ms(run_session, reps, sess, info, feed)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(run_session(sess, info, feed).values(), ref))
        rows.append({"model": name, "family": info.family, "persons": persons, "torch_ms": t_torch,
                     "onnx_ms": t_onnx, "speedup": t_torch / t_onnx, "max_abs_diff": diff})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, default=REPO / "examples")
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--persons", type=int, default=8)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from hake.engine.infer.runner import IMAGE_SUFFIXES

    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    result: dict = {"cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_throughput:
            (Path(tmp) / "tp").mkdir()
            result["throughput"] = throughput(images, args.copies, args.workers, Path(tmp) / "tp")
            tp = result["throughput"]
            print(f"hake infer on {tp['images']} images: 1 process {tp['single_images_per_s']:.2f} img/s, "
                  f"Ray {tp['workers']} workers {tp['ray_images_per_s']:.2f} img/s "
                  f"({tp['ray_images_per_s_with_startup']:.2f} with Ray start-up, "
                  f"{tp['ray_images_per_s_once_started']:.2f} once the workers are up); "
                  f"identical: {tp['outputs_identical']}")
        result["latency"] = latency(args.persons, args.reps, Path(tmp))
    print("| model | persons | PyTorch ms | ONNX ms | speed-up | max abs diff |")
    print("|---|---|---|---|---|---|")
    for r in result["latency"]:
        print(f"| {r['model']} | {r['persons']} | {r['torch_ms']:.2f} | {r['onnx_ms']:.2f} | {r['speedup']:.1f}x "
              f"| {r['max_abs_diff']:.1e} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
