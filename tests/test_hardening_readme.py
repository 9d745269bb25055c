"""The README's Python inference example runs as written, from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO, readme_python_block


def inference_example() -> str:
    """The first ``python`` code block of the README's Inference section."""
    return readme_python_block("Inference")


def test_the_readme_inference_example_runs_as_written() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", inference_example()], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[-1].startswith("dict_keys(['source', 'width', 'height', 'frame_index', 'persons', 'objects', 'hois'")
    assert any("'hand':" in line for line in lines), res.stdout  # a person with its part states
