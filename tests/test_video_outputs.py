"""Video outputs on the fixture clip: H.264 MP4, truncated videos, Ctrl-C, segments, timeline, AVA rows."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES
from hake.cli import app
from hake.engine.infer.pipeline import build_pipeline
from hake.engine.infer.runner import collect_jobs, run_jobs
from hake.engine.infer.video import partial_path, process_video, read_frames
from hake.errors import DataError
from pipeline_standin import StandInPasta

CLIP = FIXTURES / "video" / "vtest_clip.avi"  # 8 frames, 10 fps, 320x240


@pytest.fixture(scope="module")
def pipe():
    return build_pipeline(pasta_model=StandInPasta(), pose="movenet_lightning")


def test_annotated_video_is_browser_playable_h264(pipe, tmp_path) -> None:
    import av

    out = tmp_path / "clip.jsonl"
    report = process_video(pipe, CLIP, out, tmp_path / "clip.mp4", timeline=True)
    assert (report.frames, report.expected) == (8, 8)
    with av.open(str(tmp_path / "clip.mp4")) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 8 and frames[0].shape[0] % 2 == 0 and frames[0].shape[1] % 2 == 0
    data = (tmp_path / "clip.mp4").read_bytes()
    assert data[4:8] == b"ftyp" and 0 < data.find(b"moov") < data.find(b"mdat")  # faststart: index first
    assert b"fmp4" not in data[:64].lower()
    doc = json.loads((tmp_path / "clip.segments.json").read_text())
    assert doc["frames"] == 8 and doc["tracks"] and doc["smoothing"]["kind"] == "ema"
    assert (tmp_path / "clip.timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [f.frame_index for f in read_frames(out)] == list(range(8))


def test_truncated_video_is_reported_kept_partial_and_redone_on_resume(pipe, tmp_path) -> None:
    video = tmp_path / "in" / "clip.avi"
    video.parent.mkdir()
    data = CLIP.read_bytes()
    video.write_bytes(data[: len(data) // 2])  # the container still announces 8 frames
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"ended early: \d of 8 frames read"):
        process_video(pipe, video, out / "clip.jsonl")
    part = partial_path(out / "clip.jsonl")
    lines = [json.loads(x) for x in part.read_text().splitlines()]
    assert lines[-1]["partial"] is True and lines[-1]["reason"] == "truncated"
    assert lines[-1]["frames_read"] == len(lines) - 1 < 8 and lines[-1]["frames_expected"] == 8
    assert not (out / "clip.jsonl").exists()

    jobs, _ = collect_jobs([video], out)
    summary = run_jobs(jobs, lambda: pipe, progress=False)
    assert not summary.ok and "of 8 frames read" in summary.failed[0].reason
    shutil.copy(CLIP, video)  # the user fetches the whole video again: resume redoes it
    summary = run_jobs(jobs, lambda: pipe, progress=False)
    assert summary.done == [video] and not summary.skipped
    assert len((out / "clip.jsonl").read_text().splitlines()) == 8
    assert not part.exists()


def test_ctrl_c_keeps_flushed_frames_marked_partial(pipe, tmp_path) -> None:
    import av

    def stop(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    out = tmp_path / "clip.jsonl"
    with pytest.raises(KeyboardInterrupt):
        process_video(pipe, CLIP, out, tmp_path / "clip.mp4", on_frame=stop)
    lines = [json.loads(x) for x in partial_path(out).read_text().splitlines()]
    assert [d["frame_index"] for d in lines[:-1]] == [0, 1, 2]
    assert lines[-1] == {"partial": True, "reason": "interrupted", "frames_read": 3, "frames_expected": 8}
    assert [f.frame_index for f in read_frames(partial_path(out))] == [0, 1, 2]
    assert not out.exists() and not (tmp_path / "clip.mp4").exists()
    with av.open(str(tmp_path / "clip.partial.mp4")) as c:  # the frames done still play
        assert len(list(c.decode(video=0))) == 3


def test_unreadable_video_leaves_nothing(pipe, tmp_path) -> None:
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI this is not a video")
    (tmp_path / "o").mkdir()
    with pytest.raises(DataError, match="broken.avi"):
        process_video(pipe, bad, tmp_path / "o" / "broken.jsonl")
    assert list((tmp_path / "o").iterdir()) == []


def test_cli_save_vis_writes_segments_timeline_and_ava_that_eval_ava_reads(tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(app, ["infer", str(CLIP), "--out", str(out), "--save-vis", "--format", "ava", "--no-progress"])
    assert res.exit_code == 0, res.output
    for name in ("vtest_clip.jsonl", "vtest_clip.mp4", "vtest_clip.segments.json", "vtest_clip.timeline.png",
                 "vtest_clip.ava.csv", "vtest_clip.ava.labelmap.pbtxt"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "vtest_clip.segments.json").read_text())
    assert {"segments", "tracks", "flicker"} <= set(doc)
    # the clip (0.8 s) has no keyframe after its first frame, where no track exists yet: write a one-row
    # GT in the same format and check the evaluator accepts both files
    gt = tmp_path / "gt.csv"
    gt.write_text("vtest_clip,1,0.1,0.1,0.5,0.9,37,0\n")
    dets = out / "vtest_clip.ava.csv"
    dets.write_text(dets.read_text() + "vtest_clip,1,0.1000,0.1000,0.5000,0.9000,37,0.900000\n")
    js = tmp_path / "ava.json"
    res = runner.invoke(app, ["eval", "ava", "--labelmap", str(out / "vtest_clip.ava.labelmap.pbtxt"), "--gt", str(gt),
                              "--dets", str(dets), "--protocol", "head", "--json", str(js)])
    assert res.exit_code == 0, res.output
    assert json.loads(js.read_text())["mAP"] == pytest.approx(1.0)  # verb 37 ("hold") found exactly
