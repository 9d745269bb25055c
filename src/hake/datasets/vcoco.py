"""V-COCO ground truth (``vcoco_test.json`` + COCO 2014 instances + split ids) and detections (no torch).

GT is built as s-gupta/v-coco ``vsrl_eval.py`` builds its ``vcocodb``: COCO boxes xywh ->
x1, y1, x1 + max(0, w-1), y1 + max(0, h-1) clipped to the image, objects with ``ignore`` dropped,
kept only when ``area > 0 and x2 > x1 and y2 > y1``; boxes stored as float32. A person whose
annotation id is not in V-COCO carries no labels (-1, its detections are skipped).

Detections: the official list of dicts (``image_id``, ``person_box``, ``{action}_agent`` score,
``{action}_{role}`` = [x1, y1, x2, y2, score]) as JSON, or the official pickle read with a
restricted unpickler. A missing key counts as "no prediction" (NaN), where the original raises.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hake.datasets.io import read_json_any, restricted_unpickle
from hake.errors import DataError


@dataclass
class VcocoGT:
    """Persons of the evaluated images, flattened (P persons over I images, split order).

    Attributes:
        actions: the 26 action names; roles: per action its role names (``roles[a][0] == "agent"``).
        image_ids: (I,) COCO image ids in split-file order.
        person_image: (P,) index into ``image_ids``.
        person_boxes: (P, 4) float32 x1y1x2y2 pixels (COCO convention, inclusive).
        person_actions: (P, A) int8, 1 / 0 / -1 (-1: person not annotated in V-COCO).
        role_boxes: (P, A, 2, 4) float32 box of the GT role object, -1 where there is none.
    """

    actions: list[str]
    roles: list[list[str]]
    image_ids: np.ndarray
    person_image: np.ndarray
    person_boxes: np.ndarray
    person_actions: np.ndarray
    role_boxes: np.ndarray


def _int_list(x: dict[str, Any], key: str, where: str, record: str) -> np.ndarray:
    """``x[key]`` as a flat int64 array; every value must be an integer below 2**53."""
    if key not in x:
        raise DataError("missing", file=where, record=record, field=key)
    try:
        arr = np.asarray(x[key], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        arr = np.array([np.nan])
    if not (np.isfinite(arr) & (arr == np.round(arr)) & (np.abs(arr) < 2**53)).all():
        raise DataError("expected a list of integers", file=where, record=record, field=key)
    return arr.astype(np.int64)


def _vsrl(vcoco: object, where: str) -> list[dict[str, Any]]:
    """Check the per-action entries of ``vcoco_*.json``; ``role_object_id`` becomes (n, roles)."""
    if not isinstance(vcoco, list) or not vcoco:
        raise DataError("expected a list of per-action entries", file=where)
    out = []
    for a, x in enumerate(vcoco):
        rec = f"action {a}"
        x = _object(x, where, rec)
        if "action_name" not in x:
            raise DataError("missing", file=where, record=rec, field="action_name")
        rec = f"action {a} ({str(x['action_name'])[:40]})"
        roles = x.get("role_name")
        if not isinstance(roles, list) or not 1 <= len(roles) <= 3 or not all(isinstance(r, str) for r in roles):
            raise DataError("expected 1 to 3 role names, agent first", file=where, record=rec, field="role_name")
        entry: dict[str, Any] = {"action": str(x["action_name"]), "roles": roles}
        for key in ("image_id", "ann_id", "label", "role_object_id"):
            entry[key] = _int_list(x, key, where, rec)
        n = len(entry["ann_id"])
        for key, size in (("image_id", n), ("label", n), ("role_object_id", n * len(roles))):
            if len(entry[key]) != size:
                raise DataError(f"{len(entry[key])} values for {n} annotations and {len(roles)} roles", file=where,
                                record=rec, field=key)
        entry["role_object_id"] = entry["role_object_id"].reshape(len(roles), n).T
        out.append(entry)
    return out


def _clean_box(bbox: list[float], width: float, height: float) -> tuple[float, float, float, float]:
    x1, y1 = float(bbox[0]), float(bbox[1])
    x2 = x1 + np.maximum(0.0, bbox[2] - 1.0)
    y2 = y1 + np.maximum(0.0, bbox[3] - 1.0)
    clip_x = lambda v: np.minimum(width - 1.0, np.maximum(0.0, v))  # noqa: E731
    clip_y = lambda v: np.minimum(height - 1.0, np.maximum(0.0, v))  # noqa: E731
    return clip_x(x1), clip_y(y1), clip_x(x2), clip_y(y2)


def _is_number(v: object, integer: bool = False) -> bool:
    """A finite JSON number (not a bool); with ``integer`` an integral one below 2**53."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return False
    if isinstance(v, (float, np.floating)) and not (math.isfinite(v) and (not integer or float(v).is_integer())):
        return False
    return not integer or abs(v) < 2**53


