"""Building a PaSta-R input vector from readable names (for ``hake explain``; no torch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hake.errors import DataError
from hake.vocab.core import GROUPS
from hake.vocab.core import load as load_vocab
from hake.vocab.sizes import NUM_OBJECTS, NUM_PARTS


def _norm(s: str) -> str:
    return " ".join(s.replace("_", " ").replace("-", " ").lower().split())


def pasta_vector(spec: str, space: str = "pasta76") -> np.ndarray:
    """Multi-hot PaSta vector from ``"hand:hold, head:look at"``; groups not named get ``no_interaction``.

    Returns:
        (n_pasta,) float32, groups foot..head.
    """
    v = load_vocab()
    names = v.pasta[space]
    out = np.zeros(len(names), np.float32)
    named: set[str] = set()
    for i, token in enumerate(t for t in spec.split(",") if t.strip()):
        group, sep, state = token.partition(":")
        group, state = _norm(group), _norm(state)
        if not sep or group not in GROUPS:
            raise DataError(f"expected group:state with group in {', '.join(GROUPS)}, got {token.strip()!r}",
                            record=i, field="pasta")
        hits = [j for j, (g, s) in enumerate(names) if g == group and _norm(s) == state]
        if not hits:
            choices = ", ".join(_norm(s) for g, s in names if g == group)
            raise DataError(f"unknown {group} state {state!r}; {group} states: {choices}", record=i, field="pasta")
        out[hits[0]] = 1
        named.add(group)
    for g, s in v.pasta_slices(space).items():
        if g not in named:
            out[s.stop - 1] = 1
    return out


def parts_from_pasta(pasta: np.ndarray, space: str = "pasta76") -> np.ndarray:
    """(10,) part flags: a part is flagged when its group has a state other than ``no_interaction``."""
    v = load_vocab()
    out = np.zeros(10, np.float32)
    for g, s in v.pasta_slices(space).items():
        if pasta[s][:-1].max() > 0:
            out[list(v.groups[g])] = 1
    return out


def objects_vector(spec: str) -> np.ndarray:
    """(80,) multi-hot of comma-separated HICO object names (``"horse, sports ball"``)."""
    v = load_vocab()
    lookup = {_norm(o): i for i, o in enumerate(v.objects)}
    out = np.zeros(NUM_OBJECTS, np.float32)
    for i, token in enumerate(t for t in spec.split(",") if t.strip()):
        if _norm(token) not in lookup:
            raise DataError(f"unknown object {token.strip()!r} (HICO object names, e.g. horse)", record=i,
                            field="objects")
        out[lookup[_norm(token)]] = 1
    return out


def input_from_json(raw: Any, n_pasta: int, where: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``{"pasta": [n_pasta floats], "objects": [80 floats] or [names], "parts": [10 floats]}`` -> arrays.

    ``parts`` and ``objects`` are optional (None when absent).
    """
    if not isinstance(raw, dict) or "pasta" not in raw:
        raise DataError("expected an object with a 'pasta' list", file=where, field="pasta")
    out = []
    for key, n in (("pasta", n_pasta), ("parts", NUM_PARTS), ("objects", NUM_OBJECTS)):
        val = raw.get(key)
        if val is None:
            out.append(None)
            continue
        if key == "objects" and all(isinstance(o, str) for o in val):
            out.append(objects_vector(",".join(val)))
            continue
        arr = np.asarray(val, np.float32) if isinstance(val, list) else None
        if arr is None or arr.shape != (n,) or not np.isfinite(arr).all():
            raise DataError(f"expected a list of {n} finite numbers", file=where, field=key)
        out.append(arr)
    return out[0], out[1], out[2]


def explain_input(spec: Any, *, pasta: str | None = None, objects: str | None = None,
                  raw: Any = None, where: str = "<input>") -> np.ndarray:
    """The reasoner input vector of ``hake explain``: PaSta, then part flags, then objects, as ``spec`` reads them.

    Args:
        spec: the reasoner's ``InSpec`` (``group_dims``, ``pasta_space``, ``n_parts``, ``n_objects``).
        pasta: readable part states (``"hand:hold,head:look at"``), used when ``raw`` is None.
        objects: readable objects present (``"horse"``); overrides those in ``raw``.
        raw: parsed JSON ``{"pasta": [...], "objects": [...], "parts": [...]}``.
        where: the file ``raw`` came from, for error messages.

    Returns:
        (D,) input vector (dtype of the parts), D = sum(group_dims) + n_parts + n_objects.
    """
    if raw is not None:
        p, parts, obj = input_from_json(raw, sum(spec.group_dims), where)
    elif pasta is not None:
        p, parts, obj = pasta_vector(pasta, spec.pasta_space), None, None
    else:
        raise DataError("give --pasta or --input")
    if objects is not None:
        obj = objects_vector(objects)
    chunks = [p]
    if spec.n_parts:
        chunks.append(parts if parts is not None else parts_from_pasta(p, spec.pasta_space))
    if spec.n_objects:
        if obj is None:
            raise DataError("this reasoner reads the objects present: give --objects")
        chunks.append(obj)
    return np.concatenate(chunks)


def is_infer_result(raw: Any) -> bool:
    """True when ``raw`` is one frame of ``hake infer``'s JSON (it has a ``persons`` list)."""
    return isinstance(raw, dict) and isinstance(raw.get("persons"), list)


def state_evidence(raw: Any, where: str = "<input>") -> list[dict[str, Any]]:
    """Per person of a ``hake infer`` frame, its part states with the evidence that set each.

    Returns:
        ``[{"person": i, "box": [4 pixels], "states": [{"group", "state", "prob", "evidence"}, ...]}]``;
        ``evidence`` is ``"pose"``, ``"layout"``, ``"prior"`` or ``"unknown"`` (a model that does not say).

    Raises:
        DataError: naming the file, the person and the field when a state is malformed.
    """
    if not is_infer_result(raw):
        raise DataError("expected a hake infer result with a 'persons' list", file=where, field="persons")
    out = []
    for i, person in enumerate(raw["persons"]):
        pasta = person.get("pasta") if isinstance(person, dict) else None
        if not isinstance(pasta, dict):
            raise DataError("expected a 'pasta' object of groups", file=where, record=f"person {i}", field="pasta")
        states = []
        for group, items in pasta.items():
            for s in items if isinstance(items, list) else [None]:
                if not isinstance(s, dict):
                    s = {}
                prob = s.get("prob")
                if not isinstance(prob, (int, float)) or not isinstance(s.get("state"), str):
                    raise DataError(f"a {group} state needs 'state' and a numeric 'prob'", file=where,
                                    record=f"person {i}", field=f"pasta.{group}")
                states.append({"group": group, "state": s["state"], "prob": float(prob),
                               "evidence": s.get("evidence") or "unknown"})
        out.append({"person": i, "box": person.get("box"), "states": states})
    return out


def evidence_text(persons: list[dict[str, Any]]) -> str:
    """Readable lines of :func:`state_evidence`: per person, each state with its probability and evidence."""
    lines = []
    for p in persons:
        box = ", ".join(f"{v:.0f}" for v in p["box"]) if p.get("box") else "?"
        lines.append(f"person {p['person']} (box {box}):")
        for s in p["states"]:
            lines.append(f"  {s['group']:>4}: {s['state']:<24} {s['prob']:.2f}  [{s['evidence']}]")
    if not persons:
        lines.append("no persons in this result")
    return "\n".join(lines)
