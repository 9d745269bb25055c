"""A non-editable wheel of the git-tracked files installs and runs ``hake infer`` on its own.

The wheel is built from a copy of ``git ls-files`` (no untracked junk), installed with
``pip install --target`` and run from a folder outside the repository with ``PYTHONPATH`` pointing
at the install. An audit hook in the child records every file it opens, so the test sees that hake
and the weights came from the install and nothing from the checkout.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "examples" / "footballer_kick.jpg"

#: Run in the child: record opened files, run ``python -m hake.cli ARGS``, dump what was seen.
PROBE = """
import json, os, runpy, sys
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.fsdecode(args[0]))
sys.addaudithook(hook)
report, argv = sys.argv[1], sys.argv[2:]
sys.argv = ["hake", *argv]
code = 0
try:
    runpy.run_module("hake.cli", run_name="__main__")
except SystemExit as err:
    code = err.code
import hake, hake.hub
with open(report, "w") as fh:
    json.dump({"code": code, "hake": hake.__file__, "model_dir": str(hake.hub.model_dir()), "opened": opened}, fh)
"""


def _tracked_copy(dst: Path) -> Path:
    """Copy the git-tracked files of the checkout (as they are in the work tree; links as links) to ``dst``."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout (or no git): cannot list the tracked files")
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in filter(None, os.fsdecode(listed).split("\0")):
        src, out = REPO / name, dst / name
        if not (src.is_symlink() or src.is_file()):
            continue  # deleted in the work tree
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            out.symlink_to(os.readlink(src))  # src/hake/weights -> ../../models stays a link
        else:
            shutil.copy2(src, out)
    return dst


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args, "--no-deps", "--no-index", "--disable-pip-version-check",
                           "-q"], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.slow
def test_wheel_installs_and_runs_from_its_own_files(tmp_path: Path) -> None:
    missing = [m for m in ("pip", "setuptools") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"cannot build a wheel offline without build isolation: {', '.join(missing)} not installed")
    copy = _tracked_copy(tmp_path / "checkout")
    dist, site, work = tmp_path / "dist", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    built = _pip("wheel", str(copy), "--no-build-isolation", "-w", str(dist), cwd=work)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("hake_action-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert all(n.startswith(("hake/", "hake_action-")) for n in names), [n for n in names if "/" not in n][:5]
    assert {"hake/weights/pasta_r_hake_hico.safetensors", "hake/weights/nanodet.onnx", "hake/manifest.json"} <= set(
        names)
    installed = _pip("install", "--target", str(site), str(wheel), cwd=work)
    assert installed.returncode == 0, installed.stderr[-3000:]

    photo = shutil.copy(PHOTO, work / PHOTO.name)  # nothing the child needs lies in the checkout
    env = {k: v for k, v in os.environ.items() if k not in ("HAKE_MODEL_DIR", "PYTHONHOME")}
    env.update(PYTHONPATH=str(site), PYTHONNOUSERSITE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    report = work / "report.json"
    run = subprocess.run([sys.executable, "-c", PROBE, str(report), "infer", str(photo), "--out", str(work / "out"),
                          "--no-progress"], capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert run.returncode == 0 and report.is_file(), run.stderr[-3000:]
    seen = json.loads(report.read_text())
    assert seen["code"] in (0, None), run.stderr[-3000:]

    site_real = site.resolve()
    assert Path(seen["hake"]).resolve().is_relative_to(site_real / "hake")  # imported from the install
    model_dir = Path(seen["model_dir"])
    assert model_dir == site_real / "hake" / "weights" and not model_dir.is_symlink()
    weights = [Path(p).resolve() for p in seen["opened"] if p.endswith((".onnx", ".safetensors"))]
    assert weights and all(p.is_relative_to(model_dir) for p in weights), weights  # read from the install
    venv = Path(sys.prefix).resolve()  # the dependencies may live in a venv inside the checkout
    from_repo = [p for p in map(Path, seen["opened"])
                 if p.resolve().is_relative_to(REPO) and not p.resolve().is_relative_to(venv)]
    assert not from_repo, from_repo[:5]  # no module, weight or data file of the checkout was opened

    result = json.loads((work / "out" / f"{PHOTO.stem}.json").read_text())
    assert result["persons"], result  # a person found and described
