"""The five PaSta-R reasoning cores (DESIGN §6): Linear, MLP, GCN, Seq and Tree.

Every core maps the six part-group inputs (foot, leg, hip, hand, arm, head; ``(B, d_k)`` each)
and a context vector ``(B, c)`` (part flags and object input, possibly empty) to a representation
``(B, R)``; :class:`hake.models.pasta_r.PastaR` puts the shared 600 HOI + 117 verb head on top.
Cores return ``(representation, aux)`` where ``aux`` maps a tree node name to its auxiliary PaSta
logits (only the Tree has any).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

#: Group indices in the six-group order foot, leg, hip, hand, arm, head.
FOOT, LEG, HIP, HAND, ARM, HEAD = range(6)
#: Seq reads the body top-down: head -> arm -> hand -> hip -> leg -> foot.
SEQ_ORDER: tuple[int, ...] = (HEAD, ARM, HAND, HIP, LEG, FOOT)
#: Tree nodes: name -> (children, covered groups). Children are group indices (int) or node names.
TREE: dict[str, tuple[tuple[int | str, ...], tuple[int, ...]]] = {
    "arm": ((HAND, ARM), (HAND, ARM)),
    "leg": ((FOOT, LEG), (FOOT, LEG)),
    "upper": (("arm", HEAD), (HAND, ARM, HEAD)),
    "lower": (("leg", HIP), (FOOT, LEG, HIP)),
    "body": (("upper", "lower"), (FOOT, LEG, HIP, HAND, ARM, HEAD)),
}

Aux = dict[str, Tensor]


class LinearCore(nn.Module):
    """Concatenation of every input; the head on top makes it one FC layer."""

    def __init__(self, group_dims: tuple[int, ...], ctx_dim: int) -> None:
        super().__init__()
        self.out_dim = sum(group_dims) + ctx_dim

    def forward(self, groups: list[Tensor], ctx: Tensor) -> tuple[Tensor, Aux]:
        return torch.cat([*groups, ctx], dim=1), {}


class MLPCore(nn.Module):
    """concat -> FC(hidden) -> ReLU -> dropout (the head is the second FC)."""

    def __init__(self, group_dims: tuple[int, ...], ctx_dim: int, hidden: int = 4096, dropout: float = 0.5) -> None:
        super().__init__()
        self.fc = nn.Linear(sum(group_dims) + ctx_dim, hidden)
        self.drop = nn.Dropout(dropout)
        self.out_dim = hidden

    def forward(self, groups: list[Tensor], ctx: Tensor) -> tuple[Tensor, Aux]:
        return self.drop(torch.relu(self.fc(torch.cat([*groups, ctx], dim=1)))), {}


class GCNCore(nn.Module):
    """Graph over the top-``k`` groups by part attention (a complete graph of ``k`` nodes).

    Each group is projected to a node ``n_k`` (``hidden`` wide); the attention ``s_k = FC(n_k)``
    picks the top-``k`` groups per sample and scales their nodes by ``σ(s_k)`` (so attention is
    trained). On the selected nodes: ``e_ij = ReLU(FC([n_i, n_j]))``, gate ``a_ij = σ(FC(e_ij))``,
    message ``a_ij · ReLU(FC([n_j, e_ij]))``, ``n_i += Σ_{j≠i} message``. The updated nodes are put
    back in their group slots (unselected slots are zero), flattened and concatenated with the context.
    """

    def __init__(self, group_dims: tuple[int, ...], ctx_dim: int, hidden: int = 128, top_k: int = 3) -> None:
        super().__init__()
        self.top_k = top_k
        self.hidden = hidden
        self.proj = nn.ModuleList(nn.Linear(d, hidden) for d in group_dims)
        self.att = nn.Linear(hidden, 1)
        self.edge = nn.Linear(2 * hidden, hidden)
        self.gate = nn.Linear(hidden, 1)
        self.msg = nn.Linear(2 * hidden, hidden)
        self.out_dim = len(group_dims) * hidden + ctx_dim
        self.forced: Tensor | None = None

    @contextmanager
    def fixed_selection(self, idx: Tensor) -> Iterator[None]:
        """Use the groups ``idx`` ``(k,)`` for every sample inside the block (keeps the function
        continuous along an integrated-gradients path)."""
        self.forced = idx
        try:
            yield
        finally:
            self.forced = None

    def nodes_and_attention(self, groups: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Node features ``(B, 6, hidden)`` and attention logits ``(B, 6)``."""
        nodes = torch.stack([torch.relu(p(g)) for p, g in zip(self.proj, groups)], dim=1)
        return nodes, self.att(nodes).squeeze(-1)

    def select(self, groups: list[Tensor]) -> Tensor:
        """Indices ``(B, k)`` of the selected groups, ascending (group order)."""
        _, att = self.nodes_and_attention(groups)
        return att.topk(self.top_k, dim=1).indices.sort(dim=1).values

    def forward(self, groups: list[Tensor], ctx: Tensor) -> tuple[Tensor, Aux]:
        nodes, att = self.nodes_and_attention(groups)
        b, g, h = nodes.shape
        if self.forced is None:
            idx = att.topk(self.top_k, dim=1).indices.sort(dim=1).values  # (B, k)
        else:
            idx = self.forced.reshape(1, -1).expand(b, -1)
        sel = nodes.gather(1, idx[..., None].expand(-1, -1, h)) * torch.sigmoid(att.gather(1, idx))[..., None]
        k = self.top_k
        ni = sel[:, :, None, :].expand(b, k, k, h)
        nj = sel[:, None, :, :].expand(b, k, k, h)
        e = torch.relu(self.edge(torch.cat([ni, nj], dim=-1)))  # (B, k, k, h)
        a = torch.sigmoid(self.gate(e))  # (B, k, k, 1)
        m = a * torch.relu(self.msg(torch.cat([nj, e], dim=-1)))
        off_diag = 1.0 - torch.eye(k, dtype=m.dtype, device=m.device)[None, :, :, None]
        upd = sel + (m * off_diag).sum(dim=2)
        slots = torch.zeros_like(nodes).scatter(1, idx[..., None].expand(-1, -1, h), upd)
        return torch.cat([slots.flatten(1), ctx], dim=1), {}


