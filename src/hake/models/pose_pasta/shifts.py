"""Logit shifts of Pose-PaSta: from body evidence to PaSta-76 and to HOIs (numpy only).

Per pair, :func:`pose_shift` turns the :class:`~hake.models.pose_pasta.evidence.BodyEvidence` into
(P, 76) PaSta logit shifts, and :func:`hoi_shift` projects those onto the 600 HOIs through the
verb ↔ part-state table, so that an HOI follows the parts it involves. Terms (``r`` = pose score of
the joint used, raised to ``reliability_power``; every term is 0 where its joints are unreliable):

- contact, pairs with an object: the group's states possible with the object get
  ``contact[g] · r · (2·contact_g − 1)``, its ``no_interaction`` the opposite;
- alone, the person-only pair: each object state ``s`` of group ``g`` gets
  ``alone[g] · r · (2·support − 1)``, where ``support`` is the largest ``contact_g`` over the
  person's pairs whose object allows ``s`` (0 when there is none), ``no_interaction`` the opposite
  with the largest support of the group; so with no object near the hands "hand: hold" goes down;
- facing: the head's object states get ``facing · facing_cosine``;
- seat: "hip: sit on" gets ``seat · r · (2·seat_g − 1)`` on pairs whose object allows it, and the
  largest of those on the person-only pair;
- posture rules (``sit``, ``stand``, ``raise``, ``stride``): ``w · (feature − offset)`` on every pair.
"""

from __future__ import annotations

import numpy as np

from hake.models.pose_pasta.evidence import BodyEvidence
from hake.models.pose_pasta.params import RULE_STATES, PoseParams
from hake.vocab.core import load as load_vocab

__all__ = ["hoi_shift", "person_index", "pose_shift"]


def person_index(boxes_h: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """(P,) int64 person id of each pair: pairs with the same human box and keypoints are one person.

    Args:
        boxes_h: (P, 4) human boxes, pixels; keypoints: (P, 17, 3).
    """
    rows = np.concatenate([np.asarray(boxes_h, np.float32).reshape(len(boxes_h), -1),
                           np.asarray(keypoints, np.float32).reshape(len(boxes_h), -1)], axis=1)
    if len(rows) == 0:
        return np.zeros(0, np.int64)
    _, inverse = np.unique(rows, axis=0, return_inverse=True)
    out: np.ndarray = inverse.reshape(-1).astype(np.int64)
    return out


def _support(values: np.ndarray, allowed: np.ndarray, person: np.ndarray) -> np.ndarray:
    """(P, S): for each pair, the largest ``values`` over its person's pairs where ``allowed`` (0 if none).

    Args:
        values: (P,) in [0, 1]; allowed: (P, S) bool; person: (P,) person id.
    """
    n_persons = int(person.max()) + 1 if len(person) else 0
    best = np.zeros((n_persons, allowed.shape[1]), np.float32)
    np.maximum.at(best, person, np.where(allowed, values[:, None], 0).astype(np.float32))
    out: np.ndarray = best[person]
    return out


def pose_shift(ev: BodyEvidence, objects: np.ndarray, params: PoseParams,
               person: np.ndarray | None = None) -> np.ndarray:
    """(P, 76) float32 PaSta-76 logit shifts of P pairs from their body evidence (0 where unreliable).

    Args:
        ev: the pairs' :class:`BodyEvidence`.
        objects: (P,) int64 HICO object 0..79, -1 for the person-only pair.
        person: (P,) person id of each pair (:func:`person_index`); None: every pair its own person.
    """
    vocab = load_vocab()
    slices = vocab.pasta_slices("pasta76")
    names = vocab.pasta["pasta76"]
    objects = np.asarray(objects, np.int64)
    n = len(objects)
    person = np.arange(n, dtype=np.int64) if person is None else np.asarray(person, np.int64)
    shift = np.zeros((n, len(names)), np.float32)
    allowed = np.zeros((n, len(names)), bool)
    has = objects >= 0
    allowed[has] = vocab.pasta76_object_mask[:, objects[has]].T
    needs_object: np.ndarray = np.asarray(vocab.pasta76_object_mask.any(axis=1), bool)
    gamma = params.reliability_power
    for g, sl in slices.items():
        states, none = slice(sl.start, sl.stop - 1), sl.stop - 1
        inter = allowed[:, states]
        rel = ev.reliability[g] ** gamma
        delta = np.where(ev.contact_ok[g], params.contact[g] * rel * (2 * ev.contact[g] - 1), 0).astype(np.float32)
        shift[:, states] += np.where(inter, delta[:, None], 0)
        shift[:, none] -= np.where(inter.any(axis=1), delta, 0)
        # the person-only pair: is any of the person's objects at this part?
        alone = ~has & (ev.part_score[g] > 0)
        support = _support(np.where(ev.contact_ok[g], ev.contact[g], 0), inter, person)
        w = np.where(alone, params.alone[g] * ev.part_score[g] ** gamma, 0).astype(np.float32)
        obj_states: np.ndarray = np.asarray(needs_object[states], bool)
        shift[:, states] += np.where(obj_states[None, :], w[:, None] * (2 * support - 1), 0)
        shift[:, none] -= w * (2 * support[:, obj_states].max(axis=1, initial=0) - 1)
    head = slices["head"]
    face = np.where(ev.facing_ok, params.facing * ev.facing, 0)
    shift[:, head.start:head.stop - 1] += np.where(allowed[:, head.start:head.stop - 1], face[:, None], 0)
    sit_on = names.index(("hip", "sit on"))
    seat_ok: np.ndarray = np.asarray(ev.contact_ok["hip"] & allowed[:, sit_on], bool)
    seat_value = np.where(seat_ok, ev.seat, 0)
    seat_pair = np.where(seat_ok, (2 * seat_value - 1) * ev.reliability["hip"] ** gamma, 0)
    seat_alone = np.where(~has & (ev.part_score["hip"] > 0),
                          2 * _support(seat_value, seat_ok[:, None], person)[:, 0] - 1, 0)
    shift[:, sit_on] += params.seat * (seat_pair + seat_alone)
    feats = {"sit": (ev.sit, ev.sit_ok), "stand": (ev.stand, ev.stand_ok), "raise": (ev.raise_, ev.raise_ok),
             "stride": (ev.stride, ev.stride_ok)}
    for rule, (group, state) in RULE_STATES.items():
        idx = names.index((group, state))
        value, ok = feats[rule]
        r = params.rules[rule]
        shift[:, idx] += np.where(ok, r["weight"] * (value - r["offset"]), 0)
    return shift


def hoi_shift(shift: np.ndarray, objects: np.ndarray, verb_states: np.ndarray, weight: float) -> np.ndarray:
    """(P, 600) float32 HOI logit shifts: ``weight · Σ_s P(s | verb of the HOI) · shift_s`` for the HOIs
    of the pair's object, 0 elsewhere and on the person-only pair.

    Args:
        shift: (P, 76) PaSta logit shifts of :func:`pose_shift`.
        objects: (P,) HICO object, -1 for none.
        verb_states: (117, 76) P(state | verb) (:func:`~hake.models.pose_pasta.params.verb_state_matrix`).
    """
    vocab = load_vocab()
    per_hoi = verb_states[vocab.hoi_verb]  # (600, 76)
    out = (weight * shift @ per_hoi.T).astype(np.float32)
    objects = np.asarray(objects, np.int64)
    same = vocab.hoi_object[None, :] == objects[:, None]
    result: np.ndarray = np.where(same, out, 0).astype(np.float32)
    return result
