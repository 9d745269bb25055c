"""Write a hake model as ONNX (``torch.onnx.export``) with dynamic batch/person axes, and read it back.

The ONNX file carries its own provenance in ``metadata_props`` so ``hake export check`` can rebuild
the PyTorch reference without side files:

- ``hake.family``: ``pasta_r`` | ``activity2vec`` | ``spatial_pasta``;
- ``hake.source``: ``zoo:<name>`` or ``file:<absolute path>``, and ``hake.source_sha256``;
- ``hake.inputs`` / ``hake.outputs``: JSON lists of names; ``hake.meta``: the family's facts.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hake.errors import DataError, HakeError
from hake.export.graphs import Family, eval_mode, family, family_of

#: ONNX opset of the exported graphs (RoIAlign with ``aligned`` needs >= 16).
OPSET = 17


@dataclass
class OnnxInfo:
    """Provenance read from an exported file's metadata."""

    family: str
    source: str
    source_sha256: str
    inputs: list[str]
    outputs: list[str]
    meta: dict[str, Any]


def load_source(source: str) -> tuple[Any, Family]:
    """The PyTorch model named by ``zoo:<name>`` / ``file:<path>`` (or a bare zoo name) and its family."""
    kind, _, ref = source.partition(":")
    if kind == "file":
        return load_weights(Path(ref))
    name = ref if kind == "zoo" else source
    from hake.zoo import create_model

    model = create_model(name)
    return model, family_of(model)


def load_weights(path: Path) -> tuple[Any, Family]:
    """Load a weight file through :func:`hake.zoo.create_model` (family from its metadata) and its export family."""
    from hake.zoo import create_model

    model = create_model(path)
    return model, family_of(model)


def source_sha256(source: str) -> str:
    """sha256 of the weight file behind ``source`` (zoo names resolve through the manifest)."""
    from hake.hub import sha256_of, weight_path

    kind, _, ref = source.partition(":")
    if kind == "file":
        return sha256_of(Path(ref))
    try:
        return sha256_of(weight_path(ref if kind == "zoo" else source))
    except HakeError:
        return ""


def export_onnx(model: Any, out: Path, source: str = "", opset: int = OPSET) -> OnnxInfo:
    """Export ``model`` (a PaSta-R, Activity2Vec or Spatial-PaSta object) to ``out``.

    Args:
        model: the loaded PyTorch model (or the predictor holding it).
        out: path of the ``.onnx`` file to write (folders are created).
        source: where the model came from (``zoo:<name>`` / ``file:<path>``), recorded for ``check``.
        opset: ONNX opset version.
    """
    fam = family_of(model)
    graph = fam.graph(model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # eval mode for the export; the caller's model is left in the mode it had
    with eval_mode(graph.module), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks evaluated once
        torch.onnx.export(
            graph.module, graph.example, str(out), dynamo=False, input_names=graph.inputs,
            output_names=graph.outputs, dynamic_axes=graph.dynamic_axes, opset_version=opset,
            do_constant_folding=True,
        )
    info = OnnxInfo(fam.name, source, source_sha256(source) if source else "", graph.inputs, graph.outputs,
                    graph.meta)
    _write_meta(out, info)
    return info


def _write_meta(path: Path, info: OnnxInfo) -> None:
    import onnx

    proto = onnx.load(str(path))
    props = {
        "hake.family": info.family, "hake.source": info.source, "hake.source_sha256": info.source_sha256,
        "hake.inputs": json.dumps(info.inputs), "hake.outputs": json.dumps(info.outputs),
        "hake.meta": json.dumps(info.meta, sort_keys=True),
    }
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "hake"
    onnx.save(proto, str(path))


def session(path: Path, threads: int = 1, device: str = "cpu") -> Any:
    """An onnxruntime session on ``path`` with ``threads`` intra-op threads (CUDA when asked and present)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise HakeError(f"ONNX file not found: {path}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), opts, providers=providers)
    except Exception as err:  # onnxruntime raises its own exception types for bad files
        raise DataError(f"not a loadable ONNX model: {err}", file=path) from None


def read_info(path: Path, sess: Any | None = None) -> OnnxInfo:
    """The hake provenance of an exported file; :class:`DataError` when it is not one of ours."""
    sess = sess or session(path)
    props = sess.get_modelmeta().custom_metadata_map
    if "hake.family" not in props:
        raise DataError("not exported by hake (no hake.family metadata)", file=path, field="hake.family")
    try:
        return OnnxInfo(props["hake.family"], props.get("hake.source", ""), props.get("hake.source_sha256", ""),
                        json.loads(props["hake.inputs"]), json.loads(props["hake.outputs"]),
                        json.loads(props.get("hake.meta", "{}")))
    except (KeyError, json.JSONDecodeError) as err:
        raise DataError(f"bad hake metadata: {err}", file=path, field="hake.meta") from None


def run_session(sess: Any, info: OnnxInfo, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``sess`` on named numpy inputs; returns the named outputs."""
    missing = [n for n in info.inputs if n not in inputs]
    if missing:
        raise HakeError(f"missing ONNX inputs: {missing}")
    persons = [inputs[a.name].shape[0] for a in sess.get_inputs() if a.shape and a.shape[0] == "persons"]
    if persons and min(persons) == 0:
        # nothing to compute; some kernels (LSTM) abort the process on an empty batch
        outs = {o.name: o for o in sess.get_outputs()}
        return {n: np.zeros((0, *outs[n].shape[1:]), np.float32) for n in info.outputs}
    res = sess.run(info.outputs, {n: np.ascontiguousarray(inputs[n]) for n in info.inputs})
    return dict(zip(info.outputs, res))


def run_torch(model: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the PyTorch graph of ``model`` on the same named inputs (the reference of ``check``)."""
    graph = family_of(model).graph(model)
    with eval_mode(graph.module), torch.no_grad():
        res = graph.module(*[torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in graph.inputs])
    return {n: r.detach().cpu().numpy() for n, r in zip(graph.outputs, res)}


__all__ = ["OPSET", "OnnxInfo", "export_onnx", "family", "load_source", "load_weights", "read_info",
           "run_session", "run_torch", "session"]
