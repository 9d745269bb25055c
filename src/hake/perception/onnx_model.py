"""A thin wrapper around an onnxruntime session: sha256-checked file, thread count, run time.

Weight files are resolved through the model zoo (:func:`hake.hub.weight_path`), which
verifies the sha256 listed in the manifest before the file is opened.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from hake.errors import HakeError
from hake.hub import weight_path

PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def parse_device(device: str) -> tuple[str, int]:
    """``"cpu"`` -> ("cpu", 0); ``"cuda"`` / ``"cuda:N"`` -> ("cuda", N); anything else is a HakeError."""
    kind, _, index = str(device).partition(":")
    if kind not in PROVIDERS or (index and (kind == "cpu" or not index.isdigit())):
        raise HakeError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
    return kind, int(index or 0)


class OnnxModel:
    """An onnxruntime session with a known input and a running total of inference time.

    Args:
        source: a zoo name (``"detector.nanodet_m"``) or a path to an ``.onnx`` file.
        threads: onnxruntime intra-op threads (1 by default: the machines are shared).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (GPU N, onnxruntime's ``device_id``).

    Attributes:
        run_seconds: wall time spent inside ``session.run`` since creation (or the last reset).
        calls: number of ``run`` calls counted in ``run_seconds``.
    """

    def __init__(self, source: str | Path, threads: int = 1, device: str = "cpu") -> None:
        import onnxruntime as ort

        path = Path(source) if str(source).endswith(".onnx") else weight_path(str(source))
        if not path.is_file():
            raise HakeError(f"ONNX model not found: {path}")
        kind, index = parse_device(device)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        available = set(ort.get_available_providers())
        if PROVIDERS[kind][0] not in available:
            raise HakeError(f"device {device!r} needs onnxruntime's {PROVIDERS[kind][0]}, which this "
                            f"installation lacks (available: {', '.join(sorted(available))})")
        providers: list[Any] = [p for p in PROVIDERS[kind] if p in available]
        if kind == "cuda":
            providers[0] = (providers[0], {"device_id": index})
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types
            raise HakeError(f"cannot load ONNX model {path}: {err}") from None
        self.path = path
        self.input = self.session.get_inputs()[0]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.run_seconds = 0.0
        self.calls = 0

    def expect(self, what: str, input_type: str, input_tail: tuple[int | None, ...],
               output_tail: tuple[int | None, ...]) -> None:
        """Refuse a model whose signature is not ``what``'s: input element type (``"tensor(float)"``)
        and the last dimensions of its input and first output (None = any size).

        Raises:
            HakeError: naming the file, what it is and what was expected.
        """
        def fits(shape: list[Any], tail: tuple[int | None, ...]) -> bool:
            return len(shape) >= len(tail) and all(
                t is None or s == t for s, t in zip(shape[len(shape) - len(tail):], tail, strict=True))

        out = self.session.get_outputs()[0]
        if self.input.type != input_type or not fits(self.input.shape, input_tail) or not fits(out.shape, output_tail):
            def dims(tail: tuple[int | None, ...]) -> str:
                return "[..., " + ", ".join("N" if t is None else str(t) for t in tail) + "]"

            raise HakeError(f"{self.path} is not a {what} model: it takes {self.input.type} {self.input.shape} "
                            f"and gives {out.shape}; a {what} takes {input_type} {dims(input_tail)} and gives "
                            f"{dims(output_tail)}")

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        """Run the model on one input array; returns the outputs in the model's output order."""
        start = time.perf_counter()
        out = self.session.run(None, {self.input.name: x})
        self.run_seconds += time.perf_counter() - start
        self.calls += 1
        return out

    def reset_timer(self) -> None:
        """Zero :attr:`run_seconds` and :attr:`calls`."""
        self.run_seconds = 0.0
        self.calls = 0
