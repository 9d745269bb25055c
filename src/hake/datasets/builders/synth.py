"""Synthetic HAKE-HICO-DET data whose part states are visible by construction (no torch).

Each image shows one or two stick figures. Every figure performs one *action* from
:data:`ACTIONS`: the action fixes a real HICO HOI (verb, object), the body-part states it implies
(e.g. ``hand: hold``), a pose change (a raised wrist, a kicking leg) and an object drawn with a
class-specific colour and shape at the part that interacts with it. The ``no_interaction`` action
draws its object away from the figure. The folder is written in the real formats, so the real
readers are exercised:

- ``images/synth_000001.png`` … (RGB, ``size`` × ``size`` pixels)
- ``train.json`` / ``test.json``: HAKE-HICO-DET instance level (``hoi_id`` 1-based, boxes
  x1, y1, x2, y2 in pixels, ``action_labels`` with part 0-9 and the state's index in its group)
- ``keypoints.json``: the keypoint cache (see :mod:`hake.datasets.keypoint_cache`)
- ``synth.json``: the generator's settings and action table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hake.datasets.keypoint_cache import write_keypoint_cache
from hake.errors import DataError
from hake.vocab import load
from hake.vocab.coco import SKELETON

#: COCO-17 keypoints of an upright figure, unit height, x centred at 0, y from the top.
TEMPLATE = np.array([
    [0.0, 0.08], [0.03, 0.06], [-0.03, 0.06], [0.05, 0.08], [-0.05, 0.08],
    [0.13, 0.2], [-0.13, 0.2], [0.17, 0.35], [-0.17, 0.35], [0.19, 0.5], [-0.19, 0.5],
    [0.08, 0.52], [-0.08, 0.52], [0.09, 0.74], [-0.09, 0.74], [0.1, 0.97], [-0.1, 0.97],
], np.float64)
#: The body's limbs of the COCO-17 skeleton (the face lines left out: the head is drawn as a disc).
_LIMBS = tuple(limb for limb in SKELETON if min(limb) >= 5)


@dataclass(frozen=True)
class Action:
    """One synthetic action.

    Attributes:
        hoi: HOI name as ``Vocab.hoi_name`` spells it (``"hold cup"``).
        states: (part index 0-9, PaSta state name) pairs the action implies.
        pose: COCO joint -> new unit-template position.
        anchor: unit-template point where the object is drawn (``None`` = away from the figure).
        shape: ``square`` | ``circle`` | ``rect`` | ``triangle`` | ``bar``.
        colour: RGB of the object.
    """

    hoi: str
    states: tuple[tuple[int, str], ...]
    pose: tuple[tuple[int, tuple[float, float]], ...]
    anchor: tuple[float, float] | None
    shape: str
    colour: tuple[int, int, int]


ACTIONS: tuple[Action, ...] = (
    Action("hold cup", ((6, "hold"),), (), (-0.24, 0.5), "square", (220, 30, 30)),
    Action("drink with cup", ((5, "drink with"), (6, "hold")),
           ((10, (-0.05, 0.13)), (8, (-0.22, 0.28))), (-0.06, 0.12), "square", (220, 30, 30)),
    Action("kick sports ball", ((0, "kick"),), ((16, (-0.32, 0.82)), (14, (-0.2, 0.7))),
           (-0.42, 0.8), "circle", (30, 60, 230)),
    Action("sit on chair", ((4, "sit on"),), ((13, (0.2, 0.62)), (14, (-0.2, 0.62)), (15, (0.22, 0.9)),
                                                  (16, (-0.22, 0.9))), (0.0, 0.6), "rect", (140, 80, 20)),
    Action("carry backpack", ((7, "shoulder carry"),), ((10, (-0.16, 0.3)),), (-0.2, 0.22), "rect",
           (30, 170, 40)),
    Action("straddle bicycle", ((1, "straddle"), (2, "straddle"), (4, "sit on")),
           ((13, (0.24, 0.72)), (14, (-0.24, 0.72)), (15, (0.3, 0.95)), (16, (-0.3, 0.95))),
           (0.0, 0.75), "triangle", (150, 40, 170)),
    Action("hug teddy bear", ((7, "hug"), (8, "hug")),
           ((9, (0.05, 0.36)), (10, (-0.05, 0.36)), (7, (0.2, 0.3)), (8, (-0.2, 0.3))),
           (0.0, 0.38), "circle", (240, 140, 20)),
    Action("stand on skateboard", ((0, "stand on"), (3, "stand on")), (), (0.0, 1.0), "bar", (20, 200, 210)),
    Action("no interaction cup", (), (), None, "square", (220, 30, 30)),
    Action("no interaction sports ball", (), (), None, "circle", (30, 60, 230)),
)


def _part_state_index(part: int, state: str) -> int:
    """Index of ``state`` in the PaSta-76 list of ``part``'s group."""
    v = load()
    group = v.part_group(part)
    names = [n for g, n in v.pasta["pasta76"] if g == group]
    return names.index(state)


