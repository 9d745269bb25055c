"""The HAKE part-box rule (``part_box_generation.py`` of the HAKE TF/Torch code), numpy and torch.

Input: COCO-17 keypoints ``(N, 17, 3)`` as (x, y, score) in pixels and the person boxes ``(N, 4)``
x1y1x2y2 in pixels. The rule, written once and run on either numpy arrays or torch tensors:

1. COCO-17 -> MPII-16 (:data:`COCO_TO_MPII`, a linear map, scores averaged like coordinates):
   j0..j5 = R ankle, R knee, R hip, L hip, L knee, L ankle; j6 pelvis = mean(hips);
   j7 = mean(shoulders); j9 "head" = mean(eyes); j8 upper neck = 0.75·j7 + 0.25·j9;
   j10..j15 = R wrist, R elbow, R shoulder, L shoulder, L elbow, L wrist.
2. Part ``p`` (annotation order R_foot, R_leg, L_leg, L_foot, Hip, Head, R_hand, R_arm, L_arm, L_hand)
   is a square centred on joint :data:`PART_CENTRES` ``[p]`` with half-width ``length · s_p / 2``,
   ``s`` = :data:`PART_SIZES`, ``length`` = ‖j6 − j8‖ (pelvis to upper neck).
3. Fallbacks. A centre joint with score < 0.2 -> the part box is the person box. If j6 or j8 has
   score < 0.2, ``length`` is the part's limb group length (:data:`FALLBACK_GROUPS`: head ‖j7−j9‖,
   R arm ‖j10−j12‖, L arm ‖j13−j15‖, R leg ‖j0−j2‖, L leg ‖j3−j5‖) when the group's mean joint score
   (over the MPII joints a..b of the group, inclusive) is > 0.2, else the part box is the person box;
   the hip has no group and always takes the person box in this case.
4. Every box is clipped to the image: x to [0, W − 1], y to [0, H − 1] (0-based pixel indices).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hake.errors import DataError

#: Score below which a joint is unreliable.
JOINT_THRESHOLD = 0.2
#: MPII-16 joint at the centre of each of the 10 parts (annotation order).
PART_CENTRES: tuple[int, ...] = (0, 1, 4, 5, 6, 9, 10, 12, 13, 15)
#: Side of each part's square in units of the reference length.
PART_SIZES: tuple[float, ...] = (1.2, 1.0, 1.0, 1.2, 1.2, 1.2, 0.9, 1.0, 1.0, 0.9)
#: Fallback limb groups: name -> (first MPII joint, last MPII joint); length = ‖j_first − j_last‖.
FALLBACK_GROUPS: dict[str, tuple[int, int]] = {
    "head": (7, 9), "r_arm": (10, 12), "l_arm": (13, 15), "r_leg": (0, 2), "l_leg": (3, 5),
}
#: Fallback group of each part (``None``: the hip, which takes the person box).
PART_FALLBACK_GROUP: tuple[str | None, ...] = (
    "r_leg", "r_leg", "l_leg", "l_leg", None, "head", "r_arm", "r_arm", "l_arm", "l_arm",
)


def _coco_to_mpii_matrix() -> np.ndarray:
    m = np.zeros((16, 17), np.float64)
    for j, c in enumerate((16, 14, 12, 11, 13, 15)):
        m[j, c] = 1
    for j, c in enumerate((10, 8, 6, 5, 7, 9)):
        m[10 + j, c] = 1
    m[6, [11, 12]] = 0.5
    m[7, [5, 6]] = 0.5
    m[9, [1, 2]] = 0.5
    m[8] = 0.75 * m[7] + 0.25 * m[9]
    return m


#: (16, 17) linear map: MPII-16 joints (x, y, score) = COCO_TO_MPII @ COCO-17 joints.
COCO_TO_MPII: np.ndarray = _coco_to_mpii_matrix()


def _group_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Joint pairs, score-averaging matrix and part -> group index; one extra all-zero group for the hip."""
    names = list(FALLBACK_GROUPS)
    first = np.array([FALLBACK_GROUPS[n][0] for n in names] + [6])
    last = np.array([FALLBACK_GROUPS[n][1] for n in names] + [6])
    avg = np.zeros((len(names) + 1, 16), np.float64)
    for g, n in enumerate(names):
        a, b = FALLBACK_GROUPS[n]
        avg[g, a:b + 1] = 1.0 / (b - a + 1)
    part_group = np.array([len(names) if g is None else names.index(g) for g in PART_FALLBACK_GROUP])
    return first, last, avg, part_group


