"""``torchrun --nproc_per_node 2`` (gloo, CPU) PaSta-R training equals the single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def _run(cmd: list[str], cwd: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.slow
def test_torchrun_two_processes_give_the_single_process_metrics(tmp_path: Path, hake_image_level: Path) -> None:
    pytest.importorskip("hake.datasets.hake_json", reason="HAKE annotation reader not available")
    train = ["-m", "hake.cli", "train", "pasta-r", "--data", str(hake_image_level), "--reasoner", "linear",
             "--epochs", "2", "--seed", "3"]
    _run([sys.executable, *train, "--out", str(tmp_path / "one")], tmp_path)
    torchrun = Path(sys.executable).with_name("torchrun")
    launcher = [str(torchrun)] if torchrun.is_file() else [sys.executable, "-m", "torch.distributed.run"]
    _run([*launcher, "--standalone", "--nproc_per_node", "2", *train, "--out", str(tmp_path / "two")], tmp_path)
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert (one["n_train"], one["n_heldout"]) == (two["n_train"], two["n_heldout"])
    # same global batches and the gradient of the same mean loss: equal up to float summation order
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-5)
    for mode in ("default", "known_object"):
        for key, value in one[mode].items():
            assert two[mode][key] == pytest.approx(value, abs=2e-4), (mode, key)
    assert one["default"]["mAP"] > 0.05  # a real, trained model
    cfg = json.loads((tmp_path / "two" / "config.json").read_text())
    assert cfg["distributed"] == {"world_size": 2, "global_batch": 256, "per_rank_batch": 128, "lr_scaling": "none"}
