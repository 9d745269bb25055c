"""Late fusion of named score streams: S = Σ_k w_k σ(s_k / T_k).

Weights ``w_k ≥ 0`` (normalised to sum 1, so S stays a probability) and temperatures ``T_k > 0``
are fitted on a validation split by minimising the binary cross-entropy of S (L-BFGS), and are
stored with the model — in the Activity2Vec weight file's metadata (``fusion`` key, see
:func:`hake.models.a2v_predictor.save_model`) or as JSON via :meth:`LateFusion.to_dict`. Nothing
lives in hidden side files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from hake.errors import DataError


class LateFusion(nn.Module):
    """Fuse logits of named streams.

    Args:
        streams: stream names in a fixed order.
        weights: initial w_k (default uniform).
        temperatures: initial T_k (default 1).
    """

    def __init__(self, streams: list[str], weights: list[float] | None = None,
                 temperatures: list[float] | None = None) -> None:
        super().__init__()
        if not streams or len(set(streams)) != len(streams):
            raise DataError("fusion needs distinct, non-empty stream names", field="streams")
        self.streams = list(streams)
        w = torch.tensor(weights if weights is not None else [1.0] * len(streams), dtype=torch.float64)
        t = torch.tensor(temperatures if temperatures is not None else [1.0] * len(streams), dtype=torch.float64)
        if w.shape != (len(streams),) or t.shape != (len(streams),) or (w < 0).any() or (t <= 0).any():
            raise DataError("need one weight ≥ 0 and one temperature > 0 per stream", field="fusion")
        self.log_w = nn.Parameter(torch.log(w / w.sum()).clamp(min=-30))
        self.log_t = nn.Parameter(torch.log(t))

    @property
    def weights(self) -> np.ndarray:
        """(K,) normalised weights w_k."""
        return torch.softmax(self.log_w.detach(), 0).numpy()

    @property
    def temperatures(self) -> np.ndarray:
        """(K,) temperatures T_k."""
        return torch.exp(self.log_t.detach()).numpy()

    def forward(self, logits: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Fused probabilities (N, C) of per-stream logits ``{name: (N, C)}`` (missing stream = error)."""
        missing = [s for s in self.streams if s not in logits]
        if missing:
            raise DataError(f"missing fusion streams {missing}", field="streams")
        w = torch.softmax(self.log_w, 0)
        t = torch.exp(self.log_t)
        return sum(w[k] * torch.sigmoid(logits[s].double() / t[k]) for k, s in enumerate(self.streams))

    def fit(self, logits: Mapping[str, torch.Tensor], labels: torch.Tensor, *, steps: int = 100,
            mask: torch.Tensor | None = None) -> float:
        """Fit w and T on validation logits ``{name: (N, C)}`` and (N, C) binary labels; return the final BCE.

        ``mask`` (N, C) bool selects the entries that count (e.g. HOIs of the pair's object).
        """
        y = labels.double()
        m = torch.ones_like(y, dtype=torch.bool) if mask is None else mask.bool()
        data = {k: v.detach().double() for k, v in logits.items()}
        opt = torch.optim.LBFGS([self.log_w, self.log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            p = self(data).clamp(1e-7, 1 - 1e-7)
            loss = nn.functional.binary_cross_entropy(p[m], y[m])
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            self.log_t.clamp_(-6.0, 6.0)
            p = self(data).clamp(1e-7, 1 - 1e-7)
            return float(nn.functional.binary_cross_entropy(p[m], y[m]))

    def to_dict(self) -> dict[str, Any]:
        """``{"streams", "weights", "temperatures"}`` as plain JSON values."""
        return {"streams": self.streams, "weights": self.weights.tolist(), "temperatures": self.temperatures.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LateFusion:
        for key in ("streams", "weights", "temperatures"):
            if key not in d:
                raise DataError("fusion parameters incomplete", field=key)
        return cls(list(d["streams"]), list(d["weights"]), list(d["temperatures"]))
