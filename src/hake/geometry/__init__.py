"""Geometry: keypoints -> the 10 HAKE part boxes, pose maps, box overlaps (numpy; torch versions load lazily).
May import vocab, structures and errors.


All boxes are x1y1x2y2 in pixels; keypoints are COCO-17 (x, y, score) in pixels; parts are in
HAKE annotation order (R_foot, R_leg, L_leg, L_foot, Hip, Head, R_hand, R_arm, L_arm, L_hand).
"""

from __future__ import annotations

from typing import Any

from hake.geometry.mirror import mirror_boxes, mirror_keypoints
from hake.geometry.parts import (
    COCO_TO_MPII,
    FALLBACK_GROUPS,
    JOINT_THRESHOLD,
    PART_CENTRES,
    PART_SIZES,
    mpii16,
    part_boxes,
)
from hake.geometry.pose_map import COCO_LIMBS, pose_map


def part_boxes_torch(keypoints: Any, person_boxes: Any, image_size: tuple[int, int]) -> Any:
    """Tensor version of :func:`part_boxes`: (N, 17, 3), (N, 4), (W, H) -> (N, 10, 4) float32 tensor."""
    from hake.geometry.torch_ops import part_boxes_torch as impl

    return impl(keypoints, person_boxes, image_size)


__all__ = [
    "COCO_LIMBS", "COCO_TO_MPII", "FALLBACK_GROUPS", "JOINT_THRESHOLD", "PART_CENTRES", "PART_SIZES",
    "mirror_boxes", "mirror_keypoints", "mpii16", "part_boxes", "part_boxes_torch", "pose_map",
]
