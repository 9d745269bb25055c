"""Body evidence for part states: what the pose says about each human-object pair (numpy only).

Every feature is a plain function of the COCO-17 keypoints ``(x, y, score)`` in pixels, the human
box and the object box (x1, y1, x2, y2, pixels). Lengths are in *person units*: divided by the
longer side of the human box, so a feature means the same for a child far away and an adult close by.

Features per pair (all (P,) float32, with a (P,) bool "reliable" flag next to each):

- ``contact[g]`` for the six PaSta groups: ``exp(-d / scale)`` where ``d`` is the distance from the
  nearest reliable joint of that part (hands: wrists; arms: elbows; head: nose, eyes, ears; hip:
  hips; legs: knees; feet: ankles) to the object box (0 inside it), in person units. 1 = touching,
  0 = far. Unreliable when no joint of that part reaches the score threshold or the pair has no object.
- ``facing``: cosine between the head's facing (ear midpoint -> nose) and the direction from the
  head to the object centre, in [-1, 1].
- ``sit``: how horizontal the thighs are (hip -> knee), 0 = pointing down (standing), 1 = level.
- ``stand``: how vertical the whole legs are (hip -> knee -> ankle all pointing down), in [0, 1].
- ``raise``: how far the highest wrist is above the eyes, in person units × 5, clipped to [0, 1].
- ``stride``: horizontal distance between the ankles in person units × 3, clipped to [0, 1] (walking, running).
- ``seat``: hip contact × how far the hip midpoint sits above the object's vertical centre
  (a logistic of the height difference over 0.05 person units): "sit on" needs the hips on the object.
- ``part_score[g]``: the best pose score of the part's joints (0 when none reaches the threshold).
- ``reliability[g]``: the pose score of the joint that set ``contact[g]`` (in [threshold, 1]), so
  that a confident pose moves the states more than a doubtful one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: COCO-17 joints of each PaSta group's parts.
GROUP_JOINTS: dict[str, tuple[int, ...]] = {
    "foot": (15, 16), "leg": (13, 14), "hip": (11, 12), "hand": (9, 10), "arm": (7, 8), "head": (0, 1, 2, 3, 4),
}
#: (hip, knee, ankle) COCO indices of the left and right legs.
LEGS = ((11, 13, 15), (12, 14, 16))
EYES, EARS, NOSE, WRISTS = (1, 2), (3, 4), 0, (9, 10)


@dataclass
class BodyEvidence:
    """Pose features of P pairs (see the module doc); ``*_ok`` say where each can be trusted."""

    contact: dict[str, np.ndarray] = field(default_factory=dict)
    contact_ok: dict[str, np.ndarray] = field(default_factory=dict)
    facing: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    facing_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    sit: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    sit_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    stand: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    stand_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    raise_: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    raise_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    stride: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    stride_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    seat: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    reliability: dict[str, np.ndarray] = field(default_factory=dict)
    part_score: dict[str, np.ndarray] = field(default_factory=dict)


def person_scale(boxes_h: np.ndarray) -> np.ndarray:
    """(P,) longer side of each (P, 4) human box in pixels, at least 1."""
    wh = boxes_h[:, 2:4] - boxes_h[:, 0:2]
    out: np.ndarray = np.maximum(wh.max(axis=1), 1.0).astype(np.float32)
    return out


def point_box_distance(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Distance in pixels from (P, J, 2) points to the (P, 4) box of their row; 0 inside. Returns (P, J)."""
    b = boxes[:, None, :]
    dx = np.maximum(np.maximum(b[..., 0] - points[..., 0], points[..., 0] - b[..., 2]), 0)
    dy = np.maximum(np.maximum(b[..., 1] - points[..., 1], points[..., 1] - b[..., 3]), 0)
    out: np.ndarray = np.hypot(dx, dy)
    return out


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.linalg.norm(v, axis=-1)
    return v / np.maximum(n, 1e-6)[..., None], n


