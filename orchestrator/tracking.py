"""Object tracking: ByteTrack (supervision) over the detector's output, one tracker per video.

The tracker is fed the frames the motion gate kept, with their real times; its
frame rate is the rate we sample at, so its lost-track buffer means seconds,
not source frames. Per window we report, for every track seen in it, one
segment (first/last seen in the window, best frame, start/end position); a
track seen in several windows keeps its id, so nothing is duplicated at window
boundaries. Tracks seen on fewer than ``min_frames`` frames are held back until
they are confirmed, and dropped if they never are. The whole state is picklable
and goes into the window checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from .model_clients import FrameDetections


class _LabelVotes:
    """A track's label: the class with the most confidence summed over its detections."""

    label_votes: dict[str, float]

    @property
    def label(self) -> str:
        return max(self.label_votes.items(), key=lambda kv: kv[1])[0] if self.label_votes else "object"


@dataclass
class TrackSegment(_LabelVotes):
    """A track's appearance within one window."""

    track_id: int
    window_index: int
    first_t: float
    last_t: float
    n_frames: int = 0
    best_t: float = 0.0
    best_confidence: float = 0.0
    best_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    start_center: tuple[float, float] = (0.0, 0.0)
    end_center: tuple[float, float] = (0.0, 0.0)
    label_votes: dict[str, float] = field(default_factory=dict)


@dataclass
class TrackSummary(_LabelVotes):
    """A whole track so far."""

    track_id: int
    first_t: float
    last_t: float
    n_frames: int = 0
    best_t: float = 0.0
    best_confidence: float = 0.0
    best_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    label_votes: dict[str, float] = field(default_factory=dict)
    path: list[tuple[float, float, float]] = field(default_factory=list)  # (t, cx, cy), thinned

    def path_summary(self) -> dict:
        if not self.path:
            return {}
        (t0, x0, y0), (t1, x1, y1) = self.path[0], self.path[-1]
        dist = float(sum(np.hypot(b[1] - a[1], b[2] - a[2]) for a, b in zip(self.path, self.path[1:])))
        return {
            "start": [round(x0, 3), round(y0, 3)], "end": [round(x1, 3), round(y1, 3)],
            "distance": round(dist, 3), "speed_per_s": round(dist / max(t1 - t0, 1e-6), 4) if t1 > t0 else 0.0,
            "points": [[round(t, 2), round(x, 3), round(y, 3)] for t, x, y in self.path],
        }


@dataclass(frozen=True)
class TrackedDetection:
    t: float
    track_id: int | None
    label: str
    confidence: float
    box: tuple[float, float, float, float]


SCALE = 1000.0


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0  # boxes are normalised; ByteTrack works in this pixel-like space


