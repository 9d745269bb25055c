"""Person boxes from several sources fused into one :class:`~hake.perception.Detector`.

NanoDet-m alone misses more than half of the clearly visible people of real photos (person AR@100
for large persons 0.42 on the 80 COCO photos of ``coco-mini``); MoveNet MultiPose, run once on the
whole photo, finds many of them (0.74) but places boxes less tightly. :class:`FusedDetector` keeps
the base detector's objects as they are and fuses the persons of every source by weighted box fusion:

1. each source's persons with score >= ``min_score`` (the base detector's after its class-wise NMS;
   MultiPose's six slots), a source's scores multiplied by its ``weights`` entry (clipped to 1);
2. persons sorted by score are clustered greedily: a box joins the first cluster whose fused box
   it overlaps at IoU >= ``fuse_iou``, else it opens a new cluster;
3. a cluster's box is the score-weighted mean of its members' boxes; its score is the mean over
   the sources of each source's best score in the cluster (a source that missed the person adds 0),
   so a person seen by every source scores higher than one seen by a single source.

The weights and thresholds (the pipeline's ``weights=(1.0, 1.6)``, :data:`hake.engine.infer.pipeline.
PERSON_SOURCE_WEIGHT`; ``fuse_iou=0.55``) were chosen on the COCO annotations of
``coco-mini/train2017`` (README "Real photos"); scores are on the fused scale, so the pipeline's
person threshold is set for it (:data:`hake.hub.DEFAULT_PERSON_THRESHOLD`). :class:`FusedPose`
then gives each person the pose model that pays for it (:func:`pose_routes`).

With ``flip=True`` (the ``accurate`` perception of the pipeline) every person model also runs on the
mirrored photo; each model's two views are fused first (:func:`flip_averaged`: a person's score is
the mean of its two views' scores, so one seen in both views outranks one seen in one), then the
models are fused as above. Objects come from the unmirrored photo only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from hake.geometry.boxes import iou_matrix
from hake.geometry.mirror import mirror_boxes, mirror_keypoints
from hake.perception.base import PERSON, Detector, PoseEstimator, check_boxes, check_image
from hake.structures import DetectedObject


class PersonSource(Protocol):
    """Anything that finds persons in a whole photo: ``people(image) -> (boxes (K, 4) pixels, scores (K,),
    keypoints (K, 17, 3))``, e.g. :class:`~hake.perception.MoveNetMultiPose`."""

    def people(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def weighted_box_fusion(boxes: Sequence[np.ndarray], scores: Sequence[np.ndarray],
                        fuse_iou: float = 0.55) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fuse the boxes of S sources (steps 2-3 of the module docstring).

    Args:
        boxes: per source (K_s, 4) x1, y1, x2, y2 pixels.
        scores: per source (K_s,) scores in [0, 1].
        fuse_iou: IoU at which a box joins a cluster.

    Returns:
        Fused boxes (C, 4) float32, scores (C,) float32, sorted by score (descending), and for each
        fused box the (source, index within that source) of its best-scored member of every source
        as a (C, S) int64 array, -1 where a source has no member.
    """
    n_src = len(boxes)
    b = np.concatenate([np.asarray(x, np.float64).reshape(-1, 4) for x in boxes]) if n_src else np.zeros((0, 4))
    s = np.concatenate([np.asarray(x, np.float64).reshape(-1) for x in scores]) if n_src else np.zeros(0)
    src = np.concatenate([np.full(len(np.asarray(x).reshape(-1)), k) for k, x in enumerate(scores)]) if n_src \
        else np.zeros(0, np.int64)
    order = np.argsort(-s, kind="stable")
    # a dozen boxes per photo: plain Python floats are faster here than numpy calls per box
    rows, weights = b.tolist(), s.tolist()
    fused: list[list[float]] = []
    sums: list[list[float]] = []  # per cluster: score-weighted sums of x1, y1, x2, y2, and the summed score
    members: list[list[int]] = []
    for i in order.tolist():
        x1, y1, x2, y2 = rows[i]
        area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
        best_j, best_iou = -1, -1.0
        for j, (u1, v1, u2, v2) in enumerate(fused):
            inter = max(min(x2, u2) - max(x1, u1), 0.0) * max(min(y2, v2) - max(y1, v1), 0.0)
            iou = inter / max(area + max(u2 - u1, 0.0) * max(v2 - v1, 0.0) - inter, 1e-9)
            if iou > best_iou:
                best_j, best_iou = j, iou
        w = weights[i]
        if best_j >= 0 and best_iou >= fuse_iou:
            acc = sums[best_j]
            for c in range(4):
                acc[c] += w * rows[i][c]
            acc[4] += w
            members[best_j].append(i)
            fused[best_j] = [acc[c] / max(acc[4], 1e-12) for c in range(4)]
            continue
        fused.append([x1, y1, x2, y2])
        sums.append([w * x1, w * y1, w * x2, w * y2, w])
        members.append([i])
    offsets = np.cumsum([0] + [len(np.asarray(x).reshape(-1)) for x in scores])
    out_s = np.zeros(len(members))
    best_member = np.full((len(members), n_src), -1, np.int64)
    for j, m in enumerate(members):
        best = np.zeros(n_src)
        for i in m:  # members are in descending score order: the first of a source is its best
            k = int(src[i])
            if best_member[j, k] < 0:
                best_member[j, k] = i - offsets[k]
                best[k] = s[i]
        out_s[j] = best.mean()
    keep = np.argsort(-out_s, kind="stable")
    out_b = np.asarray(fused, np.float32).reshape(-1, 4)[keep]
    return out_b, out_s[keep].astype(np.float32), best_member[keep]


