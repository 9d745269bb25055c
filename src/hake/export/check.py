"""``hake export check``: onnxruntime against PyTorch on real inputs (max abs difference < 1e-4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hake.errors import HakeError
from hake.export.onnx_export import OnnxInfo, load_source, read_info, run_session, run_torch, session, source_sha256

#: Largest absolute difference between onnxruntime and PyTorch outputs that passes.
TOLERANCE = 1e-4


@dataclass
class CheckReport:
    """Outcome of comparing an exported model with its PyTorch source.

    Attributes:
        path: the ONNX file.
        family, source: from the file's metadata.
        max_abs_diff: per output name, the largest |onnxruntime − PyTorch| over every run.
        runs: graph runs compared; rows: persons/pairs compared over all runs.
        inputs: where the inputs came from (annotation file or photos).
        tolerance: the pass threshold.
    """

    path: str
    family: str
    source: str
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    runs: int = 0
    rows: int = 0
    inputs: str = ""
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        """True when every output is within :attr:`tolerance` and at least one row was compared."""
        return self.rows > 0 and all(v < self.tolerance for v in self.max_abs_diff.values())

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "family": self.family, "source": self.source, "passed": self.passed,
                "max_abs_diff": self.max_abs_diff, "tolerance": self.tolerance, "runs": self.runs,
                "rows": self.rows, "inputs": self.inputs}


def real_inputs(info: OnnxInfo, model: Any, annotations: Path | None, images: Sequence[Path],
                limit: int = 256, level: str = "image") -> tuple[list[dict[str, np.ndarray]], str]:
    """The inputs ``check`` compares on, and a description of where they came from."""
    from hake.export import inputs as I

    images = list(images) or I.default_images()
    if info.family == "pasta_r":
        spec = model.in_spec
        if annotations is not None:
            runs = I.hake_annotation_inputs(annotations, spec.group_dims, spec.n_parts, spec.n_objects, limit, level)
            return runs, f"HAKE {level}-level annotations {annotations} (first {len(runs[0]['pasta'])} samples)"
        if not images:
            raise HakeError("PaSta-R is checked on HAKE annotations (--annotations) or photos (--images)")
        return (I.pasta_r_pair_inputs(I.pair_batches(images), spec.n_parts, spec.n_objects),
                f"default PaSta model on the pairs of {len(images)} photo(s)")
    if info.family == "activity2vec":
        if not images:
            raise HakeError("Activity2Vec is checked on photos with people: pass --images")
        return I.a2v_inputs(model, I.pair_batches(images)), f"pairs of {len(images)} photo(s)"
    from hake.export.graphs import family

    make = family(info.family).real_inputs
    if make is None:
        raise HakeError(f"no real-input builder for family {info.family!r}")
    if annotations is not None:  # layout-only models: ground-truth pairs of HICO-DET test images
        batches = I.hicodet_pair_batches(annotations, limit)
        return make(model, batches), f"HICO-DET ground-truth pairs of {len(batches)} images in {annotations}"
    if not images:
        raise HakeError(f"{info.family} is checked on HICO-DET pairs (--annotations) or photos (--images)")
    return make(model, I.pair_batches(images)), f"pairs of {len(images)} photo(s)"


def check_onnx(
    path: Path,
    *,
    weights: Path | None = None,
    annotations: Path | None = None,
    images: Sequence[Path] = (),
    limit: int = 256,
    level: str = "image",
    threads: int = 1,
) -> CheckReport:
    """Compare ``path`` run by onnxruntime with its PyTorch source on real inputs.

    Args:
        path: an ONNX file written by :func:`hake.export.onnx_export.export_onnx`.
        weights: the PyTorch weight file to compare with (default: the source in the metadata).
        annotations: PaSta-R: a HAKE annotation file (``level`` "image" or "instance");
            Spatial-PaSta: HICO-DET test ground truth (``instances_test2015.json``).
        images: photos with people (default: the repository's ``examples/``).
        limit: at most this many annotated samples (PaSta-R) or images (HICO-DET).
        threads: onnxruntime intra-op threads.

    Raises:
        HakeError: the source model cannot be found or its sha256 differs from the recorded one.
    """
    import torch

    torch.set_num_threads(threads)
    path = Path(path)
    sess = session(path, threads)
    info = read_info(path, sess)
    source = f"file:{Path(weights).resolve()}" if weights is not None else info.source
    if not source:
        raise HakeError(f"{path} records no source model; pass --weights")
    if weights is None and info.source_sha256 and source_sha256(source) not in ("", info.source_sha256):
        raise HakeError(f"the source {source} changed since export (sha256 differs); pass --weights")
    model, fam = load_source(source)
    if fam.name != info.family:
        raise HakeError(f"{source} is a {fam.name} model but {path} holds a {info.family}")
    runs, where = real_inputs(info, model, annotations, images, limit, level)
    report = CheckReport(str(path), info.family, source, inputs=where)
    for feed in runs:
        got = run_session(sess, info, feed)
        ref = run_torch(model, feed)
        for name in info.outputs:
            if got[name].shape != ref[name].shape:
                raise HakeError(f"output {name}: onnxruntime shape {got[name].shape} != PyTorch {ref[name].shape}")
            diff = float(np.abs(got[name].astype(np.float64) - ref[name]).max()) if ref[name].size else 0.0
            report.max_abs_diff[name] = max(report.max_abs_diff.get(name, 0.0), diff)
        report.runs += 1
        report.rows += int(ref[info.outputs[0]].shape[0])
    return report
