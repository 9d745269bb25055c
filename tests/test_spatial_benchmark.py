"""The shipped Spatial-PaSta weights and ``hake benchmark spatial`` on the real HICO-DET test GT."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from typer.testing import CliRunner

from hake.cli import app
from hake.datasets.hicodet import load_test_gt
from hake.engine.bench.spatial import run_spatial_benchmark, subset_gt
from hake.models.spatial import SpatialPasta, load_spatial_pasta
from hake.structures.contracts import PairBatch
from hake.vocab import load
from hake.zoo import create_model

V = load()
REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "spatial"


def test_shipped_weights_load_from_the_zoo() -> None:
    model = create_model("spatial_pasta.hake_hicodet")
    assert isinstance(model, SpatialPasta) and not model.training
    counts = model.hoi_counts.numpy()
    assert counts.sum() > 50_000 and (counts[V.rare_hois] < 10).all()
    # a person on top of a horse rides it rather than feeds it
    horse = V.objects.index("horse")
    batch = PairBatch((640, 480), np.array([[250, 40, 360, 330]], np.float32),
                      np.array([[120, 150, 520, 470]], np.float32), np.array([horse]))
    out = model.predict(batch)
    ride, feed = 139, 129
    assert out.hoi[0, ride] > 0.5 > out.hoi[0, feed]


def test_cli_writes_the_report(hicodet_test_gt, tmp_path) -> None:
    out = tmp_path / "spatial.json"
    res = CliRunner().invoke(app, ["benchmark", "spatial", "--gt", str(hicodet_test_gt), "--json", str(out),
                                   "--max-images", "120", "--seeds", "3"])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["protocol"] == "gt_pairs_raw"
    assert set(report["results"]) == {"spatial_pasta", "object_prior", "chance"}
    for name, method in report["results"].items():
        assert method["seeds"] == (1 if name == "spatial_pasta" else 3)
        for mode in ("default", "known_object"):
            assert set(method[mode]) == {"full", "rare", "non_rare"}
            assert 0 <= method[mode]["full"] <= 1 and method["sd"][mode]["full"] >= 0
    assert report["results"]["chance"]["sd"]["default"]["full"] > 0  # different seeds, different draws
    assert report["num_images"] == 120 and report["num_pairs"] > 120
    classes = report["classes"]  # the means average all 600 / 138 / 462 HOIs, as the official code
    assert (classes["full"], classes["rare"], classes["non_rare"]) == (600, 138, 462)
    assert 0 < classes["full_with_gt"] < 600  # 120 images do not hold a GT pair of every HOI
    assert classes["full_with_gt"] == classes["rare_with_gt"] + classes["non_rare_with_gt"]
    assert "| spatial_pasta |" in res.output and "IDN" in res.output
    assert f"means over 600 / 138 / 462 HOIs (Full / Rare / Non-Rare), {classes['full_with_gt']} /" in res.output


def test_merged_protocol_has_fewer_candidates(hicodet_test_gt, tmp_path) -> None:
    counts = {}
    for protocol in ("gt_pairs_raw", "gt_pairs_merged"):
        out = tmp_path / f"{protocol}.json"
        res = CliRunner().invoke(app, ["benchmark", "spatial", "--gt", str(hicodet_test_gt), "--json", str(out),
                                       "--max-images", "60", "--seeds", "1", "--protocol", protocol])
        assert res.exit_code == 0, res.output
        report = json.loads(out.read_text())
        assert report["protocol"] == protocol
        counts[protocol] = report["num_pairs"]
    assert counts["gt_pairs_merged"] < counts["gt_pairs_raw"]


def test_cli_names_a_bad_gt_file(tmp_path) -> None:
    bad = tmp_path / "instances_test2015.json"
    bad.write_text(json.dumps({"annotation": [{}], "filenames": ["a.jpg"]}))
    res = CliRunner().invoke(app, ["benchmark", "spatial", "--gt", str(bad)])
    assert res.exit_code == 2
    assert "instances_test2015.json" in res.output and "size" in res.output


@pytest.mark.slow
def test_spatial_pasta_beats_the_object_prior_on_real_gt_pairs(hicodet_test_gt) -> None:
    gt = load_test_gt(hicodet_test_gt)
    sub = subset_gt(gt, np.arange(0, len(gt), 4))  # every 4th test image
    report = run_spatial_benchmark(sub, [create_model("spatial_pasta.hake_hicodet")], seeds=2)
    res = report["results"]
    spatial, prior, chance = res["spatial_pasta"], res["object_prior"], res["chance"]
    assert spatial["default"]["full"] > max(prior["default"]["full"], chance["default"]["full"]) + 0.05
    assert spatial["known_object"]["non_rare"] > prior["known_object"]["non_rare"]


def test_zoo_finds_the_loader_without_importing_the_model_module() -> None:
    code = ("from hake.zoo import create_model; m = create_model('spatial_pasta.hake_hicodet'); "
            "print(type(m).__name__, m.training)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.stdout.split() == ["SpatialPasta", "False"]


def test_training_tool_runs_end_to_end_on_a_real_excerpt(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("train_spatial", REPO / "tools" / "train_spatial.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "spatial.safetensors"
    assert tool.main(["--annotation", str(FIXTURES / "hake_hicodet_first40.json"), "--out", str(out),
                      "--epochs", "1", "--max-pairs", "100"]) == 0
    model = load_spatial_pasta(out)
    with safe_open(str(out), framework="pt") as fh:
        meta = json.loads(fh.metadata()["hake"])
    assert meta["config"]["map_size"] == 64
    assert meta["reproduce"].startswith("python tools/train_spatial.py --annotation hake_hicodet_first40.json")
    assert meta["seed"] == "0"
    assert 0 < model.hoi_counts.sum() <= 96  # labelled pairs of the excerpt, after subsampling
