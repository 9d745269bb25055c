"""Flat tensor graphs of hake's models, the form ``torch.onnx.export`` needs.

A *family* adapter knows, for one model type, how to

- wrap the model as a module with positional tensor inputs and a tuple of tensor outputs (:class:`Graph`),
- name the inputs and outputs and their dynamic axes (``persons``: pairs or persons; ``images``:
  images of a batch; ``height`` / ``width``: pixels),
- rebuild the PyTorch model from the source recorded in the ONNX file (zoo name or weight file).

Families register themselves with :func:`register_family`; :func:`family_of` finds the adapter of a
model object. PaSta-R and Activity2Vec are defined here; Spatial-PaSta in :mod:`hake.export.spatial`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hake.errors import HakeError


@dataclass
class Graph:
    """A model as an exportable module.

    Attributes:
        module: ``forward(*inputs) -> tuple(outputs)`` (run it in eval mode: :func:`eval_mode`).
        inputs: input names in ``forward`` order.
        outputs: output names in return order.
        dynamic_axes: per input/output name, axis -> symbolic name.
        example: tracing inputs, one tensor per input name (sizes chosen distinct per axis so the
            tracer cannot mistake a dynamic size for a constant).
        meta: extra JSON-able facts stored in the ONNX metadata (e.g. the PaSta-R input widths).
    """

    module: nn.Module
    inputs: list[str]
    outputs: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    example: tuple[torch.Tensor, ...]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Family:
    """How to export and rebuild one model type.

    Attributes:
        name: family id stored in the ONNX metadata (``pasta_r``, ``activity2vec``, ``spatial_pasta``).
        matches: ``matches(model) -> bool`` for a loaded PyTorch model object.
        graph: ``graph(model) -> Graph``.
        real_inputs: ``real_inputs(model, pair_batches) -> [inputs]`` for families checked on photos
            (PaSta-R and Activity2Vec have their own in :mod:`hake.export.inputs`).
    """

    name: str
    matches: Callable[[Any], bool]
    graph: Callable[[Any], Graph]
    real_inputs: Callable[[Any, list[Any]], list[dict[str, Any]]] | None = None


_FAMILIES: dict[str, Family] = {}


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` (and its submodules) in eval mode, restoring every submodule's mode afterwards."""
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        yield module
    finally:
        for m, training in modes.items():
            m.train(training)


def register_family(family: Family) -> None:
    """Make a family known to the exporter and checker."""
    _FAMILIES[family.name] = family


def families() -> dict[str, Family]:
    """All registered families (importing the optional ones first)."""
    import importlib

    for mod in ("hake.export.spatial",):
        try:
            importlib.import_module(mod)
        except ImportError:  # the model module may be absent in a trimmed install
            pass
    return dict(_FAMILIES)


def family_of(model: Any) -> Family:
    """The adapter of ``model``; :class:`HakeError` if no family exports it."""
    for fam in families().values():
        if fam.matches(model):
            return fam
    raise HakeError(f"no ONNX exporter for {type(model).__name__}; known families: {', '.join(families())}")


def family(name: str) -> Family:
    """The adapter called ``name``."""
    fams = families()
    if name not in fams:
        raise HakeError(f"unknown model family {name!r}; known: {', '.join(fams)}")
    return fams[name]


# --- PaSta-R ------------------------------------------------------------------------------------


