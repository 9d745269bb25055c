"""Optional oracle: the unmodified Python originals vs hake on random tie-heavy files.

Runs only when ``HAKE_ORIGINALS`` names a folder holding ``vsrl_eval.py`` (s-gupta/v-coco) and
``get_ava_performance.py`` with its ``ava/`` package (activitynet/ActivityNet ``Evaluation/``; for the
``v2019`` protocol also that file as of ActivityNet commit 3fee089, 2019-03-01, saved as
``get_ava_performance_v2019.py``: the version with the exclusions file), and
``pycocotools`` is importable; the originals are not part of hake. They run in a subprocess with
the smallest numpy-2 shims they need (``np.float``, ``np.NAN``; in ``vsrl_eval.py`` a size-1 array
assigned to a scalar slot is indexed ``[0]``), so their own ``argsort()[::-1]`` calls run unchanged.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hake.datasets.ava import read_ava_csv, read_exclusions, read_labelmap
from hake.datasets.vcoco import load_vcoco_detections, load_vcoco_gt
from hake.evaluation.ava import evaluate_ava
from hake.evaluation.vcoco import evaluate_vcoco
from test_eval_ava import LABELMAP, tie_heavy_rows, write

ORIGINALS = Path(os.environ.get("HAKE_ORIGINALS", "/nonexistent"))
ACTIONS = [("stand", ["agent"]), ("hold", ["agent", "obj"]), ("cut", ["agent", "instr", "obj"]),
           ("look", ["agent", "obj"])]

RUN_VCOCO = """
import contextlib, io, json, sys, types
import numpy as np
src = open(sys.argv[1] + "/vsrl_eval.py").read()
src = src.replace("role_id[i, j - 1] = aid\\n", "role_id[i, j - 1] = aid[0]\\n")  # numpy >= 2.4
mod = types.ModuleType("vsrl_eval"); exec(compile(src, "vsrl_eval.py", "exec"), mod.__dict__)
aps, real = [], mod.voc_ap
mod.voc_ap = lambda r, p: aps.append(float(real(r, p))) or aps[-1]
with contextlib.redirect_stdout(io.StringIO()):
    ev = mod.VCOCOeval(*sys.argv[2:5])
    ev._do_eval(sys.argv[5], ovr_thresh=0.5)
print(json.dumps(aps))
"""

RUN_AVA = """
import contextlib, io, json, sys
import numpy as np
np.float, np.NAN = float, np.nan  # removed in numpy 1.24 / 2.0
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/ava"]
import get_ava_performance as G
from ava import object_detection_evaluation as ODE
out, real = {}, ODE.PascalDetectionEvaluator.evaluate
def grab(self):
    m = real(self)
    out["ap"] = [None if v != v else float(v) for v in self._evaluation.average_precision_per_class]
    return m
ODE.PascalDetectionEvaluator.evaluate = grab
with contextlib.redirect_stdout(io.StringIO()), open(sys.argv[2]) as l, open(sys.argv[3]) as g, open(sys.argv[4]) as d:
    G.run_evaluation(l, g, d)
