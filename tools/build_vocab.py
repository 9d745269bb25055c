"""Build ``src/hake/vocab/data/vocab.json`` from the HAKE label files.

Run once when the label files change::

    python tools/build_vocab.py --hake DATA/hake --hicodet DATA/hicodet

The output is deterministic (sorted keys, fixed order), so re-running it on the same inputs
reproduces the committed file byte for byte.  Everything is 0-based in the output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

GROUPS = ["foot", "leg", "hip", "hand", "arm", "head"]


def _read_pasta(path: Path) -> list[list[str]]:
    """Return ``[group_name, state_name]`` rows in file order."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        group, state = line.split(":", 1)
        rows.append([group.strip(), state.strip()])
    return rows


def _read_numbered(path: Path) -> list[list[str]]:
    """Rows of ``NNN  name [name]`` files, number dropped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts:
            out.append(parts[1:])
    return out


def build(hake: Path, hicodet: Path) -> dict:
    cfg, tables = hake / "config", hake / "tables"
    part_def = json.loads((tables / "part_definition.json").read_text())
    objects = [r[0] for r in _read_numbered(cfg / "hico_obj_list.txt")]
    verbs = [r[0] for r in _read_numbered(cfg / "hico_verb_list.txt")]
    hoi_rows = _read_numbered(cfg / "hico_hoi_list.txt")
    hois = [[verbs.index(v), objects.index(o)] for o, v in hoi_rows]
    meta = json.loads((tables / "hake2_meta_157verbs_93pasta.json").read_text())["class_names"]
    eval_tables = json.loads((tables / "hico_det_eval_tables.json").read_text())
    map_76_55 = json.loads((cfg / "76to55.json").read_text())
    hoi_verb = np.load(tables / "hoi600_to_verb117_verb_trans.npy")
    mask = np.load(tables / "obj_mask_pasta76_x_obj80.npy")
    coco80 = json.loads((hicodet / "coco80tohico80.json").read_text())
    coco91 = json.loads((hicodet / "coco91tohico80.json").read_text())
    test = json.loads((hicodet / "instances_test2015.json").read_text())
    if test["objects"] != objects or test["verbs"] != verbs:
        raise SystemExit("HICO-DET test object/verb names differ from the HAKE lists")
    if [c[1:] for c in test["correspondence"]] != [[o, v] for v, o in hois]:
        raise SystemExit("HICO-DET correspondence differs from hico_hoi_list.txt")
    if sorted(test["rare"]) != sorted(eval_tables["rare_hoi_indices_0based"]):
        raise SystemExit("rare HOIs differ between the HICO-DET test GT and the HAKE tables")
    if not np.array_equal(hoi_verb.argmax(1), [v for v, _ in hois]):
        raise SystemExit("hoi600_to_verb117 differs from hico_hoi_list.txt")
    return {
        "parts": part_def["order_10"],
        "groups": {g: part_def["pasta_groups_6"][g] for g in GROUPS},
        "pasta76": _read_pasta(cfg / "Part_State_76.txt"),
        "pasta93": _read_pasta(cfg / "Part_State_93.txt"),
        "pasta55": _read_pasta(cfg / "Part_State_55.txt"),
        "pasta76_to_55": [int(map_76_55[str(i)]) for i in range(len(map_76_55))],
        "verbs117": verbs,
        "verbs157": meta["verb"],
        "objects": objects,
        "hois": hois,
        "rare_hois": sorted(int(i) for i in eval_tables["rare_hoi_indices_0based"]),
        "pasta76_object_mask": mask.astype(int).tolist(),
        "coco80_to_hico": [int(coco80[str(i)]) for i in range(1, 81)],
        "coco91_to_hico": {k: int(v) for k, v in sorted(coco91.items(), key=lambda kv: int(kv[0]))},
        "source": "HAKE Config/ and tables; HICO-DET instances_test2015.json; see tools/build_vocab.py",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hake", type=Path, required=True, help="folder with config/ and tables/")
    ap.add_argument("--hicodet", type=Path, required=True, help="folder with instances_test2015.json")
    ap.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "src/hake/vocab/data/vocab.json")
    args = ap.parse_args()
    data = build(args.hake, args.hicodet)
    args.out.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
