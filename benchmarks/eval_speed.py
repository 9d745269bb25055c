"""Speed and peak memory of the evaluators at benchmark size, on one thread.

    python benchmarks/eval_speed.py --hicodet-gt path/to/instances_test2015.json [--only hicodet,hico,vcoco,ava]
        [--round 2] [--tracemalloc]

Each benchmark runs in its own subprocess so its peak RSS (``ru_maxrss``) is its own; the timed
part is the evaluation call (and, for AVA, also reading the CSV files), after the inputs have
been generated with a fixed seed (``--tracemalloc`` also reports the Python heap peak, at the
cost of slower timings):

- HICO-DET: 9,658 images x 100 detections generated from the real GT with pixel jitter (both modes);
- HICO: 9,658 x 600 labels and scores;
- V-COCO: 4,946 images, ~3 persons each, 100 detections per image, 26 actions;
- AVA: 64 videos x 900 frames, ~400k GT rows, ~14M detection rows (CSV written to a temp folder);
- formats (``--only formats``): reading the HICO-DET detections above written as QPIC pickle,
  Parquet table, one ho-rcnn ``detections.mat`` (600 x 9,658 cells) and hake ``.npz``.

``--round N`` rounds the V-COCO and AVA scores to N decimals, as many models' outputs are written:
then most images hold tied scores and the evaluators (``ties="original"``, the default) make the
original's per-image ``argsort()[::-1]`` call on each of them, the slow case.

Targets (one core): HICO-DET both modes < 2 s, HICO < 0.5 s, AVA < 25 s, V-COCO < 10 s, peak < 2 GB.
Both wall and CPU (process) seconds are printed; on a shared machine the CPU seconds are the
fairer figure, and the "ok" column compares those with the targets.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SEED = 0
ROUND = int(os.environ.get("HAKE_BENCH_ROUND", "-1"))  # set by --round (children read it)


def _scores(values: np.ndarray) -> np.ndarray:
    """The generated scores, rounded to ``--round`` decimals when asked (tie-heavy inputs)."""
    return np.round(values, ROUND).astype(values.dtype) if ROUND >= 0 else values


CPU: dict[str, float] = {}


TRACE = os.environ.get("HAKE_BENCH_TRACEMALLOC") == "1"  # set by --tracemalloc (children read it)


def _timed(fn):
    """Run ``fn`` once: (result, wall seconds, tracemalloc peak bytes or 0); CPU seconds go to ``CPU``.

    tracemalloc (``--tracemalloc``) slows down code that makes many small Python objects (the
    per-image sorts and heap replays on tied scores) several-fold, so it is off for timing runs.
    """
    if TRACE:
        tracemalloc.start()
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    CPU["last"] = time.process_time() - c
    peak = tracemalloc.get_traced_memory()[1] if TRACE else 0
    if TRACE:
        tracemalloc.stop()
    return out, dt, peak


def _hicodet_detections(gt, per_img: int = 100) -> tuple[np.ndarray, ...]:
    """(image, hoi, boxes_h, boxes_o, scores) of ``per_img`` jittered GT-based detections per image."""
    from hake.vocab import load

    rng = np.random.default_rng(SEED)
    v = load()
    per_img = 100
    n = len(gt)
    img = np.repeat(np.arange(n), per_img)
    bh = np.empty((n * per_img, 4))
    bo = np.empty((n * per_img, 4))
    hoi = np.empty(n * per_img, np.int64)
    for i in range(n):  # data generation only (not timed)
        sl = slice(i * per_img, (i + 1) * per_img)
        k = len(gt.hoi[i])
        if k:
            pick = rng.integers(0, k, per_img)
            base_h, base_o = gt.boxes_h[i][pick] - 1, gt.boxes_o[i][pick] - 1
            same_obj = [v.hois_of_object(int(o)) for o in v.hoi_object[gt.hoi[i][pick]]]
            alt = np.array([rng.choice(c) for c in same_obj])
            hoi[sl] = np.where(rng.random(per_img) < 0.5, gt.hoi[i][pick], alt)
        else:
            base_h = base_o = np.tile([100.0, 100.0, 200.0, 300.0], (per_img, 1))
            hoi[sl] = rng.integers(0, 600, per_img)
        bh[sl] = base_h + rng.normal(0, 6, (per_img, 4))
        bo[sl] = base_o + rng.normal(0, 6, (per_img, 4))
    return img, hoi, bh, bo, rng.random(n * per_img)


def bench_hicodet(gt_path: str) -> dict:
    from hake.datasets.hicodet import load_test_gt
    from hake.evaluation.hicodet import evaluate_hicodet

    gt = load_test_gt(gt_path)
    n, per_img = len(gt), 100
    img, hoi, bh, bo, scores = _hicodet_detections(gt, per_img)
    res, dt, peak = _timed(lambda: evaluate_hicodet(gt, img, hoi, bh, bo, scores))
    return {"name": "HICO-DET (Default + Known-Object)", "size": f"{n} images x {per_img} detections",
            "seconds": dt, "tracemalloc_peak_mb": peak / 2**20, "full_default": res.default.full,
            "full_ko": res.known_object.full, "target_s": 2.0}


def bench_formats(gt_path: str) -> dict:
    """Reading the HICO-DET benchmark detections in each ``--format`` (writing is not timed)."""
    import pickle

    import pyarrow as pa
    import pyarrow.parquet as pq
    import scipy.io

    from hake.datasets.hicodet import load_test_gt
    from hake.datasets.hoi_formats import read_detections
    from hake.vocab import load

    gt = load_test_gt(gt_path)
    v = load()
    img, hoi, bh, bo, scores = _hicodet_detections(gt)
    coco = {hico: c for c, hico in v.coco91_to_hico.items()}
    out: dict = {"name": "HICO-DET readers (RSS: incl. writing)", "size": f"{len(img)} detections", "target_s": 60.0}
    with tempfile.TemporaryDirectory() as tmp:
        starts = np.searchsorted(img, np.arange(len(gt) + 1))
        entries = []
        for i in range(len(gt)):
            sl = slice(starts[i], starts[i + 1])
            preds = [{"bbox": b.tolist(), "category_id": 1} for b in bh[sl]]
            preds += [{"bbox": b.tolist(), "category_id": coco[int(v.hoi_object[h])]} for b, h in zip(bo[sl], hoi[sl])]
            k = len(preds) // 2
            entries.append({"file_name": gt.filenames[i], "predictions": preds, "hoi_prediction": [
                {"subject_id": j, "object_id": k + j, "category_id": int(v.hoi_verb[h]) + 1, "score": float(s)}
                for j, (h, s) in enumerate(zip(hoi[sl], scores[sl]))]})
        paths = {"qpic": Path(tmp) / "preds.pkl", "table": Path(tmp) / "dets.parquet", "matlab": Path(tmp) / "all.mat",
                 "hake": Path(tmp) / "dets.npz"}
        paths["qpic"].write_bytes(pickle.dumps(entries))
        np.savez(paths["hake"], image_index=img, hoi=hoi, boxes_h=bh, boxes_o=bo, scores=scores)
        cols = {"image": pa.array(np.array(gt.filenames)[img]), "hoi": hoi}
        for p, b in (("h", bh), ("o", bo)):
            cols.update({f"{p}_{c}": b[:, k] for k, c in enumerate(("x1", "y1", "x2", "y2"))})
        pq.write_table(pa.table({**cols, "score": scores}), paths["table"])
        cells = np.empty((600, len(gt)), dtype=object)
        flat, empty = cells.reshape(-1), np.zeros((0, 9))
        for k in range(flat.size):
            flat[k] = empty
        rows = np.concatenate([bh, bo, scores[:, None]], axis=1)
        for (h, i), sel in _groups(hoi, img):
            cells[h, i] = rows[sel]
        scipy.io.savemat(paths["matlab"], {"all_boxes": cells})
        for fmt, path in paths.items():
            res, dt, _ = _timed(lambda: read_detections(path, gt, fmt))  # noqa: B023
            assert len(res.scores) == len(img)
            out[f"{fmt}_s"], out[f"{fmt}_cpu_s"] = dt, CPU["last"]
    out["seconds"] = max(out[f"{f}_s"] for f in paths)
    CPU["last"] = max(out[f"{f}_cpu_s"] for f in paths)
    out["tracemalloc_peak_mb"] = 0.0
    return out


def _groups(hoi: np.ndarray, img: np.ndarray):
    """((hoi, image), row indices) of every non-empty (HOI, image) cell, rows in input order."""
    key = hoi * (img.max() + 1) + img
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    for part in np.split(order, bounds):
        yield (int(hoi[part[0]]), int(img[part[0]])), part


def bench_hico() -> dict:
    from hake.evaluation.hico import evaluate_hico

    rng = np.random.default_rng(SEED)
    n = 9658
    labels = rng.choice([1.0, -1.0, 0.0, np.nan], size=(n, 600), p=[0.01, 0.09, 0.01, 0.89])
    scores = rng.random((n, 600)) + (labels == 1)
    res, dt, peak = _timed(lambda: evaluate_hico(labels, scores, rng.integers(0, 40, 600)))
    return {"name": "HICO (Default + Known-Object)", "size": f"{n} images x 600 classes", "seconds": dt,
            "tracemalloc_peak_mb": peak / 2**20, "mAP_default": res.default.mAP, "target_s": 0.5}


VCOCO_ROLES = {"hold": ["obj"], "sit": ["instr"], "ride": ["instr"], "look": ["obj"], "hit": ["instr", "obj"],
               "eat": ["obj", "instr"], "jump": ["instr"], "lay": ["instr"], "talk_on_phone": ["instr"],
               "carry": ["obj"], "throw": ["obj"], "catch": ["obj"], "cut": ["instr", "obj"], "work_on_computer":
               ["instr"], "ski": ["instr"], "surf": ["instr"], "skateboard": ["instr"], "drink": ["instr"],
               "kick": ["obj"], "point": ["instr"], "read": ["obj"], "snowboard": ["instr"], "stand": [],
               "smile": [], "run": [], "walk": []}


def bench_vcoco() -> dict:
    from hake.datasets.vcoco import VcocoDetections, VcocoGT
    from hake.evaluation.vcoco import evaluate_vcoco

    rng = np.random.default_rng(SEED)
    actions = list(VCOCO_ROLES)
    roles = [["agent"] + VCOCO_ROLES[a] for a in actions]
    n_img, a_n = 4946, len(actions)
    per = rng.integers(1, 6, n_img)
    p_img = np.repeat(np.arange(n_img), per)
    xy = rng.uniform(0, 400, (len(p_img), 2))
    p_box = np.concatenate([xy, xy + rng.uniform(30, 200, (len(p_img), 2))], 1).astype(np.float32)
    act = (rng.random((len(p_img), a_n)) < 0.1).astype(np.int8)
    act[rng.random(len(p_img)) < 0.1] = -1
    role = np.where(rng.random((len(p_img), a_n, 2, 1)) < 0.8, p_box[:, None, None, :] + 20, -1).astype(np.float32)
    gt = VcocoGT(actions, roles, np.arange(n_img) + 1, p_img, p_box, act, role)
    d_img = np.repeat(np.arange(n_img), 100)
    starts = np.concatenate(([0], np.cumsum(per)[:-1]))
    src = starts[d_img] + (rng.random(len(d_img)) * per[d_img]).astype(int)
    noise = lambda *shape: 8 * rng.standard_normal(shape, dtype=np.float32)  # noqa: E731
    role_boxes = role[src]
    for i in range(0, len(d_img), 50_000):  # in place, a block at a time: keeps generation memory low
        role_boxes[i:i + 50_000] += noise(len(role_boxes[i:i + 50_000]), a_n, 2, 4)
    dets = VcocoDetections(d_img + 1, p_box[src] + noise(len(d_img), 4),
                           _scores(rng.random((len(d_img), a_n), np.float32)), role_boxes,
                           _scores(rng.random((len(d_img), a_n, 2), np.float32)))
    res, dt, peak = _timed(lambda: evaluate_vcoco(gt, dets))
    size = f"{n_img} images x 100 detections" + (f", scores to {ROUND} decimals" if ROUND >= 0 else "")
    return {"name": "V-COCO (agent + role S1 + S2)", "size": size, "seconds": dt,
            "tracemalloc_peak_mb": peak / 2**20, "role_mAP_s1": res.role_mAP_scenario_1, "target_s": 10.0}


def _write_ava(folder: Path, rng: np.random.Generator) -> tuple[Path, Path, Path, int, int]:
    """Write labelmap, GT, detection and exclusion files, one video at a time (bounded memory)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    ts = np.arange(902, 1802)
    labelmap = np.sort(rng.choice(np.arange(1, 81), 60, replace=False))
    (folder / "labelmap.pbtxt").write_text("".join(f'item {{\n  name: "a{i}"\n  id: {i}\n}}\n' for i in labelmap))
    opts = pacsv.WriteOptions(include_header=False)
    schema = pa.schema([("v", pa.string()), ("t", pa.int64())] + [(c, pa.float64()) for c in ("x1", "y1", "x2", "y2")]
                       + [("a", pa.int64()), ("s", pa.float64())])
    n_g = n_d = 0
    with pacsv.CSVWriter(folder / "gt.csv", schema, write_options=opts) as gw, \
            pacsv.CSVWriter(folder / "dets.csv", schema, write_options=opts) as dw:
        for v in range(64):
            n_p = 3 * len(ts)  # three persons per frame
            xy = rng.uniform(0, 0.6, (n_p, 2))
            boxes = np.concatenate([xy, xy + rng.uniform(0.1, 0.4, (n_p, 2))], 1)
            t_of = np.repeat(ts, 3)
            n_lab = rng.integers(1, 5, n_p)
            g = np.repeat(np.arange(n_p), n_lab)
            d = np.repeat(np.arange(n_p), 81)
            d_box = np.clip(boxes[d] + rng.normal(0, 0.02, (len(d), 4)), 0, 1)
            for writer, rows, lab, box, last in (
                    (gw, g, rng.choice(labelmap, len(g)), boxes[g], (g % 7).astype(np.float64)),
                    (dw, d, np.tile(np.arange(81), n_p), d_box, _scores(rng.random(len(d))))):
                cols = [pa.array(np.full(len(rows), f"vid{v:08d}_x")), pa.array(t_of[rows])]
                cols += [pa.array(box[:, k]) for k in range(4)] + [pa.array(lab), pa.array(last)]
                writer.write_table(pa.Table.from_arrays(cols, schema=schema))
            n_g, n_d = n_g + len(g), n_d + len(d)
    (folder / "excl.csv").write_text("".join(f"vid{0:08d}_x,{t}\n" for t in ts[:30]))
    return folder / "labelmap.pbtxt", folder / "gt.csv", folder / "dets.csv", n_g, n_d


