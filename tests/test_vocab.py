import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import SHARED_DATA
from hake import vocab
from hake.errors import DataError
from hake.structures import DetectedObject, FrameResult, HoiPrediction, PartState, Person


def test_sizes_and_cli():
    out = subprocess.run([sys.executable, "-m", "hake.cli", "vocab", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "parts": 10, "pasta76": 76, "pasta93": 93, "pasta55": 55, "verbs117": 117,
        "verbs157": 157, "objects": 80, "hois": 600, "rare_hois": 138,
    }


def test_tables_are_consistent():
    v = vocab.load()
    assert v.hoi_name(0) == "board airplane"
    assert v.verbs117[57] == "no_interaction"
    assert len(v.no_interaction_hois) == 80
    assert sorted(v.hoi_object[v.no_interaction_hois]) == list(range(80))
    assert v.hoi_to_verb_matrix.sum() == 600 and v.hoi_to_object_matrix.sum() == 600
    assert len(v.non_rare_hois) == 462
    assert v.group_sizes("pasta76") == (12, 10, 5, 31, 5, 13)
    assert v.pasta_slices("pasta76")["hand"] == slice(27, 58)
    assert v.pasta["pasta76"][57] == ("hand", "no_interaction")
    assert v.part_group(6) == "hand" and v.part_group(5) == "head"
    assert v.objects[v.coco80_to_hico[0]] == "person"
    assert v.objects[v.coco91_to_hico[18]] == "dog"  # COCO category 18 is dog
    assert v.pasta76_object_mask.shape == (76, 80)


def test_matches_source_tables():
    table = SHARED_DATA / "hake" / "tables" / "hoi600_to_verb117_verb_trans.npy"
    if not table.exists():
        pytest.skip(f"real data not available: {table}")
    v = vocab.load()
    np.testing.assert_array_equal(np.load(table), v.hoi_to_verb_matrix)


def test_structures_round_trip():
    p = Person(box=(1, 2, 30, 40), score=0.9, keypoints=[[1.0, 2.0, 0.5]] * 17,
               part_boxes=[[0, 0, 1, 1]] * 10, track_id=3,
               pasta={"hand": [PartState("hand", "hold", 27, 0.8)]})
    f = FrameResult(source="a.jpg", width=64, height=48, persons=[p],
                    objects=[DetectedObject(box=(5, 5, 9, 9), score=0.5, label=3, name="banana")],
                    hois=[HoiPrediction(0, 0, 20, "eat", "banana", 0.7, (1, 2, 30, 40), (5, 5, 9, 9))])
    again = FrameResult.from_dict(json.loads(json.dumps(f.to_dict())))
    assert again == f


@pytest.mark.parametrize("box", [(5, 0, 1, 1), (0, 0, float("nan"), 1), (1, 2, 3)])
def test_bad_boxes_are_refused(box):
    with pytest.raises(DataError, match="box"):
        Person(box=box, score=1.0)


def test_bad_hoi_refused():
    with pytest.raises(DataError, match="hoi"):
        HoiPrediction(0, None, 600, "x", "y", 0.1, (0, 0, 1, 1), None)
