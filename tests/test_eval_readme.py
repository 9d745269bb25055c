"""The README's Python evaluation example runs as written (on QPIC-style predictions of the GT pairs)."""

from __future__ import annotations

import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA, readme_python_block
from hake.datasets.hicodet import load_test_gt
from hake.vocab import load

FIXTURE = Path(__file__).parent / "fixtures" / "eval" / "hicodet_test_first20.json"


def readme_example() -> str:
    """The first ``python`` code block of the README's Evaluation section."""
    return readme_python_block("Evaluation")


def write_qpic_predictions(gt_path: Path, out: Path) -> Path:
    """Every GT pair as one QPIC-family triplet (person box, object box with its COCO id, verb)."""
    v = load()
    coco = {hico: c for c, hico in v.coco91_to_hico.items()}
    gt = load_test_gt(gt_path)
    entries = []
    for i in range(len(gt)):
        preds, trips = [], []
        for k, (h, bh, bo) in enumerate(zip(gt.hoi[i], gt.boxes_h[i], gt.boxes_o[i])):
            verb, obj = v.hois[int(h)]
            preds += [{"bbox": (bh - 1).tolist(), "category_id": 1},
                      {"bbox": (bo - 1).tolist(), "category_id": coco[int(obj)]}]
            trips.append({"subject_id": 2 * k, "object_id": 2 * k + 1, "category_id": int(verb) + 1,
                          "score": 1.0 - 0.001 * k})
        entries.append({"file_name": gt.filenames[i], "predictions": preds, "hoi_prediction": trips})
    out.write_bytes(pickle.dumps(entries))
    return out


def run_example(gt_file: Path, tmp_path: Path) -> str:
    code = readme_example()
    names = dict(re.findall(r'(\w+) = read_\w+\("([^"]+)"', code))
    assert set(names) == {"gt", "dets"}, f"the example reads {names}"
    shutil.copy(gt_file, tmp_path / names["gt"])
    write_qpic_predictions(gt_file, tmp_path / names["dets"])
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def printed_numbers(out: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+", out)]


def test_readme_example_runs_as_written_on_the_fixture(tmp_path) -> None:
    out = run_example(FIXTURE, tmp_path)
    gt = load_test_gt(FIXTURE)
    full = len({int(h) for hois in gt.hoi for h in hois}) / 600  # every GT pair found: AP 1 where positives
    assert any(abs(x - full) < 1e-4 for x in printed_numbers(out)), out


def test_readme_example_on_the_real_test_gt(tmp_path) -> None:
    real = SHARED_DATA / "hicodet" / "instances_test2015.json"
    if not real.exists():
        pytest.skip(f"real HICO-DET test GT not available: {real}")
    out = run_example(real, tmp_path)
    assert printed_numbers(out) and all(abs(x - 1.0) < 1e-9 for x in printed_numbers(out)), out
