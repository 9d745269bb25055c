"""What temporal smoothing buys: per-track flicker of the top part state (and activity), raw vs smoothed.

    hake infer DATA/images/vtest.avi --out runs/vtest --max-frames 200
    python benchmarks/video_smoothing.py runs/vtest/vtest.jsonl [--tau 0.25 0.5 1.0] [--json OUT]

Protocol (ours): the frames of one ``hake infer`` run (JSON Lines, raw per-frame values) are
replayed through :class:`hake.engine.infer.segments.SegmentBuilder` for each EMA time constant.
Flicker = share of neighbouring frame pairs of one track in which a body-part group's top state
(or the track's top activity) changes, pooled over tracks and groups; lower is steadier. The raw
column is the same for every time constant (it reads the raw values). No published anchor exists.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hake.engine.infer.segments import Smoothing, segments_of_frames
from hake.engine.infer.video import read_frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl", type=Path)
    ap.add_argument("--fps", type=float, default=10.0, help="frame rate of the video (vtest.avi: 10)")
    ap.add_argument("--tau", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    frames = list(read_frames(args.jsonl))
    rows = []
    print(f"{args.jsonl.name}: {len(frames)} frames")
    print("| tau (s) | tracks | part-state pairs | part flicker raw | smoothed | activity pairs | activity raw "
          "| smoothed |"
          " segments |")
    print("|---|---|---|---|---|---|---|---|---|")
    for tau in args.tau:
        doc = segments_of_frames(frames, args.fps, args.jsonl.stem, Smoothing(tau_s=tau))
        p, a = doc["flicker"]["part_states"], doc["flicker"]["activity"]
        rows.append({"tau_s": tau, "tracks": len(doc["tracks"]), "segments": len(doc["segments"]), **doc["flicker"]})

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.2f} %"

        print(f"| {tau} | {len(doc['tracks'])} | {p['comparisons']} | {pct(p['raw'])} | {pct(p['smoothed'])} "
              f"| {a['comparisons']} | {pct(a['raw'])} | {pct(a['smoothed'])} | {len(doc['segments'])} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
