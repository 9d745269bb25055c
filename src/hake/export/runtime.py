"""Exported models as :class:`~hake.models.interface.PastaModel` objects (``hake infer --onnx M.onnx``).

The network runs in onnxruntime; the pre- and post-processing are the PyTorch predictor's own
code, so an exported model gives the pipeline the same outputs as its source (up to float error).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from hake.errors import HakeError
from hake.export.onnx_export import OnnxInfo, read_info, run_session, session
from hake.structures.contracts import PairBatch, PastaOutput


class _OrtNetwork:
    """Stands in for the ``a2v`` module of an A2VPredictor: one onnxruntime run per call."""

    def __init__(self, sess: Any, info: OnnxInfo, spec: Any) -> None:
        self.sess, self.info, self.spec = sess, info, spec
        self.objects: np.ndarray | None = None
        self.reasoner_logits: torch.Tensor | None = None

    def eval(self) -> _OrtNetwork:
        return self

    def __call__(self, **t: torch.Tensor) -> SimpleNamespace:
        feed = {k: v.numpy() for k, v in t.items()}
        if "objects" in self.info.inputs:
            feed["objects"] = self.objects
        out = run_session(self.sess, self.info, feed)
        if "reasoner_logits" in out:
            self.reasoner_logits = torch.from_numpy(out["reasoner_logits"])
        f_pasta = torch.from_numpy(out["f_pasta"])
        return SimpleNamespace(p_pasta=torch.from_numpy(out["p_pasta"]), p_verb=torch.from_numpy(out["p_verb"]),
                               f_pasta=f_pasta, groups=list(f_pasta.chunk(6, dim=1)))


class _OrtReasoner:
    """Stands in for the PaSta-R head: hands back the logits of the same onnxruntime run."""

    def __init__(self, net: _OrtNetwork) -> None:
        self.net = net

    def eval(self) -> _OrtReasoner:
        return self

    def __call__(self, groups: list[torch.Tensor], obj: torch.Tensor) -> torch.Tensor:
        assert self.net.reasoner_logits is not None
        return self.net.reasoner_logits


def _a2v_model(sess: Any, info: OnnxInfo) -> Any:
    from hake.export.inputs import object_one_hot
    from hake.models.a2v_predictor import A2VPredictor
    from hake.models.activity2vec import A2VSpec

    net = _OrtNetwork(sess, info, A2VSpec.from_json(info.meta["spec"]))
    reasoner = _OrtReasoner(net) if "reasoner_logits" in info.outputs else None

    class OrtA2VPredictor(A2VPredictor):
        """A2VPredictor whose networks run in onnxruntime."""

        def predict(self, batch: PairBatch) -> PastaOutput:
            net.objects = object_one_hot(batch.object_labels)
            return super().predict(batch)

    return OrtA2VPredictor(net, reasoner, info.meta.get("target") or "verb117")  # type: ignore[arg-type]


class OnnxPastaModel:
    """A PaSta model exported by ``hake export onnx``, run by onnxruntime.

    Args:
        path: the ``.onnx`` file (Activity2Vec or Spatial-PaSta; PaSta-R alone reads PaSta, not pairs).
        threads: onnxruntime intra-op threads.
        device: ``cpu`` or ``cuda`` (CUDA execution provider when installed).
    """

    def __init__(self, path: Path, threads: int = 1, device: str = "cpu") -> None:
        self.path = Path(path)
        self.session = session(self.path, threads, device)
        self.info = read_info(self.path, self.session)
        if self.info.family == "activity2vec":
            self._impl = _a2v_model(self.session, self.info)
        elif self.info.family == "spatial_pasta":
            from hake.export.spatial import onnx_runtime_model

            self._impl = onnx_runtime_model(self.session, self.info)
        else:
            raise HakeError(f"{self.path} holds a {self.info.family} model, which reads PaSta rather than "
                            "human-object pairs; export spatial_pasta or an Activity2Vec model for the pipeline")

    def predict(self, batch: PairBatch) -> PastaOutput:
        """PaSta-76, HOI-600 and verb-117 probabilities of every pair (see :class:`PastaOutput`)."""
        return self._impl.predict(batch)
