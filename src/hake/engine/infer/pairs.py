"""Human-object pairs for a PaSta model, and turning its per-pair output into results (numpy only).

Every person is paired with every detected non-person object, plus once with "no object"
(object label -1, object box = the person box) so that person-only PaSta is always available.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hake.structures import DetectedObject, HoiPrediction, PartState
from hake.structures.contracts import EVIDENCE, PairBatch
from hake.vocab import load as load_vocab


@dataclass
class Pairs:
    """The pairs of one image and where each came from.

    Attributes:
        batch: the :class:`PairBatch` handed to the PaSta model (P pairs).
        person: (P,) int64 index of the pair's person.
        object: (P,) int64 index into the frame's object list, -1 for the no-object pair.
    """

    batch: PairBatch
    person: np.ndarray
    object: np.ndarray


def make_pairs(
    person_boxes: np.ndarray,
    keypoints: np.ndarray | None,
    part_boxes: np.ndarray | None,
    objects: list[DetectedObject],
    image_size: tuple[int, int],
    image: np.ndarray | None = None,
) -> Pairs:
    """Pair each of N persons with "no object" and with each object.

    Args:
        person_boxes: (N, 4) float x1, y1, x2, y2 in pixels.
        keypoints: (N, 17, 3) COCO-17 (x, y, score) in pixels, or None.
        part_boxes: (N, 10, 4) part boxes in pixels, or None.
        objects: the non-person detections (HICO labels).
        image_size: (width, height) in pixels.
        image: (H, W, 3) uint8 RGB, passed through for models that look at pixels.

    Returns:
        :class:`Pairs` with P = N * (1 + len(objects)) pairs, person-major, no-object pair first.
    """
    n, m = len(person_boxes), len(objects)
    person = np.repeat(np.arange(n, dtype=np.int64), m + 1)
    obj = np.tile(np.arange(-1, m, dtype=np.int64), n)
    hboxes = np.asarray(person_boxes, np.float32).reshape(n, 4)
    oboxes_all = np.asarray([o.box for o in objects], np.float32).reshape(m, 4)
    olabels_all = np.asarray([o.label for o in objects], np.int64)
    boxes_h = hboxes[person]
    boxes_o = boxes_h.copy()
    labels = np.full(len(person), -1, np.int64)
    has = obj >= 0
    boxes_o[has] = oboxes_all[obj[has]]
    labels[has] = olabels_all[obj[has]]
    batch = PairBatch(
        image_size=(int(image_size[0]), int(image_size[1])),
        boxes_h=boxes_h,
        boxes_o=boxes_o,
        object_labels=labels,
        keypoints=None if keypoints is None else np.asarray(keypoints, np.float32)[person],
        part_boxes=None if part_boxes is None else np.asarray(part_boxes, np.float32)[person],
        image=image,
    )
    return Pairs(batch=batch, person=person, object=obj)


def person_pasta(pasta: np.ndarray, person: np.ndarray, n_persons: int, space: str = "pasta76") -> np.ndarray:
    """(N, 76) PaSta of each person from the (P, 76) probabilities of its pairs.

    A part state is as likely as in the pair that shows it most (maximum over pairs); a group's
    ``no_interaction`` holds only if it holds in every pair (minimum over pairs).
    """
    vocab = load_vocab()
    none = np.array([name.replace(" ", "_") == "no_interaction" for _, name in vocab.pasta[space]])
    probs = pasta.astype(np.float32)
    out = np.zeros((n_persons, probs.shape[1]), np.float32)
    np.maximum.at(out, person, probs)
    low = np.ones((n_persons, probs.shape[1]), np.float32)
    np.minimum.at(low, person, probs)
    out[:, none] = low[:, none]
    return out


#: ``top_states`` value that reports every state of every group (what ``hake benchmark photos`` scores).
ALL_STATES = 0


def person_evidence(pasta: np.ndarray, evidence: np.ndarray, person: np.ndarray, n_persons: int,
                    space: str = "pasta76") -> np.ndarray:
    """(N, 76) int8 evidence code of each person's state: that of the pair :func:`person_pasta` took it
    from (the most probable pair, for ``no_interaction`` the least probable one).

    Args:
        pasta: (P, 76) pair probabilities; evidence: (P, 76) codes into ``EVIDENCE``; person: (P,) person index.
    """
    vocab = load_vocab()
    none = np.array([name.replace(" ", "_") == "no_interaction" for _, name in vocab.pasta[space]])
    key = np.where(none[None, :], -pasta, pasta).astype(np.float64)
    out = np.zeros((n_persons, pasta.shape[1]), np.int8)
    for i in range(n_persons):
        rows = np.flatnonzero(person == i)
        if len(rows):
            best = rows[np.argmax(key[rows], axis=0)]
            out[i] = evidence[best, np.arange(pasta.shape[1])]
    return out


def top_states(probs: np.ndarray, k: int = 3, space: str = "pasta76",
               evidence: np.ndarray | None = None) -> dict[str, list[PartState]]:
    """Per PaSta group the ``k`` most probable states of one person's (76,) probability vector,
    most probable first; ``k`` = :data:`ALL_STATES` (0) reports every state of the group.
    ``evidence`` is the person's (76,) codes of :func:`person_evidence`, if the model gave them."""
    vocab = load_vocab()
    names = vocab.pasta[space]
    out: dict[str, list[PartState]] = {}
    for group, sl in vocab.pasta_slices(space).items():
        idx = np.arange(sl.start, sl.stop)
        order = idx[np.argsort(-probs[sl], kind="stable")][: k if k > 0 else None]
        out[group] = [PartState(group=group, state=names[i][1], index=int(i), prob=float(probs[i]),
                                evidence=None if evidence is None else EVIDENCE[int(evidence[i])]) for i in order]
    return out


def hoi_predictions(
    hoi: np.ndarray,
    pairs: Pairs,
    person_scores: np.ndarray,
    objects: list[DetectedObject],
    threshold: float = 0.01,
    top_k: int = 5,
) -> list[HoiPrediction]:
    """HOIs of every object pair, scored ``s_h * s_o * p(hoi)`` (the HICO-DET convention).

    Only the HOIs of the pair's object class are considered; per pair the ``top_k`` above
    ``threshold`` are kept. The list is sorted by person, then score (descending).

    Args:
        hoi: (P, 600) HOI probabilities from the PaSta model.
        pairs: the pairs that produced ``hoi``.
        person_scores: (N,) detector scores of the persons.
        objects: the frame's non-person detections.
    """
    vocab = load_vocab()
    out: list[HoiPrediction] = []
    for p in np.flatnonzero(pairs.object >= 0):
        i, j = int(pairs.person[p]), int(pairs.object[p])
        o = objects[j]
        cand = vocab.hois_of_object(o.label)
        scores = float(person_scores[i]) * float(o.score) * hoi[p, cand]
        order = np.argsort(-scores, kind="stable")[:top_k]
        for c in order:
            if scores[c] < threshold:
                break
            h = int(cand[c])
            out.append(HoiPrediction(
                person=i, object_index=j, hoi=h, verb=vocab.verbs117[vocab.hoi_verb[h]],
                object=vocab.objects[o.label], score=float(scores[c]),
                box_h=tuple(pairs.batch.boxes_h[p].tolist()), box_o=o.box,
            ))
    out.sort(key=lambda x: (x.person, -x.score))
    return out
