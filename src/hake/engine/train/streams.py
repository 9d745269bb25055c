"""Train the instance-level pair streams from a feature cache and fit their late fusion.

The streams (:class:`~hake.models.pair_streams.PairStreams`) plus the Activity2Vec verb stream
(``a2v``: the cached ``p_verb`` mapped to the target space) are fused by
:class:`~hake.models.fusion.LateFusion`, whose weights and temperatures are fitted on the
held-out cache. Everything runs from disk, never from pixels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from hake.engine.train.features import CachedFeatures
from hake.engine.train.lightning_module import pos_weights
from hake.engine.train.metrics import multilabel_map
from hake.errors import DataError
from hake.models.fusion import LateFusion
from hake.models.pair_streams import STREAMS, PairStreams
from hake.models.weights_io import build_checked, read_weights, save_weights
from hake.vocab import load


@dataclass
class StreamResult:
    """Trained streams, fitted fusion and held-out mAP per stream and fused."""

    streams: PairStreams
    fusion: LateFusion
    metrics: dict[str, float]


def a2v_logits(data: dict[str, torch.Tensor], target: str) -> torch.Tensor:
    """Activity2Vec's verb logits in the target space (HOI h takes the logit of its verb)."""
    p = data["p_verb"].double().clamp(1e-6, 1 - 1e-6)
    logit = torch.log(p / (1 - p))
    if target == "hoi":
        logit = logit[:, torch.from_numpy(load().hoi_verb)]
    return logit


def stream_logits(model: PairStreams, data: dict[str, torch.Tensor], target: str) -> dict[str, torch.Tensor]:
    """Every stream's (N, T) logits on all rows of a cache, plus ``a2v``."""
    model.eval()
    with torch.no_grad():
        out = model(data["roi"], data["boxes_h"], data["boxes_o"])
    out["a2v"] = a2v_logits(data, target)
    return out


def train_streams(train: CachedFeatures, val: CachedFeatures, *, target: str = "hoi", epochs: int = 30,
                  batch_size: int = 64, lr: float = 2e-3, seed: int = 0, streams: tuple[str, ...] = STREAMS,
                  max_pos_weight: float = 10.0) -> StreamResult:
    """Fit the pair streams (weighted BCE, AdamW) on ``train`` and the fusion on ``val``."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    d = train.data
    y = d[target].float()
    model = PairStreams(int(d["roi"].shape[2]), int(y.shape[1]), streams=streams)
    w = pos_weights(y, max_pos_weight)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(y), generator=gen).split(batch_size):
            out = model(d["roi"][idx], d["boxes_h"][idx], d["boxes_o"][idx])
            loss = sum(F.binary_cross_entropy_with_logits(v, y[idx], pos_weight=w) for v in out.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
    logits = stream_logits(model, val.data, target)
    y_val = val.data[target]
    fusion = LateFusion(list(logits))
    mask = None
    if target == "hoi":  # only the HOIs of the pair's object compete, as in HICO-DET
        mask = torch.from_numpy(load().hoi_object)[None] == val.data["object"][:, None]
    fusion.fit(logits, y_val, mask=mask)
    metrics: dict[str, Any] = {}
    with torch.no_grad():
        fused = torch.logit(fusion(logits).clamp(1e-7, 1 - 1e-7))
    for name, v in {**logits, "fused": fused}.items():
        s = torch.sigmoid(v.double())
        if mask is not None:
            s = s * mask
        metrics[f"{name}_mAP"] = multilabel_map(s.numpy(), y_val.numpy())[1]
    return StreamResult(model, fusion, metrics)


def save_streams(path: str | Path, result: StreamResult) -> None:
    """Write the stream weights with the fitted fusion (metadata ``fusion``) to one safetensors file."""
    meta = {"format": "hake-pair-streams-v1", "fusion": json.dumps(result.fusion.to_dict()),
            "streams": json.dumps({"names": list(result.streams.streams), "channels": result.streams.channels,
                                   "n_out": result.streams.n_out})}
    save_weights(path, result.streams.state_dict(), meta)


def load_streams(path: str | Path) -> tuple[PairStreams, LateFusion]:
    """The streams and their fusion from a file written by :func:`save_streams`."""
    state, meta = read_weights(path)
    if meta.get("format") != "hake-pair-streams-v1":
        raise DataError("not a pair-streams file", file=path, field="format")
    try:
        cfg = json.loads(meta["streams"])
        fusion = LateFusion.from_dict(json.loads(meta["fusion"]))
        channels, n_out, names = cfg["channels"], cfg["n_out"], tuple(cfg["names"])
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise DataError(f"bad pair-streams metadata: {err}", file=path, field="streams") from None
    model = build_checked(lambda: PairStreams(channels, n_out, streams=names), state, path, "streams")
    return model, fusion
