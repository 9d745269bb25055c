"""Overlay of one :class:`FrameResult` on its image: boxes, skeletons, part boxes and a side panel.

The side panel lists, per person, the most probable state of each PaSta group and the top
activities (HOIs). Images are RGB uint8 arrays; drawing uses OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from hake.structures import FrameResult, Person
from hake.vocab import load as load_vocab
from hake.vocab.coco import SKELETON
from hake.vocab.core import GROUPS, NO_INTERACTION_VERB

#: Person colours (RGB), cycled by person index or track ID.
PALETTE = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128),
)
#: Part-box colour per part (HAKE part order), one hue per PaSta group.
GROUP_COLOURS = {
    "foot": (255, 215, 0), "leg": (255, 140, 0), "hip": (160, 82, 45),
    "hand": (0, 255, 127), "arm": (30, 144, 255), "head": (255, 105, 180),
}
FONT = cv2.FONT_HERSHEY_SIMPLEX
PANEL_WIDTH = 420
LINE = 20


def person_colour(index: int, person: Person) -> tuple[int, int, int]:
    """Colour of a person: by track ID in videos (stable across frames), else by index."""
    key = person.track_id if person.track_id is not None else index
    return PALETTE[key % len(PALETTE)]


def _label(img: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int], scale: float) -> None:
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    y = max(th + base, y)
    cv2.rectangle(img, (x, y - th - base), (x + tw + 4, y), colour, -1)
    dark = sum(colour) > 400
    cv2.putText(img, text, (x + 2, y - base // 2 - 1), FONT, scale, (0, 0, 0) if dark else (255, 255, 255), 1,
                cv2.LINE_AA)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def draw_person(img: np.ndarray, person: Person, index: int, scale: float, kp_threshold: float = 0.3) -> None:
    """Person box with its tag, the 10 part boxes (group colours) and the COCO-17 skeleton."""
    vocab = load_vocab()
    colour = person_colour(index, person)
    x1, y1, x2, y2 = person.box
    thick = max(1, int(round(2 * scale)))
    for k, pb in enumerate(person.part_boxes):
        c = GROUP_COLOURS[vocab.part_group(k)]
        cv2.rectangle(img, _pt(pb[0], pb[1]), _pt(pb[2], pb[3]), c, 1, cv2.LINE_AA)
    kps = np.asarray(person.keypoints, np.float32).reshape(-1, 3)
    radius = int(max(1, min(thick + 1, (y2 - y1) / 60)))  # small people get small dots
    if len(kps) == 17:
        for a, b in SKELETON:
            if kps[a, 2] > kp_threshold and kps[b, 2] > kp_threshold:
                cv2.line(img, _pt(*kps[a, :2]), _pt(*kps[b, :2]), colour, thick + 1, cv2.LINE_AA)
        for x, y, s in kps:
            if s > kp_threshold:
                cv2.circle(img, _pt(x, y), radius + 1, (255, 255, 255), -1, cv2.LINE_AA)
                cv2.circle(img, _pt(x, y), radius, colour, -1, cv2.LINE_AA)
    cv2.rectangle(img, _pt(x1, y1), _pt(x2, y2), colour, thick, cv2.LINE_AA)
    _label(img, _tag(index, person), int(x1), int(y1), colour, 0.5 * scale)


def _tag(index: int, person: Person) -> str:
    tid = f" id{person.track_id}" if person.track_id is not None else ""
    return f"P{index + 1}{tid} {person.score:.2f}"


def panel_lines(result: FrameResult, top_activities: int = 3, min_prob: float = 0.1) -> list[tuple[str, int, bool]]:
    """Text of the side panel: (text, person index or -1, is_header) per line."""
    lines: list[tuple[str, int, bool]] = []
    for i, p in enumerate(result.persons):
        lines.append((_tag(i, p), i, True))
        shown = 0
        for g in GROUPS:
            states = [s for s in p.pasta.get(g, []) if s.prob >= min_prob and "no_interaction" not in s.state]
            if states:
                lines.append((f"  {g}: " + ", ".join(f"{s.state} {s.prob:.2f}" for s in states[:2]), i, False))
                shown += 1
        if not shown:
            lines.append(("  parts: no interaction", i, False))
        acts = [h for h in result.hois if h.person == i and load_vocab().hoi_verb[h.hoi] != NO_INTERACTION_VERB]
        names: dict[str, float] = {}  # one line per activity name (two balls: one "kick sports ball")
        for h in sorted(acts, key=lambda h: -h.score):
            names.setdefault(f"{h.verb} {h.object}".replace("_", " "), h.score)
        acts = list(names.items())[:top_activities]
        if not acts:
            lines.append(("  doing: -", i, False))
        for k, (name, score) in enumerate(acts):
            lines.append((f"  {'doing:' if k == 0 else '      '} {name} {score:.2f}", i, False))
    if not result.persons:
        lines.append(("no person found", -1, True))
    return lines


def draw_result(image: np.ndarray, result: FrameResult, panel: bool = True, fixed_height: bool = False) -> np.ndarray:
    """Annotated copy of an (H, W, 3) uint8 RGB ``image``, with a side panel to the right.

    Args:
        image: the frame ``result`` was computed on.
        result: persons, objects and HOIs of that frame.
        panel: add the side panel of part states and activities.
        fixed_height: keep the output height H (videos need a constant frame size); otherwise the
            canvas grows so that the whole panel fits.

    Returns:
        (H', W + PANEL_WIDTH, 3) uint8 RGB, or (H, W, 3) without the panel.
    """
    img = np.ascontiguousarray(image.copy())
    scale = max(1.0, min(img.shape[:2]) / 600)
    for o in result.objects:
        x1, y1, x2, y2 = o.box
        cv2.rectangle(img, _pt(x1, y1), _pt(x2, y2), (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
        _label(img, f"{o.name.replace('_', ' ')} {o.score:.2f}", int(x1), int(y2) + 2, (90, 90, 90), 0.45 * scale)
    best = {}
    for h in result.hois:
        if h.object_index is not None and load_vocab().hoi_verb[h.hoi] != NO_INTERACTION_VERB:
            best.setdefault(h.person, h)
    for i, h in best.items():
        a = ((h.box_h[0] + h.box_h[2]) / 2, (h.box_h[1] + h.box_h[3]) / 2)
        b = ((h.box_o[0] + h.box_o[2]) / 2, (h.box_o[1] + h.box_o[3]) / 2)
        cv2.line(img, _pt(*a), _pt(*b), person_colour(i, result.persons[i]), max(1, int(2 * scale)), cv2.LINE_AA)
    for i, p in enumerate(result.persons):
        draw_person(img, p, i, scale)
    if not panel:
        return img
    lines = panel_lines(result)
    h = img.shape[0] if fixed_height else max(img.shape[0], LINE * (len(lines) + 2))
    canvas = np.full((h, img.shape[1] + PANEL_WIDTH, 3), 32, np.uint8)
    canvas[: img.shape[0], : img.shape[1]] = img
    x0, y = img.shape[1] + 8, LINE
    for k, (text, person, header) in enumerate(lines):
        if y > h - LINE and k < len(lines) - 1:
            cv2.putText(canvas, f"... {len(lines) - k} more lines", (x0, y), FONT, 0.45, (200, 200, 200), 1,
                        cv2.LINE_AA)
            break
        colour = person_colour(person, result.persons[person]) if header and person >= 0 else (235, 235, 235)
        if header and y > LINE:
            y += 4
        cv2.putText(canvas, text, (x0, y), FONT, 0.55 if header else 0.5, colour, 2 if header else 1, cv2.LINE_AA)
        y += LINE
    return canvas
