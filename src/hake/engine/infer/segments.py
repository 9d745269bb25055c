"""Part states and activities over time, per track: smoothing, flicker, activity segments, AVA rows.

Smoothing is a causal exponential moving average per track, with a time constant ``tau_s``
(seconds; default 0.5 s): for a track seen at frame ``t`` after frame ``t0``,
``a = 1 - exp(-(t - t0) / (fps * tau_s))`` and every value ``v <- (1 - a) v + a x``, where ``x`` is
the frame's raw value (a PaSta probability or an HOI score of that person; 0 when not reported),
so a gap decays the average as time passes. The raw per-frame values stay in the JSON Lines.

A track's top part state per group is the state with the highest (smoothed or raw) value; its top
activity the HOI (not ``no_interaction``) with the highest smoothed score among the HOIs reported
raw for that track within the last ``max_gap`` frames, when that score is at least ``min_score``,
else none (so an activity ends at most ``max_gap`` frames after it was last seen, whatever the
average's lag). **Flicker** is the share of neighbouring frame pairs of one track
(frames ``t`` and ``t + 1``, both seen) in which a group's top state changes, pooled over tracks
and groups; it is given for raw and smoothed states (and for the top activity).

**Activity segments** are the maximal runs of one track with the same smoothed top activity, broken
by a change or when the track is unseen for more than ``max_gap`` frames; runs shorter than
``min_frames`` frames are left out. Each has track, HOI (id, verb, object), start/end frame and
time (seconds, ``frame / fps``) and the mean smoothed score over its frames.

**AVA rows** (``video, timestamp, x1, y1, x2, y2, action, score``, box normalised to [0, 1]) are
written at every whole second ``t`` (the frame ``round(t * fps)``), one per tracked person and
HICO verb (``action`` = 1-based verb id, the order of ``hico_verb_list.txt``), scored with the
best smoothed score of that verb's HOIs; :func:`write_ava_labelmap` writes the matching label map.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hake.structures import FrameResult
from hake.vocab import load as load_vocab
from hake.vocab.core import GROUPS, NO_INTERACTION_VERB


@dataclass
class Smoothing:
    """Parameters of smoothing and segments (see the module docstring)."""

    tau_s: float = 0.5
    min_score: float = 0.02
    min_frames: int = 3
    max_gap: int = 5


@dataclass
class _Run:
    label: Any
    start: int
    end: int
    total: float = 0.0
    frames: int = 0


@dataclass
class _Track:
    track_id: int
    first: int
    last: int
    frames: int = 0
    pasta: dict[tuple[str, str], float] = field(default_factory=dict)
    hoi: dict[int, float] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)
    raw_top: dict[str, str] = field(default_factory=dict)
    smooth_top: dict[str, str] = field(default_factory=dict)
    activity: int | None = None
    raw_activity: int | None = None
    parts: dict[str, list[_Run]] = field(default_factory=dict)
    runs: list[_Run] = field(default_factory=list)


def _argmax(values: dict[Any, float]) -> Any:
    return max(values.items(), key=lambda kv: (kv[1], str(kv[0])))[0] if values else None


def _extend(runs: list[_Run], label: Any, frame: int, score: float, max_gap: int) -> None:
    last = runs[-1] if runs else None
    if last is not None and last.label == label and frame - last.end <= max_gap + 1:
        last.end = frame
    else:
        last = _Run(label, frame, frame)
        runs.append(last)
    last.total += score
    last.frames += 1


class _Counter:
    """Changes of a top label between neighbouring frames."""

    def __init__(self) -> None:
        self.changes = 0
        self.pairs = 0

    def add(self, before: Any, after: Any) -> None:
        self.pairs += 1
        self.changes += int(before != after)

    def rate(self) -> float | None:
        return self.changes / self.pairs if self.pairs else None


class SegmentBuilder:
    """Consumes the :class:`FrameResult` of a video in frame order; memory grows with tracks, not frames.

    Args:
        fps: frames per second (times in seconds are ``frame / fps``).
        video: the video id written in AVA rows and the segments document.
        smoothing: time constant and segment rules.
    """

    def __init__(self, fps: float, video: str = "", smoothing: Smoothing | None = None) -> None:
        self.fps = fps if fps and fps > 0 else 10.0
        self.video = video
        self.cfg = smoothing or Smoothing()
        self.vocab = load_vocab()
        self.tracks: dict[int, _Track] = {}
        self.frames = 0
        self.flicker = {k: _Counter() for k in ("raw", "smoothed", "activity_raw", "activity_smoothed")}
        self._ava: list[tuple[str, int, float, float, float, float, int, float]] = []

    def add(self, result: FrameResult) -> None:
        """Update every tracked person of one frame (``result.frame_index`` 0-based, increasing)."""
        t = int(result.frame_index if result.frame_index is not None else self.frames)
        self.frames = max(self.frames, t + 1)
        second = round(t / self.fps)
        keyframe = round(second * self.fps) == t
        for i, person in enumerate(result.persons):
            if person.track_id is None:
                continue
            raw_pasta = {(g, s.state): s.prob for g, states in person.pasta.items() for s in states}
            raw_hoi: dict[int, float] = {}
            for h in result.hois:
                if h.person == i and self.vocab.hoi_verb[h.hoi] != NO_INTERACTION_VERB:
                    raw_hoi[h.hoi] = max(raw_hoi.get(h.hoi, 0.0), h.score)
            track = self._update(person.track_id, t, raw_pasta, raw_hoi)
            if keyframe:
                self._ava_rows(track, second, person.box, result.width, result.height)

    def _update(self, tid: int, t: int, raw_pasta: dict[tuple[str, str], float],
                raw_hoi: dict[int, float]) -> _Track:
        track = self.tracks.get(tid)
        fresh = track is None
        if track is None:
            track = self.tracks[tid] = _Track(tid, t, t)
        a = 1.0 if fresh else 1.0 - math.exp(-(t - track.last) / (self.fps * self.cfg.tau_s))
        for key in set(track.pasta) | set(raw_pasta):
            track.pasta[key] = (1 - a) * track.pasta.get(key, 0.0) + a * raw_pasta.get(key, 0.0)
        for h in set(track.hoi) | set(raw_hoi):
            track.hoi[h] = (1 - a) * track.hoi.get(h, 0.0) + a * raw_hoi.get(h, 0.0)
        neighbour = not fresh and t == track.last + 1
        for g in GROUPS:
            raw = _argmax({s: p for (gg, s), p in raw_pasta.items() if gg == g})
            smooth = _argmax({s: p for (gg, s), p in track.pasta.items() if gg == g})
            if neighbour and raw is not None and g in track.raw_top:
                self.flicker["raw"].add(track.raw_top[g], raw)
            if neighbour and smooth is not None and g in track.smooth_top:
                self.flicker["smoothed"].add(track.smooth_top[g], smooth)
            if raw is not None:
                track.raw_top[g] = raw
            if smooth is not None:
                track.smooth_top[g] = smooth
                _extend(track.parts.setdefault(g, []), smooth, t, track.pasta[(g, smooth)], self.cfg.max_gap)
        track.seen.update((h, t) for h in raw_hoi)
        best = _argmax({h: v for h, v in track.hoi.items() if t - track.seen.get(h, t) <= self.cfg.max_gap})
        activity = best if best is not None and track.hoi[best] >= self.cfg.min_score else None
        raw_best = _argmax(raw_hoi)
        if neighbour:
            self.flicker["activity_smoothed"].add(track.activity, activity)
            self.flicker["activity_raw"].add(track.raw_activity, raw_best)
        track.activity, track.raw_activity = activity, raw_best
        _extend(track.runs, activity, t, track.hoi.get(activity, 0.0) if activity is not None else 0.0,
                self.cfg.max_gap)
        track.last = t
        track.frames += 1
        return track

    def _ava_rows(self, track: _Track, second: int, box: tuple[float, float, float, float], w: int, h: int) -> None:
        best: dict[int, float] = {}
        for hoi, score in track.hoi.items():
            verb = int(self.vocab.hoi_verb[hoi])
            if score >= self.cfg.min_score and score > best.get(verb, 0.0):
                best[verb] = score
        x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in (box[0] / w, box[1] / h, box[2] / w, box[3] / h))
        for verb, score in sorted(best.items()):
            self._ava.append((self.video, second, x1, y1, x2, y2, verb + 1, score))

    def ava_rows(self) -> list[tuple[str, int, float, float, float, float, int, float]]:
        """AVA rows ``(video, second, x1, y1, x2, y2, action, score)`` so far (box normalised, action 1-based)."""
        return list(self._ava)

    def _hoi(self, hoi: int) -> dict[str, Any]:
        return {"hoi": hoi, "verb": self.vocab.verbs117[self.vocab.hoi_verb[hoi]],
                "object": self.vocab.objects[self.vocab.hoi_object[hoi]]}

    def segments(self) -> list[dict[str, Any]]:
        """Activity segments of every track, ordered by track then start frame."""
        out = []
        for tid in sorted(self.tracks):
            for run in self.tracks[tid].runs:
                if run.label is None or run.frames < self.cfg.min_frames:
                    continue
                out.append({"track_id": tid, **self._hoi(int(run.label)), "start_frame": run.start,
                            "end_frame": run.end, "start_s": round(run.start / self.fps, 3),
                            "end_s": round(run.end / self.fps, 3), "mean_score": round(run.total / run.frames, 5)})
        return out

    def finish(self) -> dict[str, Any]:
        """The segments document (JSON-ready, no NaN): smoothing, flicker, tracks with runs, segments."""
        tracks = []
        for tid in sorted(self.tracks):
            tr = self.tracks[tid]
            tracks.append({
                "track_id": tid, "first_frame": tr.first, "last_frame": tr.last, "frames": tr.frames,
                "activities": [[r.label, r.start, r.end] for r in tr.runs],
                "parts": {g: [[r.label, r.start, r.end] for r in runs] for g, runs in tr.parts.items()},
            })
        fl = self.flicker
        return {
            "video": self.video, "fps": self.fps, "frames": self.frames,
            "smoothing": {"kind": "ema", "tau_s": self.cfg.tau_s, "min_score": self.cfg.min_score,
                          "min_frames": self.cfg.min_frames, "max_gap": self.cfg.max_gap},
            "flicker": {
                "part_states": {"raw": fl["raw"].rate(), "smoothed": fl["smoothed"].rate(),
                                "comparisons": fl["raw"].pairs},
                "activity": {"raw": fl["activity_raw"].rate(), "smoothed": fl["activity_smoothed"].rate(),
                             "comparisons": fl["activity_raw"].pairs},
            },
            "hois": {str(h): self._hoi(h) for h in sorted({int(r.label) for t in self.tracks.values()
                                                           for r in t.runs if r.label is not None})},
            "tracks": tracks,
            "segments": self.segments(),
        }


def segments_of_frames(frames: list[FrameResult], fps: float, video: str = "",
                       smoothing: Smoothing | None = None) -> dict[str, Any]:
    """The segments document of frames already computed (e.g. read back from a ``.jsonl``)."""
    builder = SegmentBuilder(fps, video, smoothing)
    for f in frames:
        builder.add(f)
    return builder.finish()


def write_ava_csv(rows: list[tuple[str, int, float, float, float, float, int, float]], path: Path) -> None:
    """Write AVA rows (no header) and, beside them, ``<path stem>.labelmap.pbtxt`` for ``hake eval ava``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        for video, ts, x1, y1, x2, y2, action, score in rows:
            w.writerow([video, ts, f"{x1:.4f}", f"{y1:.4f}", f"{x2:.4f}", f"{y2:.4f}", action, f"{score:.6f}"])
    write_ava_labelmap(path.with_name(path.name.removesuffix(".csv") + ".labelmap.pbtxt"))


def write_ava_labelmap(path: Path) -> None:
    """A label-map pbtxt of the 117 HICO verbs (ids 1..117), the actions of hake's AVA rows."""
    verbs = load_vocab().verbs117
    path.write_text("".join(f'item {{\n  name: "{v}"\n  id: {i + 1}\n}}\n' for i, v in enumerate(verbs)),
                    encoding="utf-8")
