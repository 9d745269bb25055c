"""Feature caching: run a frozen Activity2Vec once, train PaSta-R and fusion from disk many times.

``hake features extract`` writes, for every pair of an instance-level dataset, the RoI features
(``roi`` (13, C) float16: person, 10 parts, object, union, see :data:`hake.models.activity2vec.N_ROIS`),
``f_pasta`` (the six PaSta-R input groups, concatenated), ``p_pasta`` and the targets to
safetensors shards::

    CACHE/index.json                    {"format", "spec", "weights", "group_dims", "shards": [{file, rows}]}
    CACHE/shard_00000.safetensors       roi, f_pasta, p_pasta, p_verb, pasta, verb, hoi, object, has_pasta,
                                        boxes_h, boxes_o

:class:`CachedFeatures` serves those rows as a torch ``Dataset`` whose items plug into the same
Lightning module (``f_pasta`` replaces the pixel path).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from hake.datasets.torch import InstanceDataset, collate
from hake.errors import DataError
from hake.models.activity2vec import Activity2Vec

FORMAT = "hake-a2v-features-v1"
KEYS = ("pasta", "verb", "hoi", "object", "has_pasta", "boxes_h", "boxes_o")


@torch.no_grad()
def extract_features(a2v: Activity2Vec, dataset: InstanceDataset, out: str | Path, *, batch_size: int = 16,
                     shard_rows: int = 4096, weights: str = "") -> dict[str, Any]:
    """Write the cache of ``dataset`` under ``out``; return the index dict."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    a2v.eval()
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate)
    buf: dict[str, list[torch.Tensor]] = {}
    shards: list[dict[str, Any]] = []

    def flush() -> None:
        from safetensors.torch import save_file

        if not buf or not buf["f_pasta"]:
            return
        tensors = {k: torch.cat(v).contiguous() for k, v in buf.items()}
        name = f"shard_{len(shards):05d}.safetensors"
        save_file(tensors, str(out / name), metadata={"format": FORMAT})
        shards.append({"file": name, "rows": int(tensors["f_pasta"].shape[0])})
        buf.clear()

    for batch in loader:
        fmap = a2v.feature_map(batch["images"])
        per_group, person = a2v.instance_features(fmap, batch["boxes_h"], batch["boxes_o"], batch["part_boxes"],
                                                  batch["batch_index"], batch["pose_maps"])
        res = a2v.heads_forward(per_group, person)
        roi = a2v.pool(fmap, batch["boxes_h"], batch["boxes_o"], batch["part_boxes"], batch["batch_index"])
        rows = {"roi": roi.half(), "f_pasta": res.f_pasta, "p_pasta": res.p_pasta, "p_verb": res.p_verb,
                **{k: batch[k] for k in KEYS}}
        for k, v in rows.items():
            buf.setdefault(k, []).append(v.cpu())
        if sum(len(t) for t in buf["f_pasta"]) >= shard_rows:
            flush()
    flush()
    index = {"format": FORMAT, "spec": json.loads(a2v.spec.to_json()), "weights": str(weights),
             "group_dims": a2v.group_dims, "shards": shards, "rows": sum(s["rows"] for s in shards)}
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return index


class CachedFeatures(Dataset):
    """Rows of a feature cache; item = dict of per-pair tensors (``f_pasta``, targets, ...)."""

    def __init__(self, folder: str | Path) -> None:
        from safetensors.torch import load_file

        from hake.datasets.io import read_json

        folder = Path(folder)
        self.index = read_json(folder / "index.json")
        if self.index.get("format") != FORMAT:
            raise DataError(f"not a feature cache (format != {FORMAT})", file=folder / "index.json", field="format")
        parts: dict[str, list[torch.Tensor]] = {}
        for i, shard in enumerate(self.index["shards"]):
            path = folder / shard["file"]
            if not path.is_file():
                raise DataError("shard missing", file=folder / "index.json", record=i, field="shards")
            for k, v in load_file(str(path)).items():
                parts.setdefault(k, []).append(v)
        self.data = {k: torch.cat(v) for k, v in parts.items()}
        self.n = int(self.index["rows"])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i % self.n] for k, v in self.data.items()}


def cached_collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack cached rows into a batch (the keys the Lightning module reads)."""
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
