"""The ``hake`` command line: parses, calls the engine (or evaluation, export) and prints; no logic here.
May import everything.

Each topic lives in its own module that adds commands to the shared groups of
:mod:`hake.cli.apps`; importing it here registers them. Heavy imports (torch, onnxruntime)
happen inside the commands so ``hake --help`` stays fast.
"""

from __future__ import annotations

import importlib

from hake.cli.apps import app

# One line per topic module; each registers its commands on import.
_TOPICS = [
    "hake.cli.eval_cmd",
    "hake.cli.a2v_cmd",
    "hake.cli.vocab_cmd",
    "hake.cli.infer_cmd",
    "hake.cli.export_cmd",
    "hake.cli.pasta_r_cmd",
    "hake.cli.explain_cmd",
    "hake.cli.spatial_cmd",
    "hake.cli.pasta_bench_cmd",
    "hake.cli.data_cmd",
    "hake.cli.serve_cmd",
    "hake.cli.models_cmd",
    "hake.cli.photos_cmd",
]

for _name in _TOPICS:
    importlib.import_module(_name)


def main() -> None:
    """Entry point of the ``hake`` console script."""
    app()


__all__ = ["app", "main"]