class VideoTracker:
    def __init__(self, sample_fps: float, lost_s: float = 4.0, min_frames: int = 2, max_path_points: int = 64):
        fps = max(1, int(round(sample_fps)))
        # ByteTrack keeps a lost track for frame_rate / 30 * lost_track_buffer updates
        self.tracker = sv.ByteTrack(
            track_activation_threshold=0.3, lost_track_buffer=int(30 * lost_s), minimum_matching_threshold=0.8,
            frame_rate=fps, minimum_consecutive_frames=1,
        )
        self.min_frames = min_frames
        self.lost_s = lost_s
        self.update_times: dict[int, float] = {}  # tracker frame number -> video time
        self.unmatched: list[TrackedDetection] = []  # last update's detections that got no track id
        self.max_path_points = max_path_points
        self.tracks: dict[int, TrackSummary] = {}
        self.pending: dict[int, list[TrackSegment]] = {}  # segments of tracks not yet confirmed
        self.window_segments: dict[int, TrackSegment] = {}

    def update(self, t: float, window_index: int, dets: FrameDetections) -> list[TrackedDetection]:
        sv_dets = sv.Detections(
            xyxy=(dets.boxes.reshape(-1, 4) * SCALE).astype(np.float32),
            confidence=dets.scores.astype(np.float32),
            class_id=dets.class_ids.astype(int),
            data={"label": np.array(dets.labels, dtype=object)},
        )
        tracked = self.tracker.update_with_detections(sv_dets)
        self._expire_lost(t)
        # ByteTrack returns the input rows it matched, boxes unchanged: map them back to the input rows
        ids: dict[tuple, int] = {tuple(np.round(tracked.xyxy[i], 3)): int(tracked.tracker_id[i]) for i in range(len(tracked))}
        out: list[TrackedDetection] = []
        for i in range(len(sv_dets)):
            box = tuple(float(v) for v in (sv_dets.xyxy[i] / SCALE).clip(0, 1))
            label, conf = dets.labels[i], float(dets.scores[i])
            tid = ids.get(tuple(np.round(sv_dets.xyxy[i], 3)))
            if tid is not None:
                if tid not in self.tracks:
                    self._claim_first_sighting(tid, box, label, window_index)
                self._observe(tid, t, window_index, label, conf, box)  # type: ignore[arg-type]
            out.append(TrackedDetection(t, tid, label, conf, box))  # type: ignore[arg-type]
        self.unmatched = [d for d in out if d.track_id is None]
        return out

    def _claim_first_sighting(self, tid: int, box, label: str, window_index: int) -> None:
        """ByteTrack confirms a track on its second sighting; the first one (an unmatched detection of the
        previous update, same label, overlapping) is where the object really appeared."""
        best, best_iou = None, 0.3
        for d in self.unmatched:
            if d.label == label:
                overlap = _iou(d.box, box)
                if overlap > best_iou:
                    best, best_iou = d, overlap
        if best is not None:
            self.unmatched.remove(best)
            self._observe(tid, best.t, window_index, best.label, best.confidence, best.box)

    def _expire_lost(self, now: float) -> None:
        """Lose tracks by time, not by update count: the gate sends frames irregularly (2 per second
        under motion, one per heartbeat when still), so a buffer counted in updates would last anywhere
        from seconds to half a minute."""
        self.update_times[self.tracker.frame_id] = now
        keep = []
        for track in self.tracker.lost_tracks:
            seen = self.update_times.get(track.frame_id, now)
            if now - seen <= self.lost_s:
                keep.append(track)
        self.tracker.lost_tracks = keep
        oldest = min((tr.frame_id for tr in self.tracker.lost_tracks + self.tracker.tracked_tracks), default=self.tracker.frame_id)
        self.update_times = {k: v for k, v in self.update_times.items() if k >= oldest}

    def _observe(self, tid: int, t: float, window_index: int, label: str, conf: float, box: tuple[float, float, float, float]) -> None:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        track = self.tracks.get(tid)
        if track is None:
            track = self.tracks[tid] = TrackSummary(tid, t, t)
        track.last_t, track.n_frames = t, track.n_frames + 1
        track.label_votes[label] = track.label_votes.get(label, 0.0) + conf
        if conf > track.best_confidence:
            track.best_t, track.best_confidence, track.best_box = t, conf, box
        track.path.append((t, cx, cy))
        if len(track.path) > self.max_path_points:
            track.path = track.path[::2] + ([track.path[-1]] if len(track.path) % 2 == 0 else [])
        seg = self.window_segments.get(tid)
        if seg is None:
            seg = self.window_segments[tid] = TrackSegment(tid, window_index, t, t, start_center=(cx, cy))
        seg.last_t, seg.n_frames, seg.end_center = t, seg.n_frames + 1, (cx, cy)
        seg.label_votes[label] = seg.label_votes.get(label, 0.0) + conf
        if conf > seg.best_confidence:
            seg.best_t, seg.best_confidence, seg.best_box = t, conf, box

    def alive_ids(self) -> set[int]:
        """Tracks the tracker still follows (seen now or lost but still hoped for)."""
        return {t.external_track_id for t in self.tracker.tracked_tracks + self.tracker.lost_tracks}

    def close_window(self) -> tuple[list[TrackSegment], list[TrackSummary]]:
        """Segments to write for this window (confirmed tracks only) and the confirmed tracks they touch."""
        ready: list[TrackSegment] = []
        for tid, seg in self.window_segments.items():
            self.pending.setdefault(tid, []).append(seg)
        self.window_segments = {}
        touched = []
        for tid in list(self.pending):
            if self.tracks[tid].n_frames >= self.min_frames:
                ready.extend(self.pending.pop(tid))
                touched.append(self.tracks[tid])
        # tracks the tracker has dropped for good and that never confirmed are noise
        alive = {t.external_track_id for t in self.tracker.tracked_tracks + self.tracker.lost_tracks}
        for tid in list(self.pending):
            if tid not in alive:
                del self.pending[tid]
                self.tracks.pop(tid, None)
        # finished, written tracks leave memory (the graph has them): state stays flat in video length
        touched_ids = {t.track_id for t in touched}
        for tid in list(self.tracks):
            if tid not in alive and tid not in self.pending and tid not in touched_ids:
                del self.tracks[tid]
        return sorted(ready, key=lambda s: (s.first_t, s.track_id)), touched
