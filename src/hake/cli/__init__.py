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
    "hake.cli.measure.eval_cmd",
    "hake.cli.build.a2v_cmd",
    "hake.cli.use.vocab_cmd",
    "hake.cli.use.infer_cmd",
    "hake.cli.build.export_cmd",
    "hake.cli.build.pasta_r_cmd",
    "hake.cli.use.explain_cmd",
    "hake.cli.measure.spatial_cmd",
    "hake.cli.measure.pasta_bench_cmd",
    "hake.cli.build.data_cmd",
    "hake.cli.use.serve_cmd",
    "hake.cli.use.models_cmd",
    "hake.cli.measure.photos_cmd",
]

for _name in _TOPICS:
    importlib.import_module(_name)


def main() -> None:
    """Entry point of the ``hake`` console script."""
    app()


__all__ = ["app", "main"]