def _sized(value: Any, size: int) -> Any:
    """``value`` if it is a list (or tuple, array) of ``size`` items, so numpy never broadcasts one
    number over a box; else a ValueError."""
    if isinstance(value, (str, bytes, dict)) or len(value) != size:
        raise ValueError(f"expected {size} numbers, got {repr(value)[:40]}")
    return value


def _scalar(value: Any) -> Any:
    """``value`` if it is one number (a list or string is a ValueError)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"expected a number, got {repr(value)[:40]}")
    return value


def _number(rec: dict[str, Any], key: str, where: str, record: str, *, integer: bool = False) -> float:
    """``rec[key]`` as a finite JSON number (an integer below 2**53 for ids); else a DataError."""
    if key not in rec:
        raise DataError("missing", file=where, record=record, field=key)
    v = rec[key]
    if not _is_number(v, integer):
        kind = "an integer" if integer else "a finite number"
        raise DataError(f"expected {kind}, got {repr(v)[:40]}", file=where, record=record, field=key)
    return float(v)


def _object(value: object, where: str, record: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataError(f"expected an object, got {type(value).__name__}", file=where, record=record)
    return value


_Rows = dict[int, list[tuple[int, dict[str, Any]]]]


def _coco_index(coco: object, where: str) -> tuple[dict[int, tuple[int, dict[str, Any]]], set[int], _Rows]:
    """(row, image) by image id, the person category ids, and (row, annotation) pairs by image id."""
    if not isinstance(coco, dict):
        raise DataError("not a COCO instances file: expected a JSON object", file=where)
    for key in ("images", "categories", "annotations"):
        if not isinstance(coco.get(key), list):
            raise DataError("not a COCO instances file: expected a list", file=where, field=key)
    imgs: dict[int, tuple[int, dict[str, Any]]] = {}
    for r, im in enumerate(coco["images"]):
        img_id = int(_number(_object(im, where, f"images[{r}]"), "id", where, f"images[{r}]", integer=True))
        if img_id in imgs:
            raise DataError(f"image id {img_id} appears twice", file=where, record=f"images[{r}]", field="id")
        imgs[img_id] = (r, im)
    person_cat = set()
    for r, cat in enumerate(coco["categories"]):
        cid = int(_number(_object(cat, where, f"categories[{r}]"), "id", where, f"categories[{r}]", integer=True))
        if "name" not in cat:
            raise DataError("missing", file=where, record=f"categories[{r}]", field="name")
        if cat["name"] == "person":
            person_cat.add(cid)
    anns_by_img: _Rows = {}
    for r, ann in enumerate(coco["annotations"]):
        rec = f"annotations[{r}]"
        img_id = int(_number(_object(ann, where, rec), "image_id", where, rec, integer=True))
        anns_by_img.setdefault(img_id, []).append((r, ann))
    return imgs, person_cat, anns_by_img


def _valid_objects(img_id: int, image: tuple[int, dict[str, Any]], anns: list[tuple[int, dict[str, Any]]],
                   where: str) -> tuple[list[tuple[int, int]], np.ndarray]:
    """(annotation id, category id) and float32 boxes of the image's kept objects (vsrl_eval rules)."""
    rec = f"images[{image[0]}] (id {img_id})"
    w, h = (float(_number(image[1], k, where, rec)) for k in ("width", "height"))
    if w <= 0 or h <= 0:
        raise DataError(f"image size {w} x {h} is not positive", file=where, record=rec, field="width")
    valid, boxes, seen = [], [], set()
    for r, ann in anns:
        if ann.get("ignore", 0) == 1:
            continue
        rec = f"annotations[{r}]"
        aid = int(_number(ann, "id", where, rec, integer=True))
        rec = f"annotations[{r}] (id {aid})"
        cat = int(_number(ann, "category_id", where, rec, integer=True))
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
            raise DataError(f"expected [x, y, w, h] as 4 finite numbers, got {repr(bbox)[:40]}", file=where,
                            record=rec, field="bbox")
        area = _number(ann, "area", where, rec)
        x1, y1, x2, y2 = _clean_box(bbox, w, h)
        if area > 0 and x2 > x1 and y2 > y1:
            if aid in seen:
                raise DataError(f"annotation id {aid} appears twice in image {img_id}", file=where, record=rec,
                                field="id")
            seen.add(aid)
            valid.append((aid, cat))
            boxes.append((x1, y1, x2, y2))
    return valid, np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def build_vcoco_gt(vcoco: object, coco: dict[str, Any], image_ids: np.ndarray, where: tuple[str, str, str]) -> VcocoGT:
    """Build :class:`VcocoGT` from parsed V-COCO JSON, COCO instances and split ids."""
    v_where, c_where, s_where = where
    vsrl = _vsrl(vcoco, v_where)
    actions = [x["action"] for x in vsrl]
    image_ids = np.asarray(image_ids, dtype=np.int64).reshape(-1)
    if not np.array_equal(np.unique(vsrl[0]["image_id"]), np.sort(image_ids)):
        raise DataError("the split ids are not the images of the V-COCO annotations", file=s_where)
    imgs, person_cat, anns_by_img = _coco_index(coco, c_where)
    in_vcoco = set(vsrl[0]["ann_id"].tolist())
    label_row = [{int(k): r for r, k in enumerate(x["ann_id"]) if x["label"][r] == 1} for x in vsrl]
    n_act = len(actions)
    p_img, p_box, p_act, p_role = [], [], [], []
    for i, img_id in enumerate(image_ids.tolist()):
        if img_id not in imgs:
            raise DataError("image id not in the COCO file", file=c_where, record=img_id, field="images")
        valid, box_arr = _valid_objects(img_id, imgs[img_id], anns_by_img.get(img_id, []), c_where)
        index = {aid: k for k, (aid, _) in enumerate(valid)}
        for k, (aid, cat) in enumerate(valid):
            if cat not in person_cat:
                continue
            act = np.full(n_act, -1, np.int8)
            role = np.full((n_act, 2, 4), -1.0, np.float32)
            if aid in in_vcoco:
                act[:] = 0
                for a, x in enumerate(vsrl):
                    r = label_row[a].get(aid)
                    if r is None:
                        continue
                    act[a] = 1
                    for j in range(1, x["role_object_id"].shape[1]):
                        rid = int(x["role_object_id"][r, j])
                        if rid == 0:
                            continue
                        if rid not in index:
                            raise DataError(f"role object {rid} is not a valid object of image {img_id}",
                                            file=v_where, record=f"{actions[a]} ann {aid}", field="role_object_id")
                        role[a, j - 1] = box_arr[index[rid]]
            p_img.append(i)
            p_box.append(box_arr[k])
            p_act.append(act)
            p_role.append(role)
    return VcocoGT(actions, [x["roles"] for x in vsrl], image_ids, np.asarray(p_img, np.int64),
                   np.asarray(p_box, np.float32).reshape(-1, 4), np.asarray(p_act, np.int8).reshape(-1, n_act),
                   np.asarray(p_role, np.float32).reshape(-1, n_act, 2, 4))