_G_FIRST, _G_LAST, _G_AVG, _PART_GROUP = _group_tables()


@dataclass(frozen=True)
class _Ops:
    """The few array operations the rule needs, for numpy or torch."""

    const: Callable[[Any], Any]  # numpy constant -> array/tensor of the input's dtype and device
    stack: Callable[[list[Any], int], Any]
    where: Callable[[Any, Any, Any], Any]
    sqrt: Callable[[Any], Any]
    minimum: Callable[[Any, Any], Any]
    maximum: Callable[[Any, Any], Any]


def check_inputs(keypoints: Any, person_boxes: Any) -> None:
    """Raise :class:`DataError` unless keypoints are (N, 17, 3) and boxes (N, 4)."""
    kshape, bshape = tuple(keypoints.shape), tuple(person_boxes.shape)
    if len(kshape) != 3 or kshape[1:] != (17, 3):
        raise DataError(f"keypoints must have shape (N, 17, 3), got {kshape}", field="keypoints")
    if bshape != (kshape[0], 4):
        raise DataError(f"person boxes must have shape ({kshape[0]}, 4), got {bshape}", field="person_boxes")


def mpii16(keypoints: np.ndarray) -> np.ndarray:
    """(N, 17, 3) COCO-17 keypoints -> (N, 16, 3) MPII-16 joints (x, y, score), pixels."""
    return COCO_TO_MPII @ np.asarray(keypoints, np.float64)


def rule(keypoints: Any, person_boxes: Any, image_size: tuple[int, int], ops: _Ops) -> Any:
    """The HAKE rule (module doc) on arrays/tensors; returns (N, 10, 4) in the input's dtype."""
    w, h = image_size
    if w < 1 or h < 1:
        raise DataError(f"image size (W, H) must be positive, got {image_size}", field="image_size")
    joints = ops.const(COCO_TO_MPII) @ keypoints  # (N, 16, 3)
    xy, score = joints[..., :2], joints[..., 2]

    def dist(a: Any, b: Any) -> Any:
        return ops.sqrt(((xy[:, a] - xy[:, b]) ** 2).sum(-1))

    main_len = dist(6, 8)  # (N,)
    main_ok = (score[:, 6] >= JOINT_THRESHOLD) & (score[:, 8] >= JOINT_THRESHOLD)
    group_len = dist(list(_G_FIRST), list(_G_LAST))  # (N, 6)
    group_ok = (score @ ops.const(_G_AVG).T) > JOINT_THRESHOLD  # (N, 6); the hip's row is 0
    part_group = list(_PART_GROUP)
    length = ops.where(main_ok[:, None], main_len[:, None], group_len[:, part_group])  # (N, 10)
    usable = (main_ok[:, None] | group_ok[:, part_group]) & (score[:, list(PART_CENTRES)] >= JOINT_THRESHOLD)
    centre = xy[:, list(PART_CENTRES)]  # (N, 10, 2)
    half = length * ops.const(np.asarray(PART_SIZES)) / 2
    squares = ops.stack([centre[..., 0] - half, centre[..., 1] - half,
                         centre[..., 0] + half, centre[..., 1] + half], -1)
    boxes = ops.where(usable[..., None], squares, person_boxes[:, None, :])
    hi = ops.const(np.array([w - 1, h - 1, w - 1, h - 1], np.float64))
    return ops.minimum(ops.maximum(boxes, ops.const(np.zeros(4))), hi)


def part_boxes(keypoints: np.ndarray, person_boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The 10 HAKE part boxes of N persons (module doc), vectorised, clipped to the image.

    Args:
        keypoints: (N, 17, 3) COCO-17 (x, y, score), pixels.
        person_boxes: (N, 4) x1y1x2y2 pixels.
        image_size: (W, H) pixels.

    Returns:
        (N, 10, 4) float32 x1y1x2y2 pixel boxes in part annotation order (R_foot … L_hand).
    """
    kps = np.asarray(keypoints, np.float64)
    boxes = np.asarray(person_boxes, np.float64)
    check_inputs(kps, boxes)
    ops = _Ops(const=lambda a: np.asarray(a, np.float64), stack=np.stack, where=np.where, sqrt=np.sqrt,
               minimum=np.minimum, maximum=np.maximum)
    out: np.ndarray = rule(kps, boxes, image_size, ops).astype(np.float32)
    return out