def action_labels(action: Action) -> list[dict[str, int]]:
    """HAKE ``action_labels`` of one action.

    The action's part states, plus ``no_interaction`` for the parts of every group without a
    state, so each group's merged (left OR right) label is unambiguous.
    """
    v = load()
    given = dict(action.states)
    busy = {v.part_group(p) for p in given}
    return [{"human_part": p, "partstate": _part_state_index(p, given.get(p, "no_interaction"))}
            for p in range(10) if p in given or v.part_group(p) not in busy]


def _draw_object(img: np.ndarray, centre: np.ndarray, r: float, shape: str, colour: tuple) -> list[float]:
    """Draw the object, return its box (x1, y1, x2, y2) in pixels."""
    cx, cy = centre
    w, h = {"rect": (1.6 * r, 1.0 * r), "bar": (2.6 * r, 0.5 * r)}.get(shape, (r, r))
    x1, y1, x2, y2 = cx - w, cy - h, cx + w, cy + h
    if shape == "circle":
        cv2.circle(img, (round(cx), round(cy)), round(r), colour, -1, cv2.LINE_AA)
    elif shape == "triangle":
        pts = np.array([[cx, cy - h], [cx - w, cy + h], [cx + w, cy + h]], np.int32)
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
    else:
        cv2.rectangle(img, (round(x1), round(y1)), (round(x2), round(y2)), colour, -1)
    H, W = img.shape[:2]
    return [float(np.clip(x1, 0, W - 1)), float(np.clip(y1, 0, H - 1)),
            float(np.clip(x2, 0, W - 1)), float(np.clip(y2, 0, H - 1))]


def _draw_figure(img: np.ndarray, kps: np.ndarray, colour: tuple, thick: int) -> None:
    for a, b in _LIMBS:
        cv2.line(img, tuple(np.round(kps[a]).astype(int)), tuple(np.round(kps[b]).astype(int)),
                 colour, thick, cv2.LINE_AA)
    head_r = max(2, round(np.linalg.norm(kps[5] - kps[6]) * 0.35))
    cv2.circle(img, tuple(np.round(kps[0]).astype(int)), head_r, colour, -1, cv2.LINE_AA)