#: Persons of one model in one photo: boxes (K, 4) pixels, scores (K,), keypoints (K, 17, 3) (zeros: none).
People = tuple[np.ndarray, np.ndarray, np.ndarray]


def mirror_people(people: People, width: int) -> People:
    """Persons found on the horizontally mirrored photo, in the coordinates of the photo itself
    (:mod:`hake.geometry.mirror`); scores unchanged."""
    boxes, scores, keypoints = people
    return mirror_boxes(boxes, width), np.asarray(scores, np.float32).reshape(-1), mirror_keypoints(keypoints, width)


def flip_averaged(direct: People, mirrored: People, fuse_iou: float = 0.55) -> People:
    """One model's persons on a photo and on its mirror image (already mapped back by
    :func:`mirror_people`) fused into one set by :func:`weighted_box_fusion`: a person's box is the
    score-weighted mean of its views', its score the mean of the two views' scores (0 for a view that
    missed it), its keypoints the direct view's where it has the person, else the mirrored view's."""
    boxes, scores, member = weighted_box_fusion([direct[0], mirrored[0]], [direct[1], mirrored[1]], fuse_iou)
    kp = np.zeros((len(boxes), 17, 3), np.float32)
    for k, view in ((1, mirrored), (0, direct)):
        has = member[:, k] >= 0
        kp[has] = np.asarray(view[2], np.float32).reshape(-1, 17, 3)[member[has, k]]
    return boxes, scores, kp


