"""PaSta-R: reasoning activities (600 HOIs, 117 verbs) from body-part states (DESIGN §6).

One constructor, :class:`PastaR` ``(kind, in_spec)``, over five cores (:mod:`hake.models.reasoners`):
``linear``, ``mlp``, ``gcn``, ``seq``, ``tree``. Inputs are six part-group tensors in the order
foot, leg, hip, hand, arm, head — either Activity2Vec features or PaSta probabilities / one-hots
(GT-HAKE) — plus optional part flags ``(B, 10)`` and an optional object input ``(B, 80)`` (one-hot or
multi-hot over HICO objects, used raw or through a learned embedding). With PaSta inputs the
language stream L (probabilities × phrase embeddings → FC) can be added to the logits.

Weights are safetensors with the model config in the file's metadata (:func:`save_pasta_r`,
:func:`load_pasta_r`); the model zoo builds ``pasta_r.*`` names with :func:`load_pasta_r`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from hake.errors import DataError, HakeError
from hake.models.reasoners import DEFAULT_HIDDEN, KINDS, TREE, build_core
from hake.models.weights_io import build_checked, read_weights, save_weights
from hake.vocab.core import GROUPS
from hake.vocab.core import load as load_vocab

__all__ = ["KINDS", "InSpec", "PastaR", "split_groups", "save_pasta_r", "load_pasta_r"]


@dataclass(frozen=True)
class InSpec:
    """What a PaSta-R model reads.

    Attributes:
        group_dims: width of each of the six group inputs, foot..head (e.g. the PaSta-76 group sizes
            12, 10, 5, 31, 5, 13, or Activity2Vec feature widths).
        n_parts: 10 to read the part flags ``(B, 10)``, 0 not to.
        n_objects: 80 to read an object input ``(B, 80)``, 0 not to.
        obj_embed_dim: 0 feeds the object input as it is; > 0 first maps it with a learned
            embedding (a bias-free linear layer) to that width.
        language: add the language stream L; needs the groups to be probabilities in ``pasta_space``.
        pasta_space: the PaSta space of the Tree's auxiliary targets and the language stream.
    """

    group_dims: tuple[int, ...]
    n_parts: int = 0
    n_objects: int = 0
    obj_embed_dim: int = 0
    language: bool = False
    pasta_space: str = "pasta76"

    def __post_init__(self) -> None:
        object.__setattr__(self, "group_dims", tuple(int(d) for d in self.group_dims))
        if len(self.group_dims) != 6 or min(self.group_dims) < 1:
            raise HakeError(f"group_dims needs six positive widths (foot..head), got {self.group_dims}")
        if self.language and self.group_dims != load_vocab().group_sizes(self.pasta_space):
            raise HakeError("the language stream reads PaSta probabilities: group_dims must be the group sizes")

    @classmethod
    def pasta(cls, space: str = "pasta76", parts: bool = True, objects: bool = False, **kw: Any) -> InSpec:
        """GT-HAKE input: the PaSta one-hots/probabilities of ``space`` (+ part flags, + objects)."""
        return cls(load_vocab().group_sizes(space), 10 if parts else 0, 80 if objects else 0, pasta_space=space, **kw)

    @property
    def ctx_dim(self) -> int:
        """Width of the context (part flags ‖ object input) appended by every core."""
        return self.n_parts + (self.obj_embed_dim or self.n_objects)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "group_dims": list(self.group_dims)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InSpec:
        return cls(**{**d, "group_dims": tuple(d["group_dims"])})


@dataclass
class _Config:
    kind: str
    in_spec: InSpec
    out_dim: int = 600
    n_verbs: int = 117
    hidden: int = 0
    dropout: float = 0.5
    extra: dict[str, Any] = field(default_factory=dict)


class PastaR(nn.Module):
    """A PaSta-R reasoner.

    Args:
        kind: "linear", "mlp", "gcn", "seq" or "tree".
        in_spec: the inputs (:class:`InSpec`).
        out_dim: HOI classes (600).
        n_verbs: verb classes (117).
        hidden: width of the core's hidden layer (0 = DESIGN default: MLP 4096, GCN 128 per node,
            Seq 512 LSTM units, Tree 512 per node).
        dropout: MLP dropout.

    ``forward(groups, obj=None, parts=None)`` returns ``{"hoi": (B, 600), "verb": (B, 117),
    "aux": {node: (B, n_states)}}`` logits; ``aux`` is empty except for the Tree.
    """

    def __init__(
        self, kind: str, in_spec: InSpec, out_dim: int = 600, n_verbs: int = 117, hidden: int = 0, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise HakeError(f"unknown PaSta-R kind {kind!r}; choose from {', '.join(KINDS)}")
        hidden = hidden or DEFAULT_HIDDEN[kind]
        self.config = _Config(kind, in_spec, out_dim, n_verbs, hidden, dropout)
        self.kind, self.in_spec, self.out_dim, self.n_verbs = kind, in_spec, out_dim, n_verbs
        pasta_sizes = load_vocab().group_sizes(in_spec.pasta_space)
        self.obj_embed = (
            nn.Linear(in_spec.n_objects, in_spec.obj_embed_dim, bias=False)
            if in_spec.n_objects and in_spec.obj_embed_dim else None
        )
        self.core = build_core(kind, in_spec.group_dims, in_spec.ctx_dim, pasta_sizes, hidden, dropout)
        self.head = nn.Linear(self.core.out_dim, out_dim + n_verbs)
        self.lang = None
        if in_spec.language:
            from hake.models.language import LanguageStream, phrase_embeddings

            if in_spec.pasta_space != "pasta76":
                raise HakeError("phrase embeddings are shipped for pasta76 only")
            self.lang = LanguageStream(pasta_sizes, phrase_embeddings("pasta76"), out_dim + n_verbs)

    def context(self, batch: int, obj: Tensor | None, parts: Tensor | None, ref: Tensor) -> Tensor:
        """Part flags ‖ (embedded) object input, ``(B, ctx_dim)``; checks that the declared inputs are given."""
        spec, ctx = self.in_spec, []
        if spec.n_parts:
            if parts is None or parts.shape != (batch, spec.n_parts):
                raise HakeError(f"this model reads part flags of shape ({batch}, {spec.n_parts})")
            ctx.append(parts.to(ref.dtype))
        if spec.n_objects:
            if obj is None or obj.shape != (batch, spec.n_objects):
                raise HakeError(f"this model reads an object input of shape ({batch}, {spec.n_objects})")
            obj = obj.to(ref.dtype)
            ctx.append(self.obj_embed(obj) if self.obj_embed is not None else obj)
        return torch.cat(ctx, dim=1) if ctx else ref.new_zeros(batch, 0)

    def forward(self, groups: list[Tensor], obj: Tensor | None = None, parts: Tensor | None = None) -> dict[str, Any]:
        """groups: six ``(B, d_k)``; obj ``(B, 80)``; parts ``(B, 10)`` -> dict of logits (see class doc)."""
        if len(groups) != 6:
            raise HakeError(f"PaSta-R reads six group tensors (foot..head), got {len(groups)}")
        b = groups[0].shape[0]
        for name, g, d in zip(GROUPS, groups, self.in_spec.group_dims):
            if g.shape != (b, d):
                raise HakeError(f"group {name}: expected shape ({b}, {d}), got {tuple(g.shape)}")
        ctx = self.context(b, obj, parts, groups[0])
        rep, aux = self.core(groups, ctx)
        logits = self.head(rep)
        if self.lang is not None:
            logits = logits + self.lang(groups)
        return {"hoi": logits[:, : self.out_dim], "verb": logits[:, self.out_dim:], "aux": aux}

    def aux_loss(self, out: dict[str, Any], pasta_targets: Tensor) -> Tensor:
        """Mean BCE of the Tree's node predictions against ``pasta_targets`` ``(B, n_pasta)`` multi-hot
        (each node predicts the states of the groups it covers); 0 for the other kinds.
        """
        aux = out["aux"]
        if not aux:
            return pasta_targets.new_zeros(())
        slices = list(load_vocab().pasta_slices(self.in_spec.pasta_space).values())
        losses = []
        for name, (_, covered) in TREE.items():
            target = torch.cat([pasta_targets[:, slices[g]] for g in covered], dim=1).to(aux[name].dtype)
            losses.append(F.binary_cross_entropy_with_logits(aux[name], target))
        return torch.stack(losses).mean()

    def config_dict(self) -> dict[str, Any]:
        """JSON-able constructor arguments (what :func:`load_pasta_r` rebuilds from)."""
        c = self.config
        return {"kind": c.kind, "in_spec": c.in_spec.to_dict(), "out_dim": c.out_dim, "n_verbs": c.n_verbs,
                "hidden": c.hidden, "dropout": c.dropout}

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> PastaR:
        return cls(cfg["kind"], InSpec.from_dict(cfg["in_spec"]), cfg["out_dim"], cfg["n_verbs"], cfg["hidden"],
                   cfg["dropout"])


def split_groups(x: Tensor, space: str = "pasta76") -> list[Tensor]:
    """Cut a flat PaSta vector ``(B, n)`` (foot..head order) into the six group views ``(B, n_k)``."""
    slices = load_vocab().pasta_slices(space)
    n = sum(s.stop - s.start for s in slices.values())
    if x.ndim != 2 or x.shape[1] != n:
        raise HakeError(f"expected a (B, {n}) {space} tensor, got {tuple(x.shape)}")
    return [x[:, s] for s in slices.values()]


def save_pasta_r(model: PastaR, path: str | Path, info: dict[str, Any] | None = None) -> None:
    """Write the weights as safetensors with the config (JSON, plus ``info`` under the key "info") in
    the only metadata key, ``config`` (one key keeps the file bytes reproducible: the header's
    metadata map has no fixed order)."""
    cfg = model.config_dict() if info is None else {**model.config_dict(), "info": info}
    save_weights(path, model.state_dict(), {"config": json.dumps(cfg, sort_keys=True)})


def load_pasta_r(path: str | Path) -> PastaR:
    """Rebuild a :class:`PastaR` from a file written by :func:`save_pasta_r` (in eval mode).

    The config is first built on the ``meta`` device and must ask for at most
    :data:`~hake.models.weights_io.MAX_PARAMS` parameters and exactly the stored tensors
    (:func:`~hake.models.weights_io.build_checked`), so a damaged config allocates nothing.

    Raises:
        DataError: unreadable file, no or bad ``config``, too many parameters, tensors that do not fit.
    """
    state, meta = read_weights(path)
    if "config" not in meta:
        raise DataError("no PaSta-R config in the metadata", file=path, field="config")
    try:
        cfg = json.loads(meta["config"])
    except (TypeError, ValueError, OverflowError, RecursionError) as err:
        raise DataError(f"bad PaSta-R config: {err}", file=path, field="config") from None
    if not isinstance(cfg, dict):
        raise DataError("bad PaSta-R config: expected a JSON object", file=path, field="config")
    return build_checked(lambda: PastaR.from_config(cfg), state, path, "config")

