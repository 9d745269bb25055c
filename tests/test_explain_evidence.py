"""``hake explain --input`` on a hake infer result: each person's states with the evidence that set them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hake.cli import app
from hake.engine.infer.explain_input import evidence_text, state_evidence
from hake.engine.infer.pairs import person_evidence, top_states
from hake.errors import DataError
from hake.structures import FrameResult, Person
from hake.structures.contracts import EVIDENCE


def infer_json(tmp_path):
    """A frame as hake infer writes it, states built by the infer code from known evidence codes."""
    probs = np.linspace(0.01, 0.9, 76).astype(np.float32)
    codes = np.full(76, EVIDENCE.index("layout"), np.int8)
    codes[27] = EVIDENCE.index("pose")  # hand: hold
    probs[27] = 0.95
    person = Person(box=(10, 20, 110, 320), score=0.9, pasta=top_states(probs, 2, evidence=codes))
    frame = FrameResult(source="x.jpg", width=640, height=480, persons=[person])
    path = tmp_path / "x.json"
    path.write_text(json.dumps(frame.to_dict()))
    return path


def test_explain_prints_each_state_with_its_evidence(tmp_path) -> None:
    path = infer_json(tmp_path)
    res = CliRunner().invoke(app, ["explain", "--input", str(path)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("person 0")
    hold = [line for line in lines if "hand: hold" in line]
    assert hold and hold[0].rstrip().endswith("[pose]")
    assert sum("[layout]" in line for line in lines) == 11  # the other 11 of 6 groups x 2 states
    out = tmp_path / "e.json"
    assert CliRunner().invoke(app, ["explain", "--input", str(path), "--json", str(out)]).exit_code == 0
    data = json.loads(out.read_text())
    assert data["persons"][0]["states"][0]["evidence"] in EVIDENCE


def test_evidence_of_a_person_comes_from_the_pair_that_set_the_state() -> None:
    pasta = np.full((3, 76), 0.2, np.float32)
    evidence = np.zeros((3, 76), np.int8)
    pasta[1, 27], evidence[1, 27] = 0.9, EVIDENCE.index("pose")  # pair 1 holds
    pasta[2, 57], evidence[2, 57] = 0.05, EVIDENCE.index("layout")  # hand no_interaction: the minimum
    out = person_evidence(pasta, evidence, np.array([0, 0, 0]), 1)
    assert EVIDENCE[out[0, 27]] == "pose" and EVIDENCE[out[0, 57]] == "layout"


def test_old_results_without_evidence_and_bad_ones(tmp_path) -> None:
    frame = FrameResult(source="y.jpg", width=10, height=10, persons=[
        Person(box=(0, 0, 5, 5), score=0.5, pasta=top_states(np.full(76, 0.5, np.float32), 1))])
    d = frame.to_dict()
    assert "evidence" not in d["persons"][0]["pasta"]["hand"][0]  # models that do not say: key left out
    assert "[unknown]" in evidence_text(state_evidence(d))
    d["persons"][0]["pasta"]["hand"][0]["prob"] = "high"
    with pytest.raises(DataError, match="person 0") as err:
        state_evidence(d, "y.json")
    assert err.value.file == "y.json" and err.value.field == "pasta.hand"