print(json.dumps(out["ap"]))
"""


RUN_AVA_V2019 = RUN_AVA.replace("import get_ava_performance as G", "import get_ava_performance_v2019 as G").replace(
    "open(sys.argv[4]) as d:\n    G.run_evaluation(l, g, d)",
    "open(sys.argv[4]) as d, open(sys.argv[5]) as e:\n    G.run_evaluation(l, g, d, e)")


def _available() -> None:
    if not (ORIGINALS / "vsrl_eval.py").exists() or not (ORIGINALS / "get_ava_performance.py").exists():
        pytest.skip("set HAKE_ORIGINALS to a folder with vsrl_eval.py and get_ava_performance.py + ava/")
    pytest.importorskip("pycocotools")


def vcoco_files(seed: int, tmp: Path) -> tuple[Path, Path, Path, Path]:
    """COCO instances, vcoco JSON, split ids and a detection pickle in the official layouts."""
    rng = np.random.default_rng(seed)
    images, anns, persons, objects = [], [], [], {}
    for i in range(int(rng.integers(2, 6))):
        img = 100 + i
        images.append({"id": img, "width": int(rng.integers(60, 120)), "height": int(rng.integers(60, 120))})
        objects[img] = []
        for kind in [1] * int(rng.integers(1, 4)) + [44] * int(rng.integers(0, 3)):
            x, y, w, h = (float(v) for v in (*rng.integers(0, 45, 2), *rng.integers(5, 40, 2)))
            anns.append({"id": len(anns) + 1, "image_id": img, "category_id": kind, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0})
            (persons.append((len(anns), img)) if kind == 1 else objects[img].append(len(anns)))
    coco = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"},
                                                                    {"id": 44, "name": "knife"}]}
    labelled = [p for p in persons if rng.random() < 0.8] or persons[:1]
    vcoco = []
    for name, roles in ACTIONS:
        label = [int(rng.random() < 0.5) for _ in labelled]
        label[int(rng.integers(0, len(label)))] = 1
        cols = [[p[0] for p in labelled]] + [[int(rng.choice(objects[img])) if lab and objects[img] and
                                              rng.random() < 0.7 else 0 for (_, img), lab in zip(labelled, label)]
                                             for _ in roles[1:]]
        vcoco.append({"action_name": name, "role_name": roles, "image_id": [p[1] for p in labelled],
                      "ann_id": cols[0], "label": label, "role_object_id": [x for c in cols for x in c]})
    ids = sorted({p[1] for p in labelled})
    levels = np.round(rng.random(int(rng.integers(1, 4))), 2).tolist()
    box = {a["id"]: a["bbox"] for a in anns}
    dets: list[dict] = []
    for _ in range(int(rng.integers(10, 60))):
        if dets and rng.random() < 0.25:  # duplicated detections
            dets.append(dict(dets[int(rng.integers(0, len(dets)))]))
            continue
        img = int(rng.choice(ids))
        x, y, w, h = box[int(rng.choice([p[0] for p in persons if p[1] == img]))]
        det = {"image_id": img, "person_box": [x, y, x + w - 1 + float(rng.integers(-2, 3)), y + h - 1]}
        for name, roles in ACTIONS:
            det[f"{name}_agent"] = float(rng.choice(levels))
            for r in roles[1:]:
                kind = int(rng.integers(0, 3))
                if kind == 0 and objects[img]:
                    ox, oy, ow, oh = box[int(rng.choice(objects[img]))]
                    rb = [ox, oy, ox + ow - 1, oy + oh - 1]
                else:
                    rb = [0.0] * 4 if kind == 1 else [float(v) for v in rng.integers(0, 50, 4)]
                det[f"{name}_{r}"] = rb + [float(rng.choice(levels))]
        dets.append(det)
    (tmp / "vcoco.json").write_text(json.dumps(vcoco))
    (tmp / "coco.json").write_text(json.dumps(coco))
    (tmp / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (tmp / "dets.pkl").write_bytes(pickle.dumps(dets))
    return tmp / "vcoco.json", tmp / "coco.json", tmp / "ids.txt", tmp / "dets.pkl"


def _run(script: str, *args: Path) -> list | None:
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", script, str(ORIGINALS), *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    return json.loads(proc.stdout) if proc.returncode == 0 else None  # None: the original crashed


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(40))
def test_vcoco_equals_the_unmodified_original(seed: int, tmp_path) -> None:
    _available()
    files = vcoco_files(seed, tmp_path)
    aps = _run(RUN_VCOCO, *files)
    if aps is None:
        pytest.skip("the original crashes on this case (e.g. a split of one image)")
    gt = load_vcoco_gt(*files[:3])
    res = evaluate_vcoco(gt, load_vcoco_detections(files[3], gt.actions, gt.roles))
    pairs = [f"{n}-{r}" for n, roles in ACTIONS for r in roles[1:]]
    mine = ([res.agent_ap[n] for n, _ in ACTIONS] + [res.role_ap_scenario_1[p] for p in pairs]
            + [res.role_ap_scenario_2[p] for p in pairs])
    np.testing.assert_allclose(mine, np.float32(aps), rtol=0, atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(40))
def test_ava_head_equals_the_unmodified_original(seed: int, tmp_path) -> None:
    _available()
    gt_rows, det_rows, _ = tie_heavy_rows(seed)
    (tmp_path / "l.pbtxt").write_text(LABELMAP)
    g, d = write(tmp_path / "g.csv", gt_rows), write(tmp_path / "d.csv", det_rows)
    aps = _run(RUN_AVA, tmp_path / "l.pbtxt", g, d)
    assert aps is not None
    cats, ids = read_labelmap(tmp_path / "l.pbtxt")
    res = evaluate_ava(read_ava_csv(g, ids, 0, "head"), read_ava_csv(d, ids, 50, "head"), cats, None, "head")
    np.testing.assert_allclose(res.per_class_ap, np.array(aps, dtype=float), rtol=0, atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(40))
def test_ava_v2019_equals_the_unmodified_original(seed: int, tmp_path) -> None:
    _available()
    if not (ORIGINALS / "get_ava_performance_v2019.py").exists():
        pytest.skip("get_ava_performance_v2019.py (ActivityNet 3fee089) not in HAKE_ORIGINALS")
    gt_rows, det_rows, excl_rows = tie_heavy_rows(seed)
    gt_rows = [r for r in gt_rows if len(r) > 2]  # 2-column frame rows came with the later format
    (tmp_path / "l.pbtxt").write_text(LABELMAP)
    g, d = write(tmp_path / "g.csv", gt_rows), write(tmp_path / "d.csv", det_rows)
    e = write(tmp_path / "e.csv", excl_rows)
    aps = _run(RUN_AVA_V2019, tmp_path / "l.pbtxt", g, d, e)
    assert aps is not None
    cats, ids = read_labelmap(tmp_path / "l.pbtxt")
    res = evaluate_ava(read_ava_csv(g, ids, 0, "v2019"), read_ava_csv(d, ids, 50, "v2019"), cats,
                       read_exclusions(e, "v2019"), "v2019")
    np.testing.assert_allclose(res.per_class_ap, np.array(aps, dtype=float), rtol=0, atol=1e-9)