def render_image(rng: np.random.Generator, size: int, n_persons: int) -> tuple[np.ndarray, list[dict]]:
    """Draw one image; return it (H, W, 3) uint8 RGB and one record per figure.

    Each record has ``action`` (index into :data:`ACTIONS`), ``keypoints`` (17, 3) pixels,
    ``box_h`` and ``box_o`` (x1, y1, x2, y2 pixels).
    """
    base = rng.integers(60, 140, 3)
    img = np.clip(base + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)
    records = []
    slot = size / n_persons
    for i in range(n_persons):
        act_i = int(rng.integers(len(ACTIONS)))
        act = ACTIONS[act_i]
        h = rng.uniform(0.55, 0.7) * size if n_persons == 1 else rng.uniform(0.45, 0.58) * size
        unit = TEMPLATE.copy()
        for joint, pos in act.pose:
            unit[joint] = pos
        unit += rng.normal(0, 0.012, unit.shape)
        cx = slot * (i + 0.5) + rng.uniform(-0.08, 0.08) * slot
        cx = float(np.clip(cx, 0.5 * h + 2, size - 0.35 * h - 2))  # keep figure and object inside
        top = rng.uniform(0.06, 0.98 - 0.98 * h / size) * size
        kps = np.stack([cx + unit[:, 0] * h, top + unit[:, 1] * h], 1)
        skin = tuple(int(c) for c in rng.integers(200, 256, 3))
        _draw_figure(img, kps, skin, max(2, round(h / 30)))
        r = h * 0.07
        if act.anchor is None:  # far from the figure: opposite half, top or bottom corner
            away = np.array([cx + (0.35 if cx < size / 2 else -0.35) * size, rng.uniform(0.1, 0.9) * size])
            if n_persons > 1:
                away = np.array([cx, top - r - 2 if top > 3 * r else min(size - r - 2, top + h + r + 2)])
            centre = away
        else:
            centre = np.array([cx + act.anchor[0] * h, top + act.anchor[1] * h])
        box_o = _draw_object(img, centre, r, act.shape, act.colour)
        pad = h * 0.06
        box_h = [float(max(0, kps[:, 0].min() - pad)), float(max(0, kps[:, 1].min() - pad)),
                 float(min(size - 1, kps[:, 0].max() + pad)), float(min(size - 1, kps[:, 1].max() + pad))]
        kp3 = np.concatenate([kps, np.full((17, 1), 0.9)], 1)
        records.append({"action": act_i, "keypoints": kp3, "box_h": box_h, "box_o": box_o})
    return img, records


def generate(out: str | Path, n: int, *, size: int = 128, seed: int = 0, test_fraction: float = 0.2) -> dict:
    """Write ``n`` synthetic images and their annotations to ``out``; return the ``synth.json`` dict.

    The last ``round(n * test_fraction)`` images form the held-out test split.
    """
    if n < 2:
        raise DataError(f"need at least 2 images, got {n}", field="n")
    if not 32 <= size <= 1024:
        raise DataError(f"image size {size} is outside 32..1024", field="size")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    v = load()
    hoi_index = {v.hoi_name(i): i for i in range(len(v.hois))}
    rng = np.random.default_rng(seed)
    n_test = max(1, round(n * test_fraction))
    splits: dict[str, dict] = {"train": {}, "test": {}}
    cache: dict[str, dict] = {}
    for k in range(n):
        name = f"synth_{k + 1:06d}.png"
        img, recs = render_image(rng, size, int(rng.integers(1, 3)))
        cv2.imwrite(str(out / "images" / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        labels = [{
            "hoi_id": hoi_index[ACTIONS[r["action"]].hoi] + 1, "human_bbox": r["box_h"], "object_bbox": r["box_o"],
            "width": size, "height": size, "action_labels": action_labels(ACTIONS[r["action"]]),
        } for r in recs]
        split = "test" if k >= n - n_test else "train"
        splits[split][name] = {"dataset": "synth", "path_prefix": "images", "labels": labels}
        cache[name] = {"boxes": [r["box_h"] for r in recs], "keypoints": [r["keypoints"].tolist() for r in recs]}
    for split, anns in splits.items():
        (out / f"{split}.json").write_text(json.dumps(anns), encoding="utf-8")
    write_keypoint_cache(out / "keypoints.json", cache)
    meta = {"format": "hake-synth-v1", "n": n, "size": size, "seed": seed, "n_test": n_test,
            "actions": [a.hoi for a in ACTIONS]}
    (out / "synth.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def is_synthetic(folder: str | Path) -> bool:
    """True if ``folder`` was written by :func:`generate`."""
    return (Path(folder) / "synth.json").is_file()
