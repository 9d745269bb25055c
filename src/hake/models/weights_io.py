"""Reading and writing weight files (safetensors only; never pickle).

Every model family stores its architecture as JSON strings in the safetensors metadata and its
parameters as tensors; these helpers do the file part once, with errors that name the file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hake.errors import DataError


def save_weights(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write ``tensors`` (moved to CPU, made contiguous) and string ``metadata`` to ``path``.

    Use a single metadata key where the file's bytes must be reproducible: safetensors writes the
    metadata map in no fixed order.
    """
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=metadata)


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file; a missing or corrupt file is a DataError."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise DataError("weight file not found", file=path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (OSError, ValueError, RuntimeError, SafetensorError) as err:
        raise DataError(f"not a readable safetensors file: {err}", file=path) from None
    return tensors, meta


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> torch.nn.Module:
    """Load ``state`` into ``model`` strictly and return it in eval mode; a mismatch is a DataError."""
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise DataError(f"weights do not fit the config: {err}", file=path) from None
    return model.eval()


def module_device(module: object) -> torch.device:
    """The device of a module's first parameter; CPU for stand-ins without parameters (ONNX runtimes)."""
    params = getattr(module, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return first.device if first is not None else torch.device("cpu")
