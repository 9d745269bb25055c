"""Torch versions of the geometry (imported lazily so readers never import torch)."""

from __future__ import annotations

import numpy as np
import torch

from hake.geometry.parts import _Ops, check_inputs, rule


def part_boxes_torch(keypoints: torch.Tensor, person_boxes: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """:func:`hake.geometry.part_boxes` on tensors (any device).

    Args:
        keypoints: (N, 17, 3) COCO-17 (x, y, score), pixels.
        person_boxes: (N, 4) x1y1x2y2 pixels.
        image_size: (W, H) pixels.

    Returns:
        (N, 10, 4) float32 x1y1x2y2 pixel boxes on the keypoints' device.
    """
    kps = torch.as_tensor(keypoints).to(torch.float32)
    boxes = torch.as_tensor(person_boxes).to(device=kps.device, dtype=torch.float32)
    check_inputs(kps, boxes)

    def const(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=kps.device)

    ops = _Ops(const=const, stack=torch.stack, where=torch.where, sqrt=torch.sqrt,
               minimum=torch.minimum, maximum=torch.maximum)
    out: torch.Tensor = rule(kps, boxes, image_size, ops)
    return out