def _leg_features(kp: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sit, sit_ok, stand, stand_ok) from the thigh and shin directions of both legs."""
    sit_sum = np.zeros(len(kp), np.float32)
    sit_n = np.zeros(len(kp), np.float32)
    stand_sum = np.zeros(len(kp), np.float32)
    stand_n = np.zeros(len(kp), np.float32)
    for hip, knee, ankle in LEGS:
        thigh, _ = _unit(kp[:, knee, :2] - kp[:, hip, :2])
        shin, _ = _unit(kp[:, ankle, :2] - kp[:, knee, :2])
        t_ok = ok[:, hip] & ok[:, knee]
        s_ok = t_ok & ok[:, ankle]
        down_t = np.clip(thigh[:, 1], 0, 1)  # image y grows downwards
        down_s = np.clip(shin[:, 1], 0, 1)
        sit_sum += np.where(t_ok, 1 - down_t, 0)
        sit_n += t_ok
        stand_sum += np.where(s_ok, down_t * down_s, 0)
        stand_n += s_ok
    return (sit_sum / np.maximum(sit_n, 1), sit_n > 0, stand_sum / np.maximum(stand_n, 1), stand_n > 0)


def body_evidence(keypoints: np.ndarray, boxes_h: np.ndarray, boxes_o: np.ndarray, has_object: np.ndarray,
                  threshold: float = 0.3, scale: float = 0.1) -> BodyEvidence:
    """Pose features of P pairs.

    Args:
        keypoints: (P, 17, 3) COCO-17 (x, y, score), pixels.
        boxes_h: (P, 4) human boxes, pixels.
        boxes_o: (P, 4) object boxes, pixels (ignored where ``has_object`` is False).
        has_object: (P,) bool, the pair has an object.
        threshold: a joint is reliable when its score is at least this.
        scale: contact length scale in person units (contact = exp(-d / scale)).
    """
    kp = np.asarray(keypoints, np.float32).reshape(-1, 17, 3)
    bh = np.asarray(boxes_h, np.float32).reshape(-1, 4)
    bo = np.asarray(boxes_o, np.float32).reshape(-1, 4)
    has = np.asarray(has_object, bool).reshape(-1)
    ok = kp[..., 2] >= threshold
    size = person_scale(bh)
    ev = BodyEvidence()
    dist = point_box_distance(kp[..., :2], bo) / size[:, None]
    rows = np.arange(len(kp))
    for g, joints in GROUP_JOINTS.items():
        j = list(joints)
        dj = np.where(ok[:, j], dist[:, j], np.inf)
        nearest = dj.argmin(axis=1)
        d = dj[rows, nearest]
        ev.contact_ok[g] = ok[:, j].any(axis=1) & has
        ev.contact[g] = np.where(ev.contact_ok[g], np.exp(-np.minimum(d, 1e3) / scale), 0).astype(np.float32)
        ev.reliability[g] = np.where(ev.contact_ok[g], kp[:, j, 2][rows, nearest], 0).astype(np.float32)
        best = kp[:, j, 2].max(axis=1)
        ev.part_score[g] = np.where(best >= threshold, best, 0).astype(np.float32)
    ears_ok = ok[:, list(EARS)]
    ear_mid = (kp[:, EARS[0], :2] * ears_ok[:, :1] + kp[:, EARS[1], :2] * ears_ok[:, 1:]) / np.maximum(
        ears_ok.sum(1, keepdims=True), 1)
    face, _ = _unit(kp[:, NOSE, :2] - ear_mid)
    centre = (bo[:, :2] + bo[:, 2:]) / 2
    to_obj, n_obj = _unit(centre - kp[:, NOSE, :2])
    ev.facing_ok = ok[:, NOSE] & ears_ok.any(axis=1) & has & (n_obj > 1e-3)
    ev.facing = np.where(ev.facing_ok, (face * to_obj).sum(1), 0).astype(np.float32)
    sit, sit_ok, stand, stand_ok = _leg_features(kp, ok)
    ev.sit, ev.sit_ok, ev.stand, ev.stand_ok = sit.astype(np.float32), sit_ok, stand.astype(np.float32), stand_ok
    eyes_ok = ok[:, list(EYES)].any(axis=1) | ok[:, NOSE]
    eye_y = np.where(ok[:, list(EYES)].any(axis=1),
                     np.where(ok[:, list(EYES)], kp[:, list(EYES), 1], np.inf).min(axis=1), kp[:, NOSE, 1])
    wrist_y = np.where(ok[:, list(WRISTS)], kp[:, list(WRISTS), 1], np.inf).min(axis=1)
    ev.raise_ok = eyes_ok & ok[:, list(WRISTS)].any(axis=1)
    lift = np.where(ev.raise_ok, (eye_y - np.where(np.isfinite(wrist_y), wrist_y, 0)) / size, 0)
    ev.raise_ = np.clip(lift * 5, 0, 1).astype(np.float32)
    ankles_ok = ok[:, 15] & ok[:, 16]
    ev.stride_ok = ankles_ok
    ev.stride = np.where(ankles_ok, np.clip(3 * np.abs(kp[:, 15, 0] - kp[:, 16, 0]) / size, 0, 1), 0).astype(np.float32)
    ev.seat = _seat(kp, ok, bo, size, ev.contact["hip"])
    return ev


def _seat(kp: np.ndarray, ok: np.ndarray, boxes_o: np.ndarray, size: np.ndarray, hip_contact: np.ndarray) -> np.ndarray:
    """(P,) hip contact x logistic((object centre y - hip midpoint y) / (0.05 person units)); 0 without hips."""
    hips_ok = ok[:, 11:13]
    n = np.maximum(hips_ok.sum(axis=1), 1)
    hip_y = (kp[:, 11:13, 1] * hips_ok).sum(axis=1) / n
    above = (boxes_o[:, 1] + boxes_o[:, 3]) / 2 - hip_y
    z = np.clip(above / (0.05 * size), -30, 30)
    out: np.ndarray = np.where(hips_ok.any(axis=1), hip_contact / (1 + np.exp(-z)), 0).astype(np.float32)
    return out
