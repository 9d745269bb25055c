"""Pair-layout features of Spatial-PaSta: how a human box and an object box sit in the image (numpy).

:func:`pair_layout` turns boxes into a fixed-width vector per pair (:data:`LAYOUT_FEATURES` names
each column): the human box in the image, the object box relative to the human box (offsets in
human widths/heights, log scales), the object box in the image, overlaps (IoU, intersection over
each area), aspect ratios, centre distance, the union box, and a keypoint-free part prior: the
share of the object's area in each cell of a 3×3 grid over the human box (head row on top, hands
in the middle row, feet at the bottom). The 2×64×64 iCAN/TIN interaction map is
:func:`hake.models.pair_streams.interaction_maps` (torch), shared with Activity2Vec.

The optional image context of a pair is :func:`hake.datasets.builders.spatial_pairs.pair_context`.

All boxes are x1y1x2y2 in pixels, 0-based; sizes are (width, height) in pixels.
"""

from __future__ import annotations

import numpy as np

_GRID = 3
LAYOUT_FEATURES: tuple[str, ...] = (
    "h_cx", "h_cy", "h_w", "h_h",
    "o_dx", "o_dy", "o_log_w", "o_log_h",
    "o_cx", "o_cy", "o_w", "o_h",
    "iou", "inter_over_o", "inter_over_h",
    "h_log_aspect", "o_log_aspect", "centre_dist",
    "u_log_w", "u_log_h",
    *(f"grid_{r}{c}" for r in range(_GRID) for c in range(_GRID)),
    "has_object",
)
LAYOUT_DIM = len(LAYOUT_FEATURES)
_LOG_CLIP = 4.0
_EPS = 1e-6


def _wh(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(b[:, 2] - b[:, 0], _EPS), np.maximum(b[:, 3] - b[:, 1], _EPS)


def _inter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P,) intersection area of row-aligned boxes ``a`` and ``b`` (P, 4)."""
    w = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    h = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def _clog(x: np.ndarray) -> np.ndarray:
    return np.clip(np.log(np.maximum(x, _EPS)), -_LOG_CLIP, _LOG_CLIP)


def part_grid(boxes_h: np.ndarray, boxes_o: np.ndarray, grid: int = _GRID) -> np.ndarray:
    """(P, grid·grid) share of each object box's area inside each cell of its human box's grid.

    Cells are row-major from the top-left of the human box; the shares sum to the fraction of the
    object inside the human box (1 when it lies fully inside, 0 when it is outside).
    """
    bh, bo = np.asarray(boxes_h, np.float64), np.asarray(boxes_o, np.float64)
    wh, hh = _wh(bh)
    wo, ho = _wh(bo)
    out = np.zeros((len(bh), grid * grid), np.float64)
    for r in range(grid):
        for c in range(grid):
            cell = np.stack([bh[:, 0] + c * wh / grid, bh[:, 1] + r * hh / grid,
                             bh[:, 0] + (c + 1) * wh / grid, bh[:, 1] + (r + 1) * hh / grid], 1)
            out[:, r * grid + c] = _inter(cell, bo) / (wo * ho)
    return out


def pair_layout(boxes_h: np.ndarray, boxes_o: np.ndarray, image_size: np.ndarray | tuple[int, int],
                has_object: np.ndarray | None = None) -> np.ndarray:
    """Layout vector of each human-object pair.

    Args:
        boxes_h, boxes_o: (P, 4) x1y1x2y2 pixels, 0-based (for a pair without object pass the human box).
        image_size: (width, height) of one image, or (P, 2) per pair, pixels.
        has_object: (P,) bool, False for "no object" pairs (their object columns are zeroed); default all True.

    Returns:
        (P, :data:`LAYOUT_DIM`) float32, columns named by :data:`LAYOUT_FEATURES`; image-relative columns are
        fractions of the image, human-relative ones in human widths/heights, log scales clipped to ±4.
    """
    bh = np.asarray(boxes_h, np.float64).reshape(-1, 4)
    bo = np.asarray(boxes_o, np.float64).reshape(-1, 4)
    p = len(bh)
    size = np.broadcast_to(np.asarray(image_size, np.float64).reshape(-1, 2), (p, 2))
    img_w, img_h = np.maximum(size[:, 0], 1.0), np.maximum(size[:, 1], 1.0)
    has = np.ones(p, bool) if has_object is None else np.asarray(has_object, bool).reshape(p)
    bo = np.where(has[:, None], bo, bh)
    wh, hh = _wh(bh)
    wo, ho = _wh(bo)
    hcx, hcy = (bh[:, 0] + bh[:, 2]) / 2, (bh[:, 1] + bh[:, 3]) / 2
    ocx, ocy = (bo[:, 0] + bo[:, 2]) / 2, (bo[:, 1] + bo[:, 3]) / 2
    inter = _inter(bh, bo)
    union_area = wh * hh + wo * ho - inter
    ux1, uy1 = np.minimum(bh[:, 0], bo[:, 0]), np.minimum(bh[:, 1], bo[:, 1])
    ux2, uy2 = np.maximum(bh[:, 2], bo[:, 2]), np.maximum(bh[:, 3], bo[:, 3])
    obj = [
        (ocx - hcx) / wh, (ocy - hcy) / hh, _clog(wo / wh), _clog(ho / hh),
        ocx / img_w, ocy / img_h, wo / img_w, ho / img_h,
        inter / np.maximum(union_area, _EPS), inter / (wo * ho), inter / (wh * hh),
    ]
    cols = [hcx / img_w, hcy / img_h, wh / img_w, hh / img_h, *obj,
            _clog(hh / wh), _clog(ho / wo), np.hypot(ocx - hcx, ocy - hcy) / np.hypot(wh, hh),
            _clog((ux2 - ux1) / wh), _clog((uy2 - uy1) / hh)]
    feats = np.concatenate([np.stack(cols, 1), part_grid(bh, bo), has[:, None].astype(np.float64)], 1)
    # a pair without object keeps only the human columns and the flag
    no_obj = ~has
    if no_obj.any():
        keep = np.zeros(LAYOUT_DIM, bool)
        keep[[0, 1, 2, 3, LAYOUT_FEATURES.index("h_log_aspect")]] = True
        feats[np.ix_(no_obj, ~keep)] = 0.0
    return feats.astype(np.float32)

