"""Person track IDs across video frames with ByteTrack (Roboflow ``trackers``, on ``supervision``).

A person seen for the first time is tentative (``track_id`` None) and gets an ID when it is matched
again in the next frame; a matched person keeps its ID while the tracker can follow it.
"""

from __future__ import annotations

import numpy as np

from hake.structures import FrameResult


class PersonTracker:
    """Assigns ``Person.track_id`` in successive :class:`FrameResult` objects of one video.

    Args:
        frame_rate: frames per second of the video (scales how long a lost track is kept).
        lost_track_buffer: frames (at 30 fps) a lost track is kept for re-identification.
        activation_threshold: detector score a new person needs to start a track.
        min_iou: IoU a detection needs with a track's predicted box to match it.
    """

    def __init__(
        self,
        frame_rate: float = 30.0,
        lost_track_buffer: int = 30,
        activation_threshold: float = 0.4,
        min_iou: float = 0.1,
    ) -> None:
        from trackers import ByteTrackTracker

        self._tracker = ByteTrackTracker(
            lost_track_buffer=lost_track_buffer,
            frame_rate=float(frame_rate) if frame_rate and frame_rate > 0 else 30.0,
            track_activation_threshold=activation_threshold,
            high_conf_det_threshold=activation_threshold,
            minimum_consecutive_frames=1,
            minimum_iou_threshold=min_iou,
        )

    def update(self, result: FrameResult) -> FrameResult:
        """Set ``track_id`` of every person in ``result`` (in place, also returned)."""
        import supervision as sv

        n = len(result.persons)
        if n == 0:
            self._tracker.update(sv.Detections.empty())
            return result
        dets = sv.Detections(
            xyxy=np.asarray([p.box for p in result.persons], np.float32),
            confidence=np.asarray([p.score for p in result.persons], np.float32),
            class_id=np.zeros(n, np.int64),
            data={"index": np.arange(n)},
        )
        tracked = self._tracker.update(dets)
        for index, tid in zip(tracked.data["index"], tracked.tracker_id):
            result.persons[int(index)].track_id = None if int(tid) < 0 else int(tid)
        return result
