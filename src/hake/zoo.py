"""``create_model``: any hake model from a zoo name or a weight file, on the device you ask for.

In the spirit of ``timm.create_model``::

    from hake.zoo import create_model
    model = create_model("spatial_pasta.hake_hicodet", device="cpu")   # a PastaModel
    pose = create_model("pose.movenet_thunder", threads=2)              # a PoseEstimator
    mine = create_model("runs/a2v/model.safetensors")                   # family read from the file

Names and weight files come from :mod:`hake.hub`. This module sits above both :mod:`hake.models`
and :mod:`hake.perception` (which never import each other) and imports each family lazily, so
``import hake.zoo`` stays light. ``device`` is honoured by every family: ONNX models pick the
onnxruntime provider, PyTorch models are moved to the device and run there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hake import hub
from hake.errors import HakeError

__all__ = ["create_model", "check_device", "family_of_file"]


def check_device(device: str) -> str:
    """``device`` if this installation can run PyTorch models there, else a HakeError saying why."""
    if device == "cpu":
        return device
    if not device.startswith("cuda"):
        raise HakeError(f"unknown device {device!r}; use cpu or cuda[:N]")
    import torch

    if not torch.cuda.is_available():
        raise HakeError(f"device {device!r} asked for, but this PyTorch sees no CUDA GPU "
                        f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})")
    return device


def _to_device(model: Any, device: str) -> Any:
    if device != "cpu":
        model.to(check_device(device))
    return model


def _detector(path: Path, device: str, **kw: Any) -> Any:
    from hake.perception.nanodet import NanoDet

    return NanoDet(path, device=device, **kw)


def _pose(path: Path, device: str, **kw: Any) -> Any:
    from hake.perception.movenet import MoveNetMultiPose, MoveNetSingle

    cls = MoveNetMultiPose if "multipose" in path.name else MoveNetSingle
    return cls(path, device=device, **kw)


def _no_overrides(family: str, kw: dict[str, Any]) -> None:
    if kw:
        raise HakeError(f"{family} models take no options besides device; got {', '.join(sorted(kw))}")


def _spatial(path: Path, device: str, **kw: Any) -> Any:
    from hake.models.spatial import load_spatial_pasta

    _no_overrides("spatial_pasta", kw)
    return _to_device(load_spatial_pasta(path), device)


def _activity2vec(path: Path, device: str, **kw: Any) -> Any:
    from hake.models.a2v_predictor import A2VPredictor

    _no_overrides("activity2vec", kw)
    return _to_device(A2VPredictor.load(path), device)


def _pasta_r(path: Path, device: str, **kw: Any) -> Any:
    from hake.models.pasta_r import load_pasta_r

    _no_overrides("pasta_r", kw)
    return _to_device(load_pasta_r(path), device)


def _pose_pasta(path: Path, device: str, **kw: Any) -> Any:
    from hake.models.pose_pasta import PosePasta, load_pose_params
    from hake.models.spatial import load_spatial_pasta

    _no_overrides("pose_pasta", kw)
    params = load_pose_params(path)
    if hub.family_of(params.layout_model) != "spatial_pasta":
        raise HakeError(f"{path}: layout_model {params.layout_model!r} is not a spatial_pasta model")
    layout = _to_device(load_spatial_pasta(hub.weight_path(params.layout_model)), device)
    return PosePasta(layout, params)


_BUILDERS: dict[str, Callable[..., Any]] = {
    "detector": _detector, "pose": _pose, "spatial_pasta": _spatial,
    "activity2vec": _activity2vec, "pasta_r": _pasta_r, "pose_pasta": _pose_pasta,
}


def family_of_file(path: Path) -> str:
    """The family of a weight file: from the safetensors metadata, ``detector`` for ``.onnx``
    (pose ``.onnx`` files need ``family="pose"``), ``pose_pasta`` for a ``.json`` parameter file."""
    if path.suffix == ".onnx":
        return "detector"
    if path.suffix == ".json":
        return "pose_pasta"
    if path.suffix != ".safetensors":
        raise HakeError(f"{path}: expected a .safetensors, .onnx or Pose-PaSta .json weight file")
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as fh:
            meta = dict(fh.metadata() or {})
    except (OSError, ValueError, RuntimeError, SafetensorError) as err:
        raise HakeError(f"{path}: not a readable safetensors file: {err}") from None
    if "spec" in meta:
        return "activity2vec"
    if "hake" in meta:
        return "spatial_pasta"
    if "config" in meta:
        return "pasta_r"
    raise HakeError(f"{path}: no hake model metadata (spec / hake / config); not a hake weight file")


def create_model(name_or_path: str | Path, device: str = "cpu", family: str | None = None, **overrides: Any) -> Any:
    """Build a model from a zoo name (``"spatial_pasta.hake_hicodet"``) or a weight file.

    Args:
        name_or_path: a name listed by ``hake models``, a short name within ``family``
            (``"movenet_thunder"`` with ``family="pose"``), or a ``.safetensors`` / ``.onnx`` file.
        device: ``"cpu"`` or ``"cuda[:N]"``; every family runs there or raises a HakeError saying why.
        family: the expected family: resolves short names, says what an ``.onnx`` file is, and
            refuses a model of another family.
        overrides: keyword arguments of the family's model class (``threads`` and
            ``score_threshold`` for detectors, ``threads`` for pose models).

    Raises:
        HakeError: unknown name or family, missing, corrupt or foreign weight file, device unavailable.
    """
    text = str(name_or_path)
    path = Path(text)
    if family is not None and f"{family}.{text}" in hub.manifest():
        text = f"{family}.{text}"
    if text in hub.manifest():
        fam = hub.family_of(text)
        path = hub.weight_path(text)
    elif path.suffix in (".safetensors", ".onnx", ".json"):
        if not path.is_file():
            raise HakeError(f"weight file not found: {path}")
        fam = family or family_of_file(path)
    else:
        known = ", ".join(hub.names(family))
        what = f"{family} model" if family else "model"
        raise HakeError(f"unknown {what} {text!r}; known: {known} "
                        "(or give a .safetensors / .onnx / Pose-PaSta .json file)")
    if family is not None and fam != family:
        raise HakeError(f"{text!r} is a {fam} model, expected a {family} model")
    if fam not in _BUILDERS:
        raise HakeError(f"unknown model family {fam!r}; known: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[fam](path, device, **overrides)
