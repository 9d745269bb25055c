"""The README's Python inference example runs as written, from the repository root."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO

README = REPO / "README.md"


def inference_example() -> str:
    """The first ``python`` code block of the README's Inference section."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Inference\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README has no '## Inference' section"
    block = re.search(r"```python\n(.*?)```", section.group(1), re.S)
    assert block, "the Inference section has no python example"
    return block.group(1)


def test_the_readme_inference_example_runs_as_written() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", inference_example()], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[-1].startswith("dict_keys(['source', 'width', 'height', 'frame_index', 'persons', 'objects', 'hois'")
    assert any("'hand':" in line for line in lines), res.stdout  # a person with its part states