def bench_ava() -> dict:
    from hake.datasets.ava import read_ava_csv, read_exclusions, read_labelmap
    from hake.evaluation.ava import evaluate_ava

    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        lm, g, d, n_g, n_d = _write_ava(Path(tmp), rng)
        t0, c0 = time.perf_counter(), time.process_time()
        cats, ids = read_labelmap(lm)
        gt = read_ava_csv(g, ids, 0)
        dets = read_ava_csv(d, ids, 50)
        excl = read_exclusions(Path(tmp) / "excl.csv")
        t_read, c_read = time.perf_counter() - t0, time.process_time() - c0
        res, dt, peak = _timed(lambda: evaluate_ava(gt, dets, cats, excl, "v2019"))
        CPU["last"] += c_read
    size = f"{n_g} GT rows, {n_d} detection rows" + (f", scores to {ROUND} decimals" if ROUND >= 0 else "")
    return {"name": "AVA v2019 (read CSVs + evaluate)", "size": size,
            "seconds": t_read + dt, "read_s": t_read, "evaluate_s": dt, "tracemalloc_peak_mb": peak / 2**20,
            "mAP": res.mAP, "target_s": 25.0}


BENCHES = {"hicodet": bench_hicodet, "hico": bench_hico, "vcoco": bench_vcoco, "ava": bench_ava,
           "formats": bench_formats}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hicodet-gt", default=os.environ.get("HICODET_TEST_GT"), help="instances_test2015.json")
    ap.add_argument("--only", default="hicodet,hico,vcoco,ava")
    ap.add_argument("--round", type=int, default=None, help="round V-COCO / AVA scores to this many decimals")
    ap.add_argument("--tracemalloc", action="store_true", help="also report the Python heap peak (slows timing)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.round is not None:
        os.environ["HAKE_BENCH_ROUND"] = str(args.round)
    if args.tracemalloc:
        os.environ["HAKE_BENCH_TRACEMALLOC"] = "1"
    if args.child:
        fn = BENCHES[args.child]
        out = fn(args.hicodet_gt) if args.child in ("hicodet", "formats") else fn()
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["cpu_seconds"] = CPU["last"]
        print(json.dumps(out))
        return
    results = []
    for name in args.only.split(","):
        if name in ("hicodet", "formats") and not args.hicodet_gt:
            print(f"{name}: skipped (pass --hicodet-gt)")
            continue
        cmd = [sys.executable, __file__, "--child", name] + (["--hicodet-gt", args.hicodet_gt] if args.hicodet_gt
                                                             else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        ok = "ok" if r["cpu_seconds"] < r["target_s"] and r["peak_rss_mb"] < 2048 else "MISSED"
        print(f"{r['name']:<36} {r['size']:<40} {r['seconds']:7.2f} s wall, {r['cpu_seconds']:7.2f} s CPU "
              f"(target {r['target_s']} s)  "
              f"peak RSS {r['peak_rss_mb']:7.0f} MB  tracemalloc {r['tracemalloc_peak_mb']:6.0f} MB  {ok}")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