def load_vcoco_gt(vcoco_json: str | Path, coco_json: str | Path, split_ids: str | Path) -> VcocoGT:
    """Read ``vcoco_test.json``, COCO ``instances_*.json`` and the split id file (one id per line)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # numpy's "input contained no data": refused below
            ids = np.loadtxt(split_ids, dtype=np.float64, ndmin=1)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read image ids: {err}", file=split_ids) from None
    if ids.ndim != 1 or not ids.size:
        raise DataError("expected one image id per line", file=split_ids, field="image_id")
    bad = ~(np.isfinite(ids) & (ids == np.round(ids)) & (np.abs(ids) < 2**53))
    if bad.any():
        raise DataError(f"image id {ids.reshape(-1)[np.flatnonzero(bad)[0]]} is not an integer", file=split_ids,
                        record=f"value {int(np.flatnonzero(bad)[0])}", field="image_id")
    coco = read_json_any(coco_json)
    if not isinstance(coco, dict):
        raise DataError("expected a JSON object", file=coco_json)
    return build_vcoco_gt(read_json_any(vcoco_json), coco, ids.astype(np.int64),
                          (str(vcoco_json), str(coco_json), str(split_ids)))


@dataclass
class VcocoDetections:
    """Detections in file order: image_id (D,), person_box (D,4), agent_scores (D,A), role_boxes
    (D,A,2,4), role_scores (D,A,2); float32 like the original, NaN = no prediction."""

    image_id: np.ndarray
    person_box: np.ndarray
    agent_scores: np.ndarray
    role_boxes: np.ndarray
    role_scores: np.ndarray


def parse_vcoco_detections(dets: object, actions: list[str], roles: list[list[str]],
                           where: str = "<memory>") -> VcocoDetections:
    """Columnar :class:`VcocoDetections` from the official list of dicts."""
    if not isinstance(dets, list):
        raise DataError("expected a list of detection dicts", file=where)
    n, n_act = len(dets), len(actions)
    img = np.zeros(n, np.int64)
    pbox = np.zeros((n, 4))  # float64 while reading; checked against float32's range once, below
    agent = np.full((n, n_act), np.nan)
    role = np.full((n, n_act, 2, 5), np.nan)
    role[..., :4] = 0.0
    keys = [(f"{act}_agent", [(j, f"{act}_{r}") for j, r in enumerate(roles[a][1:3])]) for a, act in enumerate(actions)]
    for d, det in enumerate(dets):
        if not isinstance(det, dict):
            raise DataError(f"expected an object, got {type(det).__name__}", file=where, record=d)
        if not _is_number(det.get("image_id"), integer=True):
            raise DataError(f"expected an integer, got {repr(det.get('image_id'))[:40]}", file=where, record=d,
                            field="image_id")
        img[d] = int(det["image_id"])
        field = "person_box"
        try:
            pbox[d] = _sized(det["person_box"], 4)
            for a, (field, role_keys) in enumerate(keys):
                if det.get(field) is not None:
                    agent[d, a] = _scalar(det[field])
                for j, field in role_keys:
                    if det.get(field) is not None:
                        role[d, a, j] = _sized(det[field], 5)
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise DataError(f"malformed detection: {err!r}", file=where, record=d, field=field) from None
    for kind, arr in enumerate((pbox, agent, role)):
        big = np.isfinite(arr) & (np.abs(arr) > np.finfo(np.float32).max)
        if big.any():
            at = np.argwhere(big)[0]
            field = "person_box" if kind == 0 else keys[at[1]][0] if kind == 1 else keys[at[1]][1][at[2]][1]
            raise DataError("a number beyond the float32 range", file=where, record=int(at[0]), field=field)
    return VcocoDetections(img, pbox.astype(np.float32), agent.astype(np.float32),
                           role[..., :4].astype(np.float32), role[..., 4].astype(np.float32))


def load_vcoco_detections(path: str | Path, actions: list[str], roles: list[list[str]]) -> VcocoDetections:
    """Read detections from JSON or the official pickle (restricted unpickler)."""
    path = Path(path)
    raw = restricted_unpickle(path) if path.suffix in (".pkl", ".pickle") else read_json_any(path)
    return parse_vcoco_detections(raw, actions, roles, str(path))