class FusedDetector:
    """A :class:`~hake.perception.Detector`: the base detector's objects, persons fused with other sources.

    Args:
        base: the detector of persons and objects (NanoDet-m), its score threshold at most ``min_score``.
        sources: whole-photo person finders (MultiPose).
        weights: score multiplier per source, base first (len = 1 + len(sources)).
        fuse_iou: IoU at which boxes of one person are fused.
        min_score: persons of any source below this (after weighting) are dropped before fusing.
        nms_iou: after fusing, a person overlapping a higher-scored one at IoU >= this is dropped
            (1 = keep all).
        flip: also run every model's person search on the mirrored photo (:func:`flip_averaged`);
            twice the cost, more persons found.
    """

    def __init__(self, base: Detector, sources: Sequence[PersonSource], weights: Sequence[float] | None = None,
                 fuse_iou: float = 0.55, min_score: float = 0.05, nms_iou: float = 1.0, flip: bool = False) -> None:
        self.base = base
        self.sources = list(sources)
        self.weights = [1.0] + [1.3] * len(self.sources) if weights is None else [float(w) for w in weights]
        if len(self.weights) != 1 + len(self.sources):
            raise ValueError(f"need {1 + len(self.sources)} weights (base first), got {len(self.weights)}")
        self.fuse_iou = float(fuse_iou)
        self.min_score = float(min_score)
        self.nms_iou = float(nms_iou)
        self.flip = bool(flip)
        self.model = _Timers([getattr(m, "model", None) for m in [base, *self.sources]])
        self.last: FusedPersons | None = None

    def detect(self, image: np.ndarray) -> list[DetectedObject]:
        """Persons (fused) and objects (the base detector's) in an (H, W, 3) uint8 RGB image, by score."""
        image = check_image(image)
        h, w = image.shape[:2]
        objects, views = self._people(image)
        if self.flip:
            _, mirrored = self._people(np.ascontiguousarray(image[:, ::-1]))
            views = [flip_averaged(a, mirror_people(b, w), self.fuse_iou) for a, b in zip(views, mirrored)]
        boxes, scores, poses = (list(x) for x in zip(*views))
        fb, fs, member = weighted_box_fusion(boxes, scores, self.fuse_iou)
        ok = (fb[:, 2] > fb[:, 0]) & (fb[:, 3] > fb[:, 1]) & _not_suppressed(fb, self.nms_iou)
        fb, fs, member = fb[ok], fs[ok], member[ok]
        keypoints = np.zeros((len(fb), 17, 3), np.float32)  # the best whole-photo source's keypoints
        for k in range(len(self.sources), 0, -1):
            has = member[:, k] >= 0
            keypoints[has] = poses[k][member[has, k]]
        self.last = FusedPersons(image, fb, fs, keypoints, (member[:, 1:] >= 0).any(axis=1))
        template = DetectedObject(box=(0.0, 0.0, 1.0, 1.0), score=0.0, label=PERSON, name="person")
        fused = [replace(template, box=(float(bb[0]), float(bb[1]), float(bb[2]), float(bb[3])), score=float(ss))
                 for bb, ss in zip(fb, fs)]
        return sorted(fused + objects, key=lambda d: -d.score)

    def _people(self, image: np.ndarray) -> tuple[list[DetectedObject], list[People]]:
        """The base detector's objects, and every model's persons (base first) weighted, clipped to
        [0, 1], kept from :attr:`min_score` and clipped to the photo."""
        h, w = image.shape[:2]
        dets = self.base.detect(image)
        persons = [d for d in dets if d.label == PERSON]
        views: list[People] = [(np.asarray([d.box for d in persons], np.float32).reshape(-1, 4),
                                np.asarray([d.score for d in persons], np.float32),
                                np.zeros((len(persons), 17, 3), np.float32))]
        views += [source.people(image) for source in self.sources]
        out: list[People] = []
        for (b, s, kp), weight in zip(views, self.weights, strict=True):
            s = np.clip(np.asarray(s, np.float32).reshape(-1) * weight, 0.0, 1.0)
            keep = s >= self.min_score
            b = np.clip(np.asarray(b, np.float32).reshape(-1, 4)[keep], 0, np.array([w - 1, h - 1, w - 1, h - 1],
                                                                                     np.float32))
            out.append((b, s[keep], np.asarray(kp, np.float32).reshape(-1, 17, 3)[keep]))
        return [d for d in dets if d.label != PERSON], out


@dataclass
class FusedPersons:
    """The persons of the last image a :class:`FusedDetector` saw: the image, boxes (P, 4) pixels,
    scores (P,), keypoints (P, 17, 3) from the whole-photo source (zeros where it has none) and
    ``has_keypoints`` (P,) bool."""

    image: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray
    has_keypoints: np.ndarray


#: Routes of :func:`pose_routes`: keep the whole-photo source's keypoints, run the single-person
#: model, run the large-person model.
WHOLE, SINGLE, LARGE = 0, 1, 2


