"""Speed of the part-box rule, the pose map and the HAKE readers, on one thread.

    python benchmarks/geometry_readers_speed.py [--annotations path/to/hake/annotations]

- part boxes of 10,000 persons (numpy, torch CPU), pose maps (64×64) of 1,000 persons;
- parsing the released HAKE-HICO image-level and HAKE-HICO-DET instance-level tarballs
  (read = gunzip + JSON, parse = validation and records), when ``--annotations`` is given.

Targets (one free core): part boxes < 50 ms per 10k persons, pose maps < 0.5 s per 1k,
instance-level tarball read + parse < 10 s. Wall and CPU seconds are printed; on a shared
machine the CPU seconds are the fairer figure.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def timed(label: str, fn: Callable[[], object], repeat: int = 3) -> None:
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - w), min(best_cpu, time.process_time() - c)
    print(f"{label:<48} wall {best_wall:8.3f} s   cpu {best_cpu:8.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--annotations", type=Path, help="folder holding the two HAKE .tar.gz files")
    args = ap.parse_args()

    import torch

    from hake.geometry import part_boxes, part_boxes_torch, pose_map

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n = 10_000
    kps = np.concatenate([rng.uniform(0, 640, (n, 17, 2)), rng.uniform(0, 1, (n, 17, 1))], 2)
    corner = rng.uniform(0, 400, (n, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(20, 240, (n, 2))], 1)
    timed("part_boxes numpy, 10k persons", lambda: part_boxes(kps, boxes, (640, 480)))
    tk, tb = torch.from_numpy(kps).float(), torch.from_numpy(boxes).float()
    timed("part_boxes torch, 10k persons", lambda: part_boxes_torch(tk, tb, (640, 480)))
    timed("pose_map 64x64, 1k persons", lambda: pose_map(kps[:1000], boxes[:1000]))
    if args.annotations:
        from hake.datasets.hake_json import parse_image_level, parse_instance_level
        from hake.datasets.io import read_json_any

        for name, parse in [("hico-image-level.tar.gz", parse_image_level),
                            ("hico-det-instance-level.tar.gz", parse_instance_level)]:
            path = args.annotations / name
            raw = read_json_any(path)
            timed(f"read {name}", lambda p=path: read_json_any(p), repeat=1)
            timed(f"parse {name}", lambda r=raw, f=parse, w=str(path): f(r, w), repeat=1)


if __name__ == "__main__":
    main()