class PastaRGraph(nn.Module):
    """PaSta-R on one flat input ``pasta`` (N, Σ group widths), plus ``parts`` / ``objects`` if read.

    Returns ``(hoi_logits (N, out_dim), verb_logits (N, n_verbs))``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.dims = list(model.in_spec.group_dims)
        self.has_parts = bool(model.in_spec.n_parts)
        self.has_objects = bool(model.in_spec.n_objects)

    def forward(self, pasta: torch.Tensor, *ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        groups = list(torch.split(pasta, self.dims, dim=1))
        rest = list(ctx)
        parts = rest.pop(0) if self.has_parts else None
        objects = rest.pop(0) if self.has_objects else None
        out = self.model(groups, obj=objects, parts=parts)
        return out["hoi"], out["verb"]


def _pasta_r_graph(model: Any) -> Graph:
    g = PastaRGraph(model)
    inputs = ["pasta"] + (["parts"] if g.has_parts else []) + (["objects"] if g.has_objects else [])
    outputs = ["hoi_logits", "verb_logits"]
    axes = {n: {0: "persons"} for n in inputs + outputs}
    n = 3
    gen = torch.Generator().manual_seed(0)
    example = [torch.rand(n, sum(g.dims), generator=gen)]
    if g.has_parts:
        example.append((torch.rand(n, model.in_spec.n_parts, generator=gen) > 0.5).float())
    if g.has_objects:
        example.append(torch.nn.functional.one_hot(torch.arange(n) * 7, model.in_spec.n_objects).float())
    return Graph(g, inputs, outputs, axes, tuple(example), {"group_dims": g.dims, "config": model.config_dict()})


def _is_pasta_r(model: Any) -> bool:
    from hake.models.pasta_r import PastaR

    return isinstance(model, PastaR)


register_family(Family("pasta_r", _is_pasta_r, _pasta_r_graph))


# --- Activity2Vec -------------------------------------------------------------------------------

A2V_INPUTS = ["images", "boxes_h", "boxes_o", "part_boxes", "batch_index", "pose_maps"]


class A2VGraph(nn.Module):
    """Activity2Vec (and its PaSta-R head when trained) as one graph.

    Inputs: images (B, 3, H, W) in [0, 1]; boxes_h, boxes_o (N, 4) pixels x1y1x2y2; part_boxes
    (N, 10, 4); batch_index (N,) int64; pose_maps (N, 64, 64) in [0, 1]; and ``objects`` (N, 80)
    one-hot when a reasoner is attached. Outputs ``p_pasta`` (N, n_pasta), ``p_verb`` (N, n_verbs),
    ``f_pasta`` (N, 6·d) and, with a reasoner, ``reasoner_logits`` (N, n_out).
    """

    def __init__(self, a2v: nn.Module, reasoner: nn.Module | None = None) -> None:
        super().__init__()
        self.a2v = a2v
        self.reasoner = reasoner

    def forward(self, images: torch.Tensor, boxes_h: torch.Tensor, boxes_o: torch.Tensor, part_boxes: torch.Tensor,
                batch_index: torch.Tensor, pose_maps: torch.Tensor, *objects: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.a2v(images, boxes_h, boxes_o, part_boxes, batch_index, pose_maps)
        res = (out.p_pasta, out.p_verb, out.f_pasta)
        if self.reasoner is not None:
            res = (*res, self.reasoner(out.groups, objects[0]))
        return res


def _a2v_graph(model: Any) -> Graph:
    a2v, reasoner = (model.a2v, model.reasoner) if hasattr(model, "a2v") else (model, None)
    g = A2VGraph(a2v, reasoner)
    inputs = list(A2V_INPUTS) + (["objects"] if reasoner is not None else [])
    outputs = ["p_pasta", "p_verb", "f_pasta"] + (["reasoner_logits"] if reasoner is not None else [])
    axes: dict[str, dict[int, str]] = {n: {0: "persons"} for n in inputs + outputs}
    axes["images"] = {0: "images", 2: "height", 3: "width"}
    meta = {"spec": a2v.spec.to_json(), "target": getattr(model, "target", "")}
    return Graph(g, inputs, outputs, axes, a2v_example(reasoner is not None), meta)


def a2v_example(with_objects: bool) -> tuple[torch.Tensor, ...]:
    """Tracing inputs of :class:`A2VGraph`: 2 images of 96×128 pixels, 3 persons."""
    gen = torch.Generator().manual_seed(0)
    boxes_h = torch.tensor([[4.0, 6.0, 60.0, 90.0], [10.0, 2.0, 120.0, 80.0], [30.0, 20.0, 90.0, 94.0]])
    boxes_o = torch.tensor([[40.0, 30.0, 100.0, 70.0], [10.0, 2.0, 120.0, 80.0], [0.0, 0.0, 50.0, 50.0]])
    centres = boxes_h[:, None, :2] + torch.rand(3, 10, 2, generator=gen) * (boxes_h[:, None, 2:] - boxes_h[:, None, :2])
    part_boxes = torch.cat([centres - 8, centres + 8], 2)
    ex = [torch.rand(2, 3, 96, 128, generator=gen), boxes_h, boxes_o, part_boxes, torch.tensor([0, 1, 1]),
          torch.rand(3, 64, 64, generator=gen)]
    if with_objects:
        ex.append(torch.nn.functional.one_hot(torch.tensor([4, 17, 60]), 80).float())
    return tuple(ex)


def _is_a2v(model: Any) -> bool:
    from hake.models.a2v_predictor import A2VPredictor
    from hake.models.activity2vec import Activity2Vec

    return isinstance(model, (A2VPredictor, Activity2Vec))


register_family(Family("activity2vec", _is_a2v, _a2v_graph))
