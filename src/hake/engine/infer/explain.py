"""Which part states made PaSta-R predict an HOI.

For the top HOIs of one input, every input feature (PaSta state, part flag, object) gets a
contribution to the HOI logit relative to the all-zero input:

- ``linear``: the model is affine in its inputs, so ``contribution_j = w_j · x_j`` is exact and the
  contributions sum to ``logit(x) - logit(0)`` (the effective weight ``w_j`` is the gradient, which is
  the same everywhere);
- other reasoners: integrated gradients (Sundararajan et al. 2017) along the straight path from 0 to
  ``x`` with ``steps`` midpoint samples; the sum matches ``logit(x) - logit(0)`` up to the
  discretisation error, which is reported as ``completeness_gap``. For the GCN the three groups
  selected for ``x`` stay selected along the path (the explanation is conditional on them); the
  baseline logit is then the all-zero input with those groups selected.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from hake.errors import HakeError
from hake.models.pasta_r import PastaR, split_groups
from hake.vocab.core import load as load_vocab


@dataclass
class Contribution:
    feature: str
    index: int
    value: float
    contribution: float


@dataclass
class HoiExplanation:
    hoi: int
    name: str
    probability: float
    logit: float
    baseline_logit: float
    completeness_gap: float
    contributions: list[Contribution] = field(default_factory=list)


def feature_names(model: PastaR) -> list[str]:
    """Names of the flat input features: PaSta ("hand: hold"), part flags, objects."""
    v, spec = load_vocab(), model.in_spec
    if spec.group_dims != v.group_sizes(spec.pasta_space):
        raise HakeError("explanations need a reasoner that reads PaSta (GT-HAKE input), not features")
    names = [f"{g}: {s}".replace("_", " ") for g, s in v.pasta[spec.pasta_space]]
    names += [f"part: {p}" for p in v.parts][: spec.n_parts]
    names += [f"object: {o}".replace("_", " ") for o in v.objects][: spec.n_objects]
    return names


def _logits(model: PastaR, x: Tensor) -> Tensor:
    """HOI logits ``(B, 600)`` of flat inputs ``x`` ``(B, n_pasta + n_parts + n_objects)``."""
    spec = model.in_spec
    n = sum(spec.group_dims)
    parts = x[:, n:n + spec.n_parts] if spec.n_parts else None
    obj = x[:, n + spec.n_parts:] if spec.n_objects else None
    return model(split_groups(x[:, :n], spec.pasta_space), obj, parts)["hoi"]


def _selection_of(model: PastaR, x: Tensor) -> AbstractContextManager:
    """For the GCN, a context that keeps the groups selected for ``x`` (D,) selected; else a no-op."""
    if model.kind != "gcn":
        return nullcontext()
    n = sum(model.in_spec.group_dims)
    with torch.no_grad():
        idx = model.core.select(split_groups(x[None, :n], model.in_spec.pasta_space))[0]
    return model.core.fixed_selection(idx)


def attributions(model: PastaR, x: Tensor, hois: list[int], steps: int = 64) -> Tensor:
    """``(len(hois), D)`` contributions of the features of ``x`` ``(D,)`` to each HOI logit."""
    model.eval()
    if model.kind == "linear":
        alphas = torch.ones(1)
    else:
        alphas = (torch.arange(steps, dtype=x.dtype) + 0.5) / steps
    path = (alphas[:, None] * x[None, :]).requires_grad_(True)
    with _selection_of(model, x):
        out = _logits(model, path)[:, hois]  # (S, H)
    grads = []
    for j in range(len(hois)):
        (g,) = torch.autograd.grad(out[:, j].sum(), path, retain_graph=j + 1 < len(hois))
        grads.append(g.mean(dim=0))
    return torch.stack(grads) * x[None, :]


def explain(
    model: PastaR, x: Tensor, top_hois: int = 5, top_features: int = 5, steps: int = 64, hois: list[int] | None = None,
    pasta_only: bool = False,
) -> list[HoiExplanation]:
    """Explain the ``top_hois`` highest-scoring HOIs (or the given ``hois``) for the flat input ``x``.

    Args:
        model: a PaSta-R reasoner with PaSta input.
        x: ``(D,)`` PaSta multi-hot/probabilities ‖ part flags ‖ object multi-hot, as :func:`feature_names`.
        top_features: contributions listed per HOI, largest absolute value first.
        pasta_only: list part states only (part flags and objects still count in the totals).
    """
    names = feature_names(model)
    x = torch.as_tensor(x, dtype=torch.float32).reshape(-1)
    if x.numel() != len(names):
        raise HakeError(f"expected {len(names)} input features, got {x.numel()}")
    with torch.no_grad():
        logits = _logits(model, x[None])[0]
        with _selection_of(model, x):
            base = _logits(model, torch.zeros_like(x)[None])[0]
    chosen = hois if hois is not None else logits.topk(top_hois).indices.tolist()
    attr = attributions(model, x, chosen, steps)
    v, out = load_vocab(), []
    for row, h in zip(attr, chosen):
        ranked = row[: sum(model.in_spec.group_dims)] if pasta_only else row
        order = ranked.abs().argsort(descending=True)[:top_features].tolist()
        lx, l0 = float(logits[h]), float(base[h])
        out.append(HoiExplanation(
            hoi=int(h), name=v.hoi_name(int(h)), probability=float(torch.sigmoid(logits[h])), logit=lx,
            baseline_logit=l0, completeness_gap=lx - l0 - float(row.sum()),
            contributions=[Contribution(names[j], j, float(x[j]), float(row[j])) for j in order if row[j] != 0],
        ))
    return out


def explanation_dict(model: PastaR, items: list[HoiExplanation]) -> dict[str, Any]:
    """JSON-able form: method and one entry per HOI."""
    from dataclasses import asdict

    method = "exact (weight x input)" if model.kind == "linear" else "integrated gradients (zero baseline)"
    return {"reasoner": model.kind, "method": method, "hois": [asdict(e) for e in items]}


def explanation_text(model: PastaR, items: list[HoiExplanation]) -> str:
    """Readable lines: each HOI with its probability, then its top contributions."""
    d = explanation_dict(model, items)
    lines = [f"PaSta-R {d['reasoner']} — contributions to the HOI logit, {d['method']}"]
    for e in items:
        lines.append(f"{e.name} (HOI {e.hoi}): p = {e.probability:.3f}, logit {e.logit:+.2f} "
                     f"(all-zero input {e.baseline_logit:+.2f})")
        lines += [f"    {c.contribution:+7.3f}  {c.feature}" for c in e.contributions]
    return "\n".join(lines)
