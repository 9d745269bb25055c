"""Timeline picture of a video: one row per track, time (seconds) across, coloured by top activity.

Reads the segments document of :class:`hake.engine.infer.segments.SegmentBuilder` (``tracks`` with
their ``activities`` runs ``[hoi or None, start frame, end frame]``, ``hois`` names, ``fps``). A
track's frames without an activity are drawn light grey; each activity has one colour, named in the
legend (at most ``max_legend`` activities, the longest in total).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NO_ACTIVITY = "#d9d9d9"


def activity_colours(doc: dict[str, Any], max_legend: int = 12) -> dict[str, str]:
    """HOI id (as a string) -> colour hex, longest-lasting activities first."""
    from matplotlib import colormaps

    length: dict[str, int] = {}
    for tr in doc.get("tracks", []):
        for label, start, end in tr.get("activities", []):
            if label is not None:
                length[str(label)] = length.get(str(label), 0) + int(end) - int(start) + 1
    order = sorted(length, key=lambda k: (-length[k], int(k)))
    cmap = colormaps["tab20"]
    out = {}
    for i, k in enumerate(order):
        r, g, b, _ = cmap(i % 20)
        out[k] = f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
    return out


def save_timeline(doc: dict[str, Any], path: Path, max_tracks: int = 60, max_legend: int = 12) -> Path:
    """Draw the timeline of ``doc`` to ``path`` (PNG); returns ``path``.

    Args:
        doc: a segments document.
        path: output image (``.png``).
        max_tracks: at most this many tracks (the longest seen), so long videos stay readable.
        max_legend: activities named in the legend.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fps = float(doc.get("fps") or 10.0)
    tracks = sorted(doc.get("tracks", []), key=lambda t: -int(t.get("frames", 0)))[:max_tracks]
    tracks = sorted(tracks, key=lambda t: int(t["track_id"]))
    colours = activity_colours(doc, max_legend)
    names = doc.get("hois", {})
    height = 1.2 + 0.28 * max(1, len(tracks))
    fig, ax = plt.subplots(figsize=(10, min(height, 20)), dpi=100)
    try:
        for row, tr in enumerate(tracks):
            for label, start, end in tr.get("activities", []):
                colour = NO_ACTIVITY if label is None else colours.get(str(label), "#555555")
                ax.broken_barh([(start / fps, (end - start + 1) / fps)], (row - 0.4, 0.8), facecolors=colour)
        ax.set_yticks(range(len(tracks)), [f"id{t['track_id']}" for t in tracks], fontsize=7)
        ax.set_ylim(-0.6, max(1, len(tracks)) - 0.4)
        ax.invert_yaxis()
        ax.set_xlim(0, max(1, int(doc.get("frames", 1))) / fps)
        ax.set_xlabel("time (s)")
        ax.set_title(f"{doc.get('video', '')}: top activity per track (smoothed)", fontsize=10)
        shown = list(colours.items())[:max_legend]
        handles = [Patch(color=c, label=_name(names.get(k), k)) for k, c in shown]
        handles.append(Patch(color=NO_ACTIVITY, label="no activity"))
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def _name(info: dict[str, Any] | None, key: str) -> str:
    if not info:
        return f"HOI {key}"
    return f"{info['verb']} {info['object']}".replace("_", " ")
