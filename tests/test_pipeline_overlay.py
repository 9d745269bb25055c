"""The overlay: skeleton, part boxes and the side panel of part states and activities."""

from __future__ import annotations

import numpy as np

from hake.engine.infer.pipeline import Pipeline
from hake.perception.base import PERSON
from hake.structures import FrameResult
from hake.viz.overlay import PALETTE, PANEL_WIDTH, draw_result, panel_lines
from pipeline_standin import StandInPasta
from test_pipeline import CUP, HORSE, FakeDetector, UprightPose, obj


def synthetic() -> tuple[np.ndarray, FrameResult]:
    dets = [obj((100, 100, 200, 300), 0.9, PERSON), obj((180, 150, 260, 250), 0.8, HORSE),
            obj((600, 100, 700, 200), 0.5, CUP), obj((400, 300, 460, 420), 0.7, PERSON)]
    image = np.full((480, 800, 3), 128, np.uint8)
    return image, Pipeline(FakeDetector(dets), UprightPose(), StandInPasta())(image)


def test_panel_lists_part_states_and_activities_per_person() -> None:
    _, result = synthetic()
    lines = panel_lines(result)
    headers = [text for text, _, header in lines if header]
    assert headers == ["P1 0.90", "P2 0.70"]
    p1 = [text for text, person, header in lines if person == 0 and not header]
    assert p1[0].startswith("  hand: hold")
    assert any("doing: hold horse" in t for t in p1)
    assert not any("no_interaction" in t for t, _, _ in lines)
    result.persons[1].track_id = 7
    assert "P2 id7 0.70" in [t for t, _, h in panel_lines(result) if h]
    assert panel_lines(FrameResult("empty", 10, 10)) == [("no person found", -1, True)]


def test_overlay_draws_persons_and_adds_the_panel() -> None:
    image, result = synthetic()
    vis = draw_result(image, result)
    assert vis.shape == (480, 800 + PANEL_WIDTH, 3) and vis.dtype == np.uint8
    assert np.array_equal(image, np.full((480, 800, 3), 128, np.uint8))  # the input is not drawn on
    person = vis[100:300, 100:200].reshape(-1, 3)
    assert (person == PALETTE[0]).all(axis=1).sum() > 200  # skeleton and box in the first person's colour
    untouched = vis[400:470, 250:350]
    assert (untouched == 128).all()  # no drawing far from every box
    panel = vis[:, 800:]
    assert (panel != 32).any(axis=2).sum() > 500  # text on the dark panel
    video = draw_result(image, result, fixed_height=True)
    assert video.shape == (480, 800 + PANEL_WIDTH, 3)
    assert draw_result(image, result, panel=False).shape == image.shape


def test_tall_panels_grow_the_canvas_unless_the_height_is_fixed() -> None:
    image, result = synthetic()
    small = image[:60]
    grown = draw_result(small, result)
    assert grown.shape[0] > 60 and grown.shape[1] == 800 + PANEL_WIDTH
    assert draw_result(small, result, fixed_height=True).shape[0] == 60
