"""``hake eval ...`` end to end on small files: JSON report keys, tables, plots, clean errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hake.cli import app
from hake.datasets.hicodet import load_test_gt

FIXTURE = Path(__file__).parent / "fixtures" / "eval" / "hicodet_test_first20.json"
runner = CliRunner()


def own_pairs(gt_path: Path, out: Path) -> Path:
    """The GT pairs as detections (0-based: minus 1), score decreasing with the row."""
    gt = load_test_gt(gt_path)
    rows = [[[int(h), *(bh - 1).tolist(), *(bo - 1).tolist(), 1.0 - 0.01 * k]
             for k, (h, bh, bo) in enumerate(zip(gt.hoi[i], gt.boxes_h[i], gt.boxes_o[i]))] for i in range(len(gt))]
    out.write_text(json.dumps({"detections": rows}))
    return out


def test_hicodet_json_table_and_plots(tmp_path) -> None:
    dets = own_pairs(FIXTURE, tmp_path / "dets.json")
    r = runner.invoke(app, ["eval", "hicodet", "--gt", str(FIXTURE), "--dets", str(dets),
                            "--json", str(tmp_path / "out.json"), "--plot", str(tmp_path / "plots")])
    assert r.exit_code == 0, r.output
    assert "HICO-DET" in r.output and "known object" in r.output
    out = json.loads((tmp_path / "out.json").read_text())
    gt = load_test_gt(FIXTURE)
    has = np.bincount(np.concatenate(gt.hoi), minlength=600) > 0
    for mode in ("default", "known_object"):
        assert set(out[mode]) >= {"full", "rare", "non_rare", "per_class_ap"}
        ap = np.array(out[mode]["per_class_ap"])
        np.testing.assert_allclose(ap[has], 1.0, atol=1e-12)
        assert out[mode]["full"] == pytest.approx(has.sum() / 600)
    assert (tmp_path / "plots" / "hicodet_default_pr_curves.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "hicodet_default_per_class_ap.png").stat().st_size > 1000


def test_hicodet_bad_input_is_one_line(tmp_path) -> None:
    rows = [[] for _ in range(20)]
    rows[3] = [[600, 0, 0, 5, 5, 0, 0, 5, 5, 0.5]]
    (tmp_path / "d.json").write_text(json.dumps({"detections": rows}))
    r = runner.invoke(app, ["eval", "hicodet", "--gt", str(FIXTURE), "--dets", str(tmp_path / "d.json")])
    assert r.exit_code == 2
    assert "d.json" in r.output and "row 0 (image 3)" in r.output and "hoi" in r.output
    (tmp_path / "d.json").write_text(json.dumps({"detections": rows[:5]}))
    r = runner.invoke(app, ["eval", "hicodet", "--gt", str(FIXTURE), "--dets", str(tmp_path / "d.json")])
    assert r.exit_code == 2 and "one list per GT image (20), got 5" in r.output


def test_hico(tmp_path) -> None:
    images = [{"pos": [i], "neg": [(i + 1) % 600]} for i in range(6)]
    (tmp_path / "a.json").write_text(json.dumps({"list_test": [f"{i}.jpg" for i in range(6)], "images": images,
                                                  "train_pos_count": [3] * 600}))
    scores = np.zeros((6, 600))
    scores[np.arange(6), np.arange(6)] = 1.0
    (tmp_path / "p.json").write_text(json.dumps({"scores": scores.tolist()}))
    r = runner.invoke(app, ["eval", "hico", "--anno", str(tmp_path / "a.json"), "--pred", str(tmp_path / "p.json"),
                            "--json", str(tmp_path / "o.json"), "--plot", str(tmp_path / "pl")])
    assert r.exit_code == 0, r.output
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["default"]["mAP"] == pytest.approx(1.0) and out["default"]["few@5"] == pytest.approx(1.0)
    assert out["default"]["few@1"] is None and out["known_object"]["n_classes"]["mAP"] == 6
    assert len(out["known_object"]["per_class_ap"]) == 600


def test_vcoco(tmp_path) -> None:
    from test_eval_vcoco import write_dataset

    v, c, ids = write_dataset(tmp_path)
    dets = [{"image_id": 1, "person_box": [10, 10, 39, 59], "hold_agent": 0.9, "hold_obj": [50, 20, 59, 29, 0.9]}]
    (tmp_path / "d.json").write_text(json.dumps(dets))
    r = runner.invoke(app, ["eval", "vcoco", "--vcoco", str(v), "--coco", str(c), "--split", str(ids),
                            "--dets", str(tmp_path / "d.json"), "--json", str(tmp_path / "o.json"),
                            "--plot", str(tmp_path / "pl")])
    assert r.exit_code == 0, r.output
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["agent_ap"]["hold"] == 1.0 and out["agent_ap"]["stand"] is None
    assert out["role_ap_scenario_1"]["hold-obj"] == 1.0 and out["role_mAP_scenario_1"] == pytest.approx(1.0)
    assert "warning" in r.output and (tmp_path / "pl" / "vcoco_role_s1_pr_curves.png").exists()
    assert out["options"]["ties"] == "original"
    r = runner.invoke(app, ["eval", "vcoco", "--vcoco", str(v), "--coco", str(c), "--split", str(ids),
                            "--dets", str(tmp_path / "d.json"), "--ties", "stable", "--json", str(tmp_path / "s.json")])
    assert r.exit_code == 0 and json.loads((tmp_path / "s.json").read_text())["options"]["ties"] == "stable"
    r = runner.invoke(app, ["eval", "vcoco", "--vcoco", str(v), "--coco", str(c), "--split", str(ids),
                            "--dets", str(tmp_path / "d.json"), "--ties", "random"])
    assert r.exit_code == 2 and "unknown tie order 'random'" in r.output


def test_ava_and_bad_row(tmp_path) -> None:
    (tmp_path / "l.pbtxt").write_text('item {\n  name: "stand"\n  id: 12\n}\n')

    def write(name: str, rows: list[list]) -> str:
        with open(tmp_path / name, "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
        return str(tmp_path / name)

    g = write("g.csv", [["v", "0902", 0.1, 0.1, 0.5, 0.5, 12, 0], ["v", "0903", 0.1, 0.1, 0.5, 0.5, 12, 0]])
    d = write("d.csv", [["v", "0902", 0.1, 0.1, 0.5, 0.5, 12, 0.9], ["v", "0903", 0.6, 0.6, 0.9, 0.9, 12, 0.8]])
    x = write("x.csv", [["v", "0903"]])
    args = ["eval", "ava", "--labelmap", str(tmp_path / "l.pbtxt"), "--gt", g, "--dets", d]
    r = runner.invoke(app, args + ["--json", str(tmp_path / "o.json"), "--plot", str(tmp_path / "pl")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "o.json").read_text())["mAP"] == pytest.approx(0.5)
    r = runner.invoke(app, args + ["--exclusions", x, "--json", str(tmp_path / "o.json")])
    assert json.loads((tmp_path / "o.json").read_text())["per_class_ap"] == {"stand": 1.0}
    r = runner.invoke(app, args + ["--protocol", "head", "--ties", "stable", "--json", str(tmp_path / "h.json")])
    out = json.loads((tmp_path / "h.json").read_text())
    assert r.exit_code == 0 and out["options"]["ties"] == "stable" and out["options"]["protocol"] == "head"
    bad = write("bad.csv", [["v", "0902", 0.1, 0.1, 0.5, 0.5]])
    r = runner.invoke(app, ["eval", "ava", "--labelmap", str(tmp_path / "l.pbtxt"), "--gt", g, "--dets", bad])
    assert r.exit_code == 2 and "bad.csv" in r.output and "row 0" in r.output and "got 6" in r.output