def pose_routes(boxes: np.ndarray, scores: np.ndarray, single_min_score: float, single_min_area: float = 0.0,
                large_min_score: float = np.inf, large_min_area: float = np.inf) -> np.ndarray:
    """Which pose model each person gets: (N,) int64 of :data:`WHOLE` / :data:`SINGLE` / :data:`LARGE`.

    A person scoring at least ``large_min_score`` whose box covers at least ``large_min_area`` pixels²
    goes to the large-person model; else one scoring at least ``single_min_score`` and covering at
    least ``single_min_area`` pixels² to the single-person model; the rest keep the keypoints of the
    whole-photo source.

    Args:
        boxes: (N, 4) x1, y1, x2, y2 pixels.
        scores: (N,) fused person scores.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    route = np.full(len(boxes), WHOLE, np.int64)
    route[(scores >= single_min_score) & (area >= single_min_area)] = SINGLE
    route[(scores >= large_min_score) & (area >= large_min_area)] = LARGE
    return route


class FusedPose:
    """A :class:`~hake.perception.PoseEstimator` that spends the per-crop pose models where they pay.

    Each person box of the detector's last image is routed by :func:`pose_routes`: a confident large
    person (fused score >= ``large_min_score``, box >= ``large_min_area`` pixels²) goes through
    ``large`` (MoveNet Thunder) if given, a person scoring >= ``single_min_score`` with a box of at
    least ``single_min_area`` pixels² through ``single`` (MoveNet Lightning), and every other one keeps
    the keypoints of the whole-photo source (MultiPose) that saw it, or none (zero scores: its part
    boxes fall back to the person box) if none did. Boxes the detector did not produce (or of
    another image) all go through ``single``.

    On the coco-mini photos MultiPose's keypoints of medium persons are poor (OKS AP 0.09 against
    Lightning's 0.32), and Thunder beats Lightning most on large persons (0.50 against 0.37), so the
    3.8x costlier Thunder run goes to the few large confident persons only (README "Real photos").

    Args:
        single: the per-crop pose model.
        detector: the :class:`FusedDetector` whose persons are estimated.
        single_min_score: fused score from which a person gets the single-person model.
        large: the per-crop pose model of large confident persons, or None (they get ``single``).
        large_min_score: fused score from which a large person gets ``large``.
        large_min_area: box area (pixels²) from which a person counts as large.
        single_min_area: box area (pixels²) below which a person keeps the whole-photo keypoints.
    """

    def __init__(self, single: PoseEstimator, detector: FusedDetector, single_min_score: float = 0.15,
                 large: PoseEstimator | None = None, large_min_score: float = 0.3,
                 large_min_area: float = 150.0 ** 2, single_min_area: float = 0.0) -> None:
        self.single = single
        self.detector = detector
        self.single_min_score = float(single_min_score)
        self.large = large
        self.large_min_score = float(large_min_score)
        self.large_min_area = float(large_min_area)
        self.single_min_area = float(single_min_area)
        self.model = _Timers([getattr(single, "model", None), getattr(large, "model", None)])

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, 17, 3) float32 keypoints (x, y, score) in pixels for (N, 4) person boxes."""
        boxes = check_boxes(boxes)
        out = np.zeros((len(boxes), 17, 3), np.float32)
        last = getattr(self.detector, "last", None)
        route = np.full(len(boxes), SINGLE, np.int64)
        if last is not None and last.image is image and len(boxes) and len(last.boxes):
            iou = iou_matrix(boxes, last.boxes)
            j = iou.argmax(axis=1)
            known = iou.max(axis=1) > 0.99
            large = (self.large_min_score, self.large_min_area) if self.large is not None else (np.inf, np.inf)
            found = pose_routes(boxes, last.scores[j], self.single_min_score, self.single_min_area, *large)
            route[known] = found[known]
            whole = route == WHOLE
            out[whole] = last.keypoints[j[whole]]
        for model, which in ((self.single, SINGLE), (self.large, LARGE)):
            run = route == which
            if model is not None and run.any():
                out[run] = model.estimate(image, boxes[run])
        return out


def _not_suppressed(boxes: np.ndarray, iou: float) -> np.ndarray:
    """(C,) True for each fused box (sorted by score) that survives greedy NMS at IoU ``iou``.

    OpenCV's NMS, as NanoDet's per-class suppression and the pipeline's cross-class merge use; the
    boxes arrive sorted, so their rank is the score.
    """
    import cv2

    keep = np.ones(len(boxes), bool)
    if iou >= 1 or len(boxes) < 2:
        return keep
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(np.float64).tolist()
    rank = np.arange(len(boxes), 0, -1, dtype=np.float64).tolist()
    kept = np.asarray(cv2.dnn.NMSBoxes(xywh, rank, 0.0, float(iou)), np.int64).reshape(-1)
    keep[:] = False
    keep[kept] = True
    return keep


class _Timers:
    """The summed ONNX run time of several models, with the ``run_seconds`` / ``reset_timer`` of one."""

    def __init__(self, models: list[Any]) -> None:
        self.models = [m for m in models if m is not None and hasattr(m, "run_seconds")]

    @property
    def run_seconds(self) -> float:
        return float(sum(m.run_seconds for m in self.models))

    def reset_timer(self) -> None:
        for m in self.models:
            m.reset_timer()
