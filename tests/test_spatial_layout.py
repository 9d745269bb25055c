"""Spatial-PaSta layout features and interaction maps on hand-built pairs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hake.models.layout import LAYOUT_DIM, LAYOUT_FEATURES, pair_layout, part_grid
from hake.models.pair_streams import interaction_maps

COL = {name: i for i, name in enumerate(LAYOUT_FEATURES)}


def test_object_right_of_human_has_known_offsets_and_no_overlap() -> None:
    f = pair_layout(np.array([[0, 0, 100, 200]]), np.array([[100, 0, 200, 100]]), (400, 400))[0]
    assert f.shape == (LAYOUT_DIM,)
    expected = {
        "h_cx": 0.125, "h_cy": 0.25, "h_w": 0.25, "h_h": 0.5,
        "o_dx": 1.0, "o_dy": -0.25, "o_log_w": 0.0, "o_log_h": math.log(0.5),
        "o_cx": 0.375, "o_cy": 0.125, "o_w": 0.25, "o_h": 0.25,
        "iou": 0.0, "inter_over_o": 0.0, "inter_over_h": 0.0,
        "h_log_aspect": math.log(2.0), "o_log_aspect": 0.0,
        "centre_dist": math.hypot(100, 50) / math.hypot(100, 200),
        "u_log_w": math.log(2.0), "u_log_h": 0.0, "has_object": 1.0,
    }
    for name, value in expected.items():
        assert f[COL[name]] == pytest.approx(value, abs=1e-6), name
    assert np.all(f[[COL[f"grid_{r}{c}"] for r in range(3) for c in range(3)]] == 0)


def test_object_in_the_top_middle_cell_of_the_human() -> None:
    bh, bo = np.array([[0, 0, 90, 90]]), np.array([[30, 0, 60, 30]])
    grid = part_grid(bh, bo)[0]
    assert grid[1] == pytest.approx(1.0) and np.delete(grid, 1).sum() == pytest.approx(0.0)
    f = pair_layout(bh, bo, (90, 90))[0]
    assert f[COL["inter_over_o"]] == pytest.approx(1.0)
    assert f[COL["inter_over_h"]] == pytest.approx(900 / 8100)
    assert f[COL["iou"]] == pytest.approx(900 / 8100)


def test_grid_shares_split_an_object_straddling_cells() -> None:
    # the object covers the left column fully and sticks out of the human box by half its width
    grid = part_grid(np.array([[0, 0, 30, 30]]), np.array([[-10, 0, 10, 30]]))[0]
    assert grid[[0, 3, 6]] == pytest.approx([1 / 6] * 3)
    assert grid.sum() == pytest.approx(0.5)


def test_no_object_pairs_keep_only_human_columns() -> None:
    bh = np.array([[10, 20, 50, 120], [10, 20, 50, 120]], np.float32)
    bo = np.array([[60, 20, 90, 60], [0, 0, 1, 1]], np.float32)
    f = pair_layout(bh, bo, np.array([[200, 200], [200, 200]]), np.array([True, False]))
    assert f[1, COL["has_object"]] == 0 and f[0, COL["has_object"]] == 1
    keep = [COL[k] for k in ("h_cx", "h_cy", "h_w", "h_h", "h_log_aspect")]
    assert np.array_equal(f[1, keep], f[0, keep])
    assert np.all(np.delete(f[1], keep) == 0)


def test_per_pair_sizes_and_extreme_scales_are_clipped() -> None:
    bh = np.array([[0, 0, 10, 10], [0, 0, 10, 10]])
    bo = np.array([[0, 0, 1e6, 1e6], [0, 0, 10, 10]])
    f = pair_layout(bh, bo, np.array([[100, 100], [20, 40]]))
    assert f[0, COL["o_log_w"]] == pytest.approx(4.0)
    assert f[1, COL["h_w"]] == pytest.approx(0.5) and f[1, COL["h_h"]] == pytest.approx(0.25)
    assert f[1, COL["iou"]] == pytest.approx(1.0)
    assert np.isfinite(f).all()


def test_interaction_map_draws_both_boxes_in_the_union_frame() -> None:
    maps = interaction_maps(torch.tensor([[0.0, 0, 32, 64]]), torch.tensor([[32.0, 0, 64, 64]]), 64)
    assert maps.shape == (1, 2, 64, 64)
    assert maps[0, 0, :, :32].min() == 1 and maps[0, 0, :, 32:].max() == 0
    assert maps[0, 1, :, 32:].min() == 1 and maps[0, 1, :, :32].max() == 0
    # an object inside the human's top-left quarter
    maps = interaction_maps(torch.tensor([[0.0, 0, 64, 64]]), torch.tensor([[0.0, 0, 32, 32]]), 64)
    assert maps[0, 0].sum() == 64 * 64
    assert maps[0, 1, :32, :32].min() == 1 and maps[0, 1].sum() == 32 * 32
