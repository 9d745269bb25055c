"""HICO-DET detection formats: one input written as hake / qpic / matlab / table gives identical results.

The writers here are independent of the readers: they follow the layouts in the format docs
(QPIC-family prediction lists, ho-rcnn ``all_boxes`` cells, the long table).
"""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from typer.testing import CliRunner

from hake.cli import app
from hake.datasets.hicodet import HicoDetGT, load_test_gt
from hake.errors import DataError
from hake.evaluation import evaluate_hicodet, read_detections
from hake.vocab import load

FIXTURE = Path(__file__).parent / "fixtures" / "eval" / "hicodet_test_first20.json"
V = load()
HICO_TO_COCO91 = {hico: coco for coco, hico in V.coco91_to_hico.items()}
UNMAPPED = (V.verbs117.index("ride"), V.objects.index("apple"))  # a (verb, object) pair that is no HOI


def make_rows(gt: HicoDetGT, seed: int = 0) -> list[list[list[float]]]:
    """Per GT image, rows [hoi, hx1..hy2, ox1..oy2, score] (0-based): jittered GT pairs, copies with
    another HOI of the same object, duplicates; 2-decimal scores from few levels (many ties)."""
    rng = np.random.default_rng(seed)
    levels = [0.2, 0.5, 0.5, 0.8, 0.95]
    out = []
    for i in range(len(gt)):
        rows = []
        for h, bh, bo in zip(gt.hoi[i], gt.boxes_h[i], gt.boxes_o[i]):
            for _ in range(int(rng.integers(1, 4))):
                hoi = int(h) if rng.random() < 0.7 else int(rng.choice(V.hois_of_object(int(V.hoi_object[h]))))
                jit = lambda b: (b - 1 + rng.integers(-6, 7, 4)).tolist()  # noqa: E731
                rows.append([hoi, *jit(bh), *jit(bo), float(rng.choice(levels))])
        if rows and rng.random() < 0.5:
            rows.append(list(rows[0]))
        out.append(rows)
    return out


def write_hake(path: Path, rows) -> Path:
    path.write_text(json.dumps({"detections": rows}))
    return path


def qpic_entries(gt: HicoDetGT, rows, extra_unmapped: bool = True, arrays: bool = False) -> list[dict]:
    """The QPIC-family list: per image, two predictions per row (human, object) and one triplet."""
    entries = []
    for i, image_rows in enumerate(rows):
        preds, trips = [], []
        for r in image_rows:
            verb, obj = V.hois[int(r[0])]
            box = (lambda b: np.array(b, np.float64)) if arrays else list  # noqa: E731
            preds += [{"bbox": box(r[1:5]), "category_id": 1},
                      {"bbox": box(r[5:9]), "category_id": HICO_TO_COCO91[int(obj)]}]
            trips.append({"subject_id": len(preds) - 2, "object_id": len(preds) - 1, "category_id": int(verb) + 1,
                          "score": np.float64(r[9]) if arrays else r[9]})
        if extra_unmapped and image_rows:
            preds.append({"bbox": [1.0, 1.0, 5.0, 5.0], "category_id": HICO_TO_COCO91[UNMAPPED[1]]})
            trips.append({"subject_id": 0, "object_id": len(preds) - 1, "category_id": UNMAPPED[0] + 1,
                          "score": 0.99})
        entries.append({"file_name": gt.filenames[i], "predictions": preds, "hoi_prediction": trips})
    return entries


def matlab_cells(rows, hois: np.ndarray) -> np.ndarray:
    """ho-rcnn all_boxes: cell (len(hois) x N), each an (n, 9) array [h box, o box, score], 0-based."""
    cells = np.empty((len(hois), len(rows)), dtype=object)
    where = {int(h): k for k, h in enumerate(hois)}
    for k in range(len(hois)):
        for j in range(len(rows)):
            cells[k, j] = np.zeros((0, 9))
    for j, image_rows in enumerate(rows):
        for r in image_rows:
            k = where.get(int(r[0]))
            if k is not None:
                cells[k, j] = np.vstack([cells[k, j], np.array(r[1:], np.float64)[None]])
    return cells


def write_table_csv(path: Path, gt: HicoDetGT, rows) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "hoi", "h_x1", "h_y1", "h_x2", "h_y2", "o_x1", "o_y1", "o_x2", "o_y2", "score"])
        for i, image_rows in enumerate(rows):
            for r in image_rows:
                w.writerow([gt.filenames[i], int(r[0]), *r[1:]])
    return path


