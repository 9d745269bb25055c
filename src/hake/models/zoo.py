"""The model zoo: named weight files with sha256, licence, source and how to reproduce them.

Weight files live in the repository's ``models/`` folder (``HAKE_MODEL_DIR`` overrides it).
The manifest is ``hake/models/manifest.json``::

    {"spatial_pasta.hake_hicodet": {"file": "spatial_pasta_hake_hicodet.safetensors",
      "sha256": "...", "licence": "Apache-2.0", "source": "...", "reproduce": "python tools/..."},
     ...}

:func:`weight_path` verifies the sha256 before handing a file out, so a corrupt or swapped
file is caught at load time. :func:`create_model` dispatches on the name's prefix to the
``from_pretrained`` loader registered by each model module.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from hake.errors import HakeError

_LOADERS: dict[str, Callable[[Path, dict[str, Any]], Any]] = {}
#: Which module registers the loader of each model family (the prefix of a zoo name).
_FAMILY_MODULES = {
    "pasta_r": "hake.models.pasta_r",
    "spatial_pasta": "hake.models.spatial",
    "activity2vec": "hake.models.activity2vec",
    "detector": "hake.perception",
    "pose": "hake.perception",
}


def register_loader(prefix: str, loader: Callable[[Path, dict[str, Any]], Any]) -> None:
    """Register ``loader(weight_file, manifest_entry) -> model`` for names ``prefix.*``."""
    _LOADERS[prefix] = loader


def model_dir() -> Path:
    """Folder holding the weight files: ``$HAKE_MODEL_DIR`` or the repository's ``models/``."""
    env = os.environ.get("HAKE_MODEL_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "models"


@cache
def manifest() -> dict[str, dict[str, Any]]:
    """Name -> entry of every shipped weight file."""
    ref = resources.files("hake.models") / "manifest.json"
    return json.loads(ref.read_text(encoding="utf-8"))


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_VERIFIED: set[Path] = set()


def weight_path(name: str) -> Path:
    """Path of the weight file called ``name`` after checking its sha256 (once per process)."""
    entries = manifest()
    if name not in entries:
        raise HakeError(f"unknown model {name!r}; known: {', '.join(sorted(entries))}")
    entry = entries[name]
    path = model_dir() / entry["file"]
    if not path.is_file():
        raise HakeError(f"weight file for {name!r} not found at {path}; set HAKE_MODEL_DIR")
    if path not in _VERIFIED:
        digest = sha256_of(path)
        if digest != entry["sha256"]:
            raise HakeError(f"sha256 mismatch for {path}: {digest} != {entry['sha256']} (corrupt or replaced file)")
        _VERIFIED.add(path)
    return path


def create_model(name: str) -> Any:
    """Build a model with its shipped weights, e.g. ``create_model("pasta_r.hake_hico")``."""
    prefix = name.split(".", 1)[0]
    if prefix not in _LOADERS and prefix in _FAMILY_MODULES:
        # model modules register their loader on import; import the family's module lazily
        import importlib

        importlib.import_module(_FAMILY_MODULES[prefix])
    if prefix not in _LOADERS:
        raise HakeError(f"no loader registered for model family {prefix!r}")
    return _LOADERS[prefix](weight_path(name), manifest()[name])
