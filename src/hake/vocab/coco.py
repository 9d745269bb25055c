"""The COCO-17 keypoint layout: names, the skeleton and the left/right swap (one table for all of hake).

Keypoints are ``(x, y, score)`` rows in pixels in the order of :data:`KEYPOINTS`.
"""

from __future__ import annotations

#: COCO-17 keypoint names in model output order.
KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

#: The 19 limbs of the COCO-17 skeleton (0-based joint pairs, as in the COCO keypoint annotations).
SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

#: Index of each keypoint's mirror image (left <-> right), for horizontal flips.
FLIP: tuple[int, ...] = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
