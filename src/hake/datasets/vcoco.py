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

from dataclasses import dataclass
from pathlib import Path

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


def _vsrl(vcoco: object, where: str) -> list[dict]:
    if not isinstance(vcoco, list) or not vcoco:
        raise DataError("expected a list of per-action entries", file=where)
    out = []
    for a, x in enumerate(vcoco):
        try:
            roles = list(x["role_name"])
            entry = {"action": str(x["action_name"]), "roles": roles,
                     "image_id": np.asarray(x["image_id"], np.int64).reshape(-1),
                     "ann_id": np.asarray(x["ann_id"], np.int64).reshape(-1),
                     "label": np.asarray(x["label"], np.int64).reshape(-1)}
            entry["role_object_id"] = np.asarray(x["role_object_id"], np.int64).reshape(len(roles), -1).T
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise DataError(f"malformed action entry: {err}", file=where, record=a, field="role_object_id") from None
        if not (len(entry["ann_id"]) == len(entry["label"]) == len(entry["image_id"]) == len(entry["role_object_id"])):
            raise DataError("image_id, ann_id, label and role_object_id differ in length", file=where, record=a,
                            field="ann_id")
        out.append(entry)
    return out


def _clean_box(bbox: list, width: float, height: float) -> tuple[float, float, float, float]:
    x1, y1 = float(bbox[0]), float(bbox[1])
    x2 = x1 + np.maximum(0.0, bbox[2] - 1.0)
    y2 = y1 + np.maximum(0.0, bbox[3] - 1.0)
    clip_x = lambda v: np.minimum(width - 1.0, np.maximum(0.0, v))  # noqa: E731
    clip_y = lambda v: np.minimum(height - 1.0, np.maximum(0.0, v))  # noqa: E731
    return clip_x(x1), clip_y(y1), clip_x(x2), clip_y(y2)


def build_vcoco_gt(vcoco: object, coco: dict, image_ids: np.ndarray, where: tuple[str, str, str]) -> VcocoGT:
    """Build :class:`VcocoGT` from parsed V-COCO JSON, COCO instances and split ids."""
    v_where, c_where, s_where = where
    vsrl = _vsrl(vcoco, v_where)
    actions = [x["action"] for x in vsrl]
    image_ids = np.asarray(image_ids, dtype=np.int64).reshape(-1)
    if not np.array_equal(np.unique(vsrl[0]["image_id"]), np.sort(image_ids)):
        raise DataError("the split ids are not the images of the V-COCO annotations", file=s_where)
    try:
        imgs = {int(im["id"]): im for im in coco["images"]}
        person_cat = [c["id"] for c in coco["categories"] if c["name"] == "person"]
        anns_by_img: dict[int, list] = {}
        for ann in coco["annotations"]:
            anns_by_img.setdefault(int(ann["image_id"]), []).append(ann)
    except (KeyError, TypeError) as err:
        raise DataError(f"not a COCO instances file: missing {err}", file=c_where) from None
    in_vcoco = set(vsrl[0]["ann_id"].tolist())
    label_row = [{int(k): r for r, k in enumerate(x["ann_id"]) if x["label"][r] == 1} for x in vsrl]
    n_act = len(actions)
    p_img, p_box, p_act, p_role = [], [], [], []
    for i, img_id in enumerate(image_ids.tolist()):
        if img_id not in imgs:
            raise DataError("image id not in the COCO file", file=c_where, record=img_id, field="images")
        w, h = float(imgs[img_id]["width"]), float(imgs[img_id]["height"])
        valid, boxes = [], []
        for ann in anns_by_img.get(img_id, []):
            if ann.get("ignore", 0) == 1:
                continue
            try:
                x1, y1, x2, y2 = _clean_box(ann["bbox"], w, h)
                area = ann["area"]
            except (KeyError, IndexError, TypeError) as err:
                raise DataError(f"bad annotation: {err}", file=c_where, record=ann.get("id"), field="bbox") from None
            if area > 0 and x2 > x1 and y2 > y1:
                valid.append(ann)
                boxes.append((x1, y1, x2, y2))
        box_arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        index = {int(a["id"]): k for k, a in enumerate(valid)}
        for k, ann in enumerate(valid):
            if ann["category_id"] not in person_cat:
                continue
            act = np.full(n_act, -1, np.int8)
            role = np.full((n_act, 2, 4), -1.0, np.float32)
            aid = int(ann["id"])
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
        ids = np.loadtxt(split_ids, dtype=np.float64, ndmin=1)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read image ids: {err}", file=split_ids) from None
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
    pbox = np.zeros((n, 4), np.float32)
    agent = np.full((n, n_act), np.nan, np.float32)
    rbox = np.zeros((n, n_act, 2, 4), np.float32)
    rscore = np.full((n, n_act, 2), np.nan, np.float32)
    for d, det in enumerate(dets):
        try:
            img[d] = int(det["image_id"])
            pbox[d] = np.asarray(det["person_box"], np.float32).reshape(4)
            for a, act in enumerate(actions):
                if f"{act}_agent" in det:
                    agent[d, a] = det[f"{act}_agent"]
                for j, role in enumerate(roles[a][1:3]):
                    val = det.get(f"{act}_{role}")
                    if val is not None:
                        v = np.asarray(val, np.float32).reshape(5)
                        rbox[d, a, j], rscore[d, a, j] = v[:4], v[4]
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise DataError(f"malformed detection: {err!r}", file=where, record=d) from None
    return VcocoDetections(img, pbox, agent, rbox, rscore)


def load_vcoco_detections(path: str | Path, actions: list[str], roles: list[list[str]]) -> VcocoDetections:
    """Read detections from JSON or the official pickle (restricted unpickler)."""
    path = Path(path)
    raw = restricted_unpickle(path) if path.suffix in (".pkl", ".pickle") else read_json_any(path)
    return parse_vcoco_detections(raw, actions, roles, str(path))
