"""ONNX family of Spatial-PaSta (:mod:`hake.models.spatial`): graph, real inputs and runtime model.

Graph inputs per pair: ``layout`` (P, layout_dim) raw :func:`~hake.models.layout.pair_layout`
rows, ``maps`` (P, 2, 64, 64) interaction maps, ``obj`` (P,) int64 object 0..79 or -1. Outputs the
logits ``pasta_logits`` (P, 76), ``hoi_logits`` (P, 600), ``verb_logits`` (P, 117).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from torch import nn

from hake.errors import HakeError
from hake.export.graphs import Family, Graph, register_family
from hake.models.spatial import SpatialConfig, SpatialPasta
from hake.structures.contracts import PairBatch

INPUTS = ["layout", "maps", "obj"]
OUTPUTS = ["pasta_logits", "hoi_logits", "verb_logits"]


class SpatialGraph(nn.Module):
    """``SpatialPasta.forward`` with a tuple of logits as output."""

    def __init__(self, model: SpatialPasta) -> None:
        super().__init__()
        self.model = model

    def forward(self, layout: torch.Tensor, maps: torch.Tensor, obj: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(layout, maps, obj)
        return out["pasta"], out["hoi"], out["verb"]


def _graph(model: SpatialPasta) -> Graph:
    c = model.config
    boxes_h = np.array([[10, 20, 110, 220], [30, 10, 90, 200], [200, 40, 300, 260]], np.float32)
    boxes_o = np.array([[60, 100, 180, 200], [30, 10, 90, 200], [150, 180, 260, 250]], np.float32)
    example = model.inputs(boxes_h, boxes_o, (320, 280), np.array([4, -1, 17]))
    axes = {n: {0: "persons"} for n in INPUTS + OUTPUTS}
    return Graph(SpatialGraph(model), list(INPUTS), list(OUTPUTS), axes, tuple(example),
                 {"config": json.dumps(asdict(c), sort_keys=True)})


def real_inputs(model: SpatialPasta, batches: list[PairBatch]) -> list[dict[str, np.ndarray]]:
    """Graph inputs of each photo's pairs, through :meth:`SpatialPasta.inputs`."""
    runs = []
    for b in batches:
        layout, maps, obj = model.inputs(b.boxes_h, b.boxes_o, b.image_size, b.object_labels)
        runs.append({"layout": layout.numpy(), "maps": maps.numpy(), "obj": obj.numpy()})
    return runs


class _OrtSpatialPasta(SpatialPasta):
    """SpatialPasta whose forward runs in onnxruntime; inputs and probabilities are the model's own code."""

    def __init__(self, sess: Any, info: Any) -> None:
        super().__init__(SpatialConfig(**json.loads(info.meta["config"])))
        self._sess, self._info = sess, info

    def forward(self, layout: torch.Tensor, maps: torch.Tensor, obj: torch.Tensor,
                context: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        from hake.export.onnx_export import run_session

        if self.config.context_dim:
            raise HakeError("exporting Spatial-PaSta with image context is not supported; export a model without it")

        out = run_session(self._sess, self._info, {"layout": layout.numpy(), "maps": maps.numpy(),
                                                   "obj": obj.numpy()})
        return {"pasta": torch.from_numpy(out["pasta_logits"]), "hoi": torch.from_numpy(out["hoi_logits"]),
                "verb": torch.from_numpy(out["verb_logits"])}


def onnx_runtime_model(sess: Any, info: Any) -> SpatialPasta:
    """A :class:`SpatialPasta` (a ``PastaModel``) running the exported graph."""
    return _OrtSpatialPasta(sess, info).eval()


register_family(Family("spatial_pasta", lambda m: isinstance(m, SpatialPasta), _graph, real_inputs))