class SeqCore(nn.Module):
    """LSTM over the groups head -> arm -> hand -> hip -> leg -> foot; last hidden state ‖ context."""

    def __init__(self, group_dims: tuple[int, ...], ctx_dim: int, hidden: int = 512, step_dim: int = 128) -> None:
        super().__init__()
        self.proj = nn.ModuleList(nn.Linear(d, step_dim) for d in group_dims)
        self.lstm = nn.LSTM(step_dim, hidden, batch_first=True)
        self.out_dim = hidden + ctx_dim

    def forward(self, groups: list[Tensor], ctx: Tensor) -> tuple[Tensor, Aux]:
        steps = torch.stack([torch.relu(self.proj[i](groups[i])) for i in SEQ_ORDER], dim=1)
        _, (h, _) = self.lstm(steps)
        return torch.cat([h[-1], ctx], dim=1), {}


class TreeCore(nn.Module):
    """Hierarchy arm=[hand, arm], leg=[foot, leg], upper=[arm, head], lower=[leg, hip],
    body=[upper, lower]; each node is ReLU(FC(hidden)) of its children and predicts the PaSta of
    the groups it covers (auxiliary logits); body ‖ context is the representation.
    """

    def __init__(
        self, group_dims: tuple[int, ...], ctx_dim: int, pasta_sizes: tuple[int, ...], hidden: int = 512
    ) -> None:
        super().__init__()
        self.fc = nn.ModuleDict()
        self.aux = nn.ModuleDict()
        for name, (children, covered) in TREE.items():
            d_in = sum(hidden if isinstance(c, str) else group_dims[c] for c in children)
            self.fc[name] = nn.Linear(d_in, hidden)
            self.aux[name] = nn.Linear(hidden, sum(pasta_sizes[g] for g in covered))
        self.out_dim = hidden + ctx_dim

    def forward(self, groups: list[Tensor], ctx: Tensor) -> tuple[Tensor, Aux]:
        feats: dict[str, Tensor] = {}
        aux: Aux = {}
        for name, (children, _) in TREE.items():  # insertion order is bottom-up
            x = torch.cat([feats[c] if isinstance(c, str) else groups[c] for c in children], dim=1)
            feats[name] = torch.relu(self.fc[name](x))
            aux[name] = self.aux[name](feats[name])
        return torch.cat([feats["body"], ctx], dim=1), aux


#: Default width of each core's hidden layer (DESIGN §6 values).
DEFAULT_HIDDEN: dict[str, int] = {"linear": 0, "mlp": 4096, "gcn": 128, "seq": 512, "tree": 512}
KINDS: tuple[str, ...] = tuple(DEFAULT_HIDDEN)


def build_core(
    kind: str, group_dims: tuple[int, ...], ctx_dim: int, pasta_sizes: tuple[int, ...], hidden: int, dropout: float
) -> nn.Module:
    """The core called ``kind`` (one of :data:`KINDS`)."""
    if kind == "linear":
        return LinearCore(group_dims, ctx_dim)
    if kind == "mlp":
        return MLPCore(group_dims, ctx_dim, hidden, dropout)
    if kind == "gcn":
        return GCNCore(group_dims, ctx_dim, hidden)
    if kind == "seq":
        return SeqCore(group_dims, ctx_dim, hidden)
    if kind == "tree":
        return TreeCore(group_dims, ctx_dim, pasta_sizes, hidden)
    raise ValueError(f"unknown PaSta-R kind {kind!r}; choose from {', '.join(KINDS)}")