def write_every_format(tmp: Path, gt: HicoDetGT, rows) -> dict[str, tuple[Path, str]]:
    """name -> (path, --format) of the same detections in every supported layout."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = {"hake": (write_hake(tmp / "d.json", rows), "hake")}
    entries = qpic_entries(gt, rows)
    (tmp / "q.json").write_text(json.dumps(entries))
    out["qpic-json"] = (tmp / "q.json", "qpic")
    with open(tmp / "q.pkl", "wb") as fh:
        pickle.dump(qpic_entries(gt, rows, arrays=True)[::-1], fh)  # shuffled: matched by file_name
    out["qpic-pickle"] = (tmp / "q.pkl", "qpic")
    unnamed = [{k: v for k, v in e.items() if k != "file_name"} for e in entries]
    (tmp / "q_unnamed.json").write_text(json.dumps(unnamed))
    out["qpic-by-position"] = (tmp / "q_unnamed.json", "qpic")
    scipy.io.savemat(tmp / "detections_all.mat", {"all_boxes": matlab_cells(rows, np.arange(600))})
    out["matlab-all"] = (tmp / "detections_all.mat", "matlab")
    (tmp / "obj").mkdir()
    for k, obj in enumerate(V.coco80_to_hico.tolist()):
        scipy.io.savemat(tmp / "obj" / f"detections_{k + 1:02d}.mat",
                         {"all_boxes": matlab_cells(rows, V.hois_of_object(int(obj)))})
    out["matlab-obj"] = (tmp / "obj", "matlab")
    out["table-csv"] = (write_table_csv(tmp / "t.csv", gt, rows), "table")
    pq.write_table(pacsv.read_csv(tmp / "t.csv"), tmp / "t.parquet")
    out["table-parquet"] = (tmp / "t.parquet", "table")
    return out


def test_every_format_gives_identical_results(tmp_path) -> None:
    gt = load_test_gt(FIXTURE)
    rows = make_rows(gt)
    base = evaluate_hicodet(gt, read_detections(write_hake(tmp_path / "base.json", rows), gt))
    assert base.default.full > 0 and base.options["detections"]["format"] == "hake"
    n_rows = sum(len(r) for r in rows)
    for name, (path, fmt) in write_every_format(tmp_path, gt, rows).items():
        dets = read_detections(path, gt, fmt)
        res = evaluate_hicodet(gt, dets)
        assert len(dets.scores) == n_rows, name
        for a, b in ((res.default, base.default), (res.known_object, base.known_object)):
            np.testing.assert_array_equal(a.per_class_ap, b.per_class_ap, err_msg=name)
            np.testing.assert_array_equal(a.per_class_recall, b.per_class_recall, err_msg=name)
            assert (a.full, a.rare, a.non_rare) == (b.full, b.rare, b.non_rare), name
        info = res.options["detections"]
        assert info["format"] == fmt and info["detections"] == n_rows
        if fmt == "qpic":
            n_img = sum(1 for r in rows if r)
            assert info["unmapped_triplets"] == n_img and info["triplets"] == n_rows + n_img
            assert "ride apple" in info["warnings"][0] and "top-100" in info["note"]


def test_cli_format_option(tmp_path) -> None:
    gt = load_test_gt(FIXTURE)
    rows = make_rows(gt, seed=1)
    paths = write_every_format(tmp_path, gt, rows)
    outs = []
    for name in ("hake", "qpic-pickle", "matlab-obj", "table-parquet"):
        path, fmt = paths[name]
        r = CliRunner().invoke(app, ["eval", "hicodet", "--gt", str(FIXTURE), "--dets", str(path), "--format", fmt,
                                     "--json", str(tmp_path / f"{name}.json")])
        assert r.exit_code == 0, r.output
        out = json.loads((tmp_path / f"{name}.json").read_text())
        outs.append((out["default"], out["known_object"]))
        if fmt == "qpic":
            assert "top-100" in r.output and "map to no HICO-DET HOI" in r.output
    assert all(o == outs[0] for o in outs)
    r = CliRunner().invoke(app, ["eval", "hicodet", "--gt", str(FIXTURE), "--dets", str(paths["hake"][0]),
                                 "--format", "coco"])
    assert r.exit_code == 2 and "unknown detection format" in r.output


def _raises(match: str, path: Path, gt: HicoDetGT, fmt: str) -> None:
    with pytest.raises(DataError, match=match):
        read_detections(path, gt, fmt)


def test_qpic_validation(tmp_path) -> None:
    gt = load_test_gt(FIXTURE)
    entries = qpic_entries(gt, make_rows(gt), extra_unmapped=False)
    p = tmp_path / "q.json"

    def check(mutate, match: str) -> None:
        bad = json.loads(json.dumps(entries))
        mutate(bad)
        p.write_text(json.dumps(bad))
        _raises(match, p, gt, "qpic")

    check(lambda e: e[0]["hoi_prediction"][0].update(object_id=999),
          r"q\.json.*record '0 \(HICO_test2015_00000001\.jpg\)'.*hoi_prediction\.object_id.*integer in 0\.\.")
    check(lambda e: e[1]["hoi_prediction"][0].update(category_id=118), r"record '1 .*hoi_prediction\.category_id")
    check(lambda e: e[0]["predictions"][1].update(category_id=12), r"12 is not a COCO category id")
    check(lambda e: e[0]["predictions"][0].update(bbox=[1, 2, 3]), r"predictions\.bbox")
    check(lambda e: e[0]["hoi_prediction"][0].pop("score"), r"item 0 has no 'score'.*|field 'hoi_prediction\.score'")
    check(lambda e: e[0]["hoi_prediction"][0].update(score=float("nan")), r"hoi_prediction\.score")
    check(lambda e: e[2].pop("predictions"), r"record '2 .*field 'predictions'")
    check(lambda e: e[3].update(file_name="nope.jpg"), r"record 3.*'nope\.jpg' is not a GT image")
    check(lambda e: e[4].update(file_name=e[5]["file_name"]), r"has two entries")
    check(lambda e: e[4].pop("file_name"), r"some entries carry a file name")
    for e in entries:
        e.pop("file_name")
    p.write_text(json.dumps(entries[:5]))
    _raises(r"5 entries for 20 GT images", p, gt, "qpic")
    p.with_suffix(".pkl").write_bytes(pickle.dumps([{"predictions": [], "hoi_prediction": [], "x": Path("/")}]))
    _raises(r"q\.pkl.*refused or corrupt pickle", p.with_suffix(".pkl"), gt, "qpic")


def test_matlab_and_table_validation(tmp_path) -> None:
    gt = load_test_gt(FIXTURE)
    rows = make_rows(gt)
    cells = matlab_cells(rows, np.arange(600))
    scipy.io.savemat(tmp_path / "short.mat", {"all_boxes": cells[:, :5]})
    _raises(r"short\.mat.*field 'all_boxes'.*600 x 20 cell array", tmp_path / "short.mat", gt, "matlab")
    cells[V.hois_of_object(0)[0], 3] = np.zeros((2, 5))
    scipy.io.savemat(tmp_path / "narrow.mat", {"all_boxes": cells})
    _raises(r"narrow\.mat.*record 'HOI row 1, image 4'.*\(n, 9\)", tmp_path / "narrow.mat", gt, "matlab")
    cells[V.hois_of_object(0)[0], 3] = np.full((1, 9), np.nan)
    scipy.io.savemat(tmp_path / "nan.mat", {"all_boxes": cells})
    _raises(r"nan\.mat.*HOI row 1, image 4.*NaN", tmp_path / "nan.mat", gt, "matlab")
    (tmp_path / "obj").mkdir()
    _raises(r"detections_01\.mat.*missing per-object file", tmp_path / "obj", gt, "matlab")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file")
    _raises(r"junk\.mat.*not a readable \.mat file", tmp_path / "junk.mat", gt, "matlab")

    t = write_table_csv(tmp_path / "t.csv", gt, rows)
    lines = t.read_text().splitlines()
    (tmp_path / "name.csv").write_text("\n".join(lines[:3] + ["x.jpg" + lines[3][lines[3].index(","):]]) + "\n")
    _raises(r"name\.csv.*row 2.*field 'image'.*'x\.jpg' is not a GT image", tmp_path / "name.csv", gt, "table")
    (tmp_path / "cols.csv").write_text("\n".join([lines[0].replace(",score", ",conf")] + lines[1:]) + "\n")
    _raises(r"cols\.csv.*field 'score'.*missing column", tmp_path / "cols.csv", gt, "table")
    bad = lines[4].split(",")
    bad[1] = "600"
    (tmp_path / "hoi.csv").write_text("\n".join(lines[:4] + [",".join(bad)]) + "\n")
    _raises(r"hoi\.csv.*row 3 \(image .*field 'hoi'", tmp_path / "hoi.csv", gt, "table")
    bad[1], bad[3] = "3", ""
    (tmp_path / "empty.csv").write_text("\n".join(lines[:4] + [",".join(bad)]) + "\n")
    _raises(r"empty\.csv.*row 3.*field 'h_y1'", tmp_path / "empty.csv", gt, "table")
    _raises(r"unknown detection format 'coco'", t, gt, "coco")


def test_readers_do_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, hake.evaluation, hake.datasets.hoi_formats; "
            "print([m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
