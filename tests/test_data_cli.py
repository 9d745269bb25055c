"""``hake data stats`` on the real annotation files (the issue's checked numbers) and on small files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, shared_file
from hake.cli import app
from hake.datasets.stats import detect_format

runner = CliRunner()


def stats(path: Path, *extra: str) -> dict:
    res = runner.invoke(app, ["data", "stats", str(path), "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_real_image_level_tarball() -> None:
    s = stats(shared_file("hake", "annotations", "hico-image-level.tar.gz"))
    assert s["format"] == "hake_image_level" and s["images"] == 38118
    assert s["images_without_hoi"] == 4517 and s["labels"] == sum(s["hoi_histogram"]) == 65273
    assert len(s["hoi_histogram"]) == 600 and len(s["pasta_histogram"]) == 76


def test_real_instance_level_tarball() -> None:
    s = stats(shared_file("hake", "annotations", "hico-det-instance-level.tar.gz"))
    assert s["format"] == "hake_instance_level"
    assert (s["images"], s["labels"], s["labels_without_pasta"]) == (38118, 117654, 15506)
    assert (s["labels_missing_action_labels"], s["labels_empty_action_labels"]) == (15204, 302)
    assert s["images_without_labels"] == 485 and sum(s["hoi_histogram"]) == 117654
    # every labelled instance with part states has one state (or no_interaction) per group: >= 6 per label
    assert sum(s["pasta_histogram"]) >= 6 * (117654 - 15506)


def test_real_hicodet_test_gt() -> None:
    s = stats(shared_file("hicodet", "instances_test2015.json"))
    assert s["format"] == "hicodet_test_gt"
    assert (s["images"], s["pairs"], s["empty_images"]) == (9658, 33405, 112)
    assert sum(s["hoi_histogram"]) == 33405


def test_excerpts_and_the_table_output() -> None:
    s = stats(FIXTURES / "hake" / "instance_level_excerpt.json")
    assert (s["images"], s["labels"], s["labels_without_pasta"], s["images_without_labels"]) == (9, 22, 8, 1)
    assert s["hoi_histogram"][152] == 1 and s["hoi_histogram"][60] == 6  # HOI 61 six times in image 284
    s = stats(FIXTURES / "hake" / "image_level_excerpt.json")
    assert (s["images"], s["labels"], s["images_without_hoi"]) == (6, 9, 2)
    res = runner.invoke(app, ["data", "stats", str(FIXTURES / "hake" / "image_level_excerpt.json")])
    assert res.exit_code == 0 and "hake_image_level" in res.stdout and "images" in res.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"a.jpg": {"something": 1}}))
    res = runner.invoke(app, ["data", "stats", str(odd)])
    assert res.exit_code == 2 and "unknown annotation format" in res.output and str(odd) in res.output
    bad = tmp_path / "bad.json"
    raw = json.loads((FIXTURES / "hake" / "instance_level_excerpt.json").read_text())
    raw["HICO_train2015_00000005.jpg"]["labels"][0]["object_bbox"] = [10, 10, 5, 20]
    bad.write_text(json.dumps(raw))
    res = runner.invoke(app, ["data", "stats", str(bad)])
    assert res.exit_code == 2
    assert "record 'HICO_train2015_00000005.jpg'" in res.output and "labels[0].object_bbox" in res.output


@pytest.mark.parametrize(("raw", "fmt"), [
    ({"annotation": [], "filenames": []}, "hicodet_test_gt"),
    ({"x.jpg": {"labels": []}}, "hake_instance_level"),
    ({"x.jpg": {"hoi_id": [], "parts_list": []}}, "hake_image_level"),
])
def test_format_detection(raw: dict, fmt: str) -> None:
    assert detect_format(raw) == fmt
