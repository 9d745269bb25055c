"""HICO-DET ground truth that contradicts itself is refused, naming file, record and field."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from hake.datasets.hicodet import parse_test_gt
from hake.errors import DataError

GT20 = FIXTURES / "eval" / "hicodet_test_first20.json"


def _gt() -> dict:
    return json.loads(GT20.read_text())


def test_the_fixture_is_read() -> None:
    assert len(parse_test_gt(_gt(), "gt.json")) == 20


@pytest.mark.parametrize("field", ["boxes_h", "boxes_o"])
def test_inverted_boxes_are_refused(field: str) -> None:
    raw = _gt()
    x1, y1, x2, y2 = raw["annotation"][0][field][0]
    raw["annotation"][0][field][0] = [x2, y1, x1, y2]  # x2 < x1: a negative width
    with pytest.raises(DataError, match=field):
        parse_test_gt(raw, "gt.json")


def test_an_hoi_that_contradicts_its_object_is_refused() -> None:
    raw = _gt()
    ann = raw["annotation"][0]
    ann["object"][0] = (ann["object"][0] + 1) % 80  # HOI 245's object is not this one
    with pytest.raises(DataError, match="object"):
        parse_test_gt(raw, "gt.json")


def test_an_annotation_that_is_not_a_list_is_refused() -> None:
    raw = _gt()
    raw["annotation"] = None
    with pytest.raises(DataError, match="annotation"):
        parse_test_gt(raw, "gt.json")

