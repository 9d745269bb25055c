"""Reading and writing weight files (safetensors only; never pickle).

Every model family stores its architecture as JSON strings in the safetensors metadata and its
parameters as tensors; these helpers do the file part once, with errors that name the file.

A model is built from metadata only after :func:`check_fits` has built it on the ``meta`` device
(no memory) and found that it asks for no more than :data:`MAX_PARAMS` parameters and exactly the
tensors, by name and shape, that the file stores: a damaged or hostile header cannot make hake
allocate gigabytes before a single tensor is compared (:func:`build_checked` does both steps).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from hake.errors import DataError, HakeError

#: The most parameters hake builds from a weight file's metadata (8 GB as float32).
MAX_PARAMS = 2_000_000_000

M = TypeVar("M", bound=torch.nn.Module)


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


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:3])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > 3 else shown


def check_fits(build: Callable[[], torch.nn.Module], state: dict[str, torch.Tensor], path: str | Path, field: str,
               max_params: int = MAX_PARAMS) -> None:
    """Refuse metadata that asks for too many parameters or for tensors other than the stored ones.

    ``build`` is called under ``torch.device("meta")``, so the parameters it creates take no memory
    (tensors it takes from the file stay as they are).

    Raises:
        DataError: naming ``path`` and ``field`` (the metadata entry that describes the model), when
            the model would have more than ``max_params`` parameters, or its state dict differs from
            ``state`` in names (missing / unexpected keys) or shapes (size mismatch).
        Whatever ``build`` raises for metadata it cannot build.
    """
    with torch.device("meta"):
        model = build()
    n_params = sum(p.numel() for p in model.parameters())
    stored = sum(t.numel() for t in state.values())
    if n_params > max_params:
        raise DataError(f"the {field} asks for {n_params:,} parameters, more than the {max_params:,} allowed "
                        f"(the file stores {stored:,} numbers)", file=path, field=field)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(t.shape) for k, t in state.items()}
    problems = []
    if missing := [k for k in want if k not in have]:
        problems.append(f"Missing key(s): {_names(missing)}")
    if unexpected := [k for k in have if k not in want]:
        problems.append(f"Unexpected key(s): {_names(unexpected)}")
    if wrong := [k for k in want if k in have and want[k] != have[k]]:
        k = wrong[0]
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        problems.append(f"size mismatch for {k}: the file has {list(have[k])}, the {field} asks for {list(want[k])}"
                        + more)
    if problems:
        raise DataError(f"weights do not fit the {field} ({n_params:,} parameters asked, {stored:,} numbers "
                        f"stored): {'; '.join(problems)}", file=path, field=field)


def build_checked(build: Callable[[], M], state: dict[str, torch.Tensor], path: str | Path, field: str,
                  max_params: int = MAX_PARAMS) -> M:
    """:func:`check_fits`, then build the model for real, load ``state`` strictly and return it in eval mode.

    Raises:
        DataError: naming ``path`` and ``field``: metadata that describes no buildable model (any
            ``ValueError``, ``KeyError``, ``TypeError``, ``RuntimeError``, ``OverflowError`` or
            :class:`HakeError` of ``build``), too many parameters, or tensors that do not fit.
    """
    try:
        check_fits(build, state, path, field, max_params)
        model = build()
    except DataError:
        raise
    except (ValueError, KeyError, TypeError, RuntimeError, OverflowError, HakeError) as err:
        raise DataError(f"the {field} describes no buildable model: {type(err).__name__}: {err}", file=path,
                        field=field) from None
    load_into(model, state, path)
    return model


def module_device(module: object) -> torch.device:
    """The device of a module's first parameter; CPU for stand-ins without parameters (ONNX runtimes)."""
    params = getattr(module, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return first.device if first is not None else torch.device("cpu")
