"""Object tracking: ByteTrack (supervision) over the detector's output, one tracker per video.

The tracker is fed the frames the motion gate kept, with their real times; its
frame rate is the rate we sample at, so its lost-track buffer means seconds,
not source frames. Per window we report, for every track seen in it, one
segment (first/last seen in the window, best frame, start/end position); a
track seen in several windows keeps its id, so nothing is duplicated at window
boundaries. A track is held back until it is confirmed, and dropped if it never
is: confirmed means seen on at least ``min_frames`` frames with a best score at
least its class's confirmation threshold (``class_thresholds.json`` beside the
detector, calibrated by ``scripts/eval_objects.py``), and not a thing that
never moves, never changes size and flickers between classes (litter and cones
read as a ball one frame and a frisbee the next). A track whose class votes
disagree is reported under its majority class. The whole state is picklable
and goes into the window checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import supervision as sv

from .model_clients import FrameDetections
from .settings import get_settings


class _LabelVotes:
    """A track's label: the class with the most confidence summed over its detections."""

    label_votes: dict[str, float]

    @property
    def label(self) -> str:
        return max(self.label_votes.items(), key=lambda kv: kv[1])[0] if self.label_votes else "object"


@dataclass
class TrackSegment(_LabelVotes):
    """A track's appearance within one window (``label``: the whole track's majority class once confirmed)."""

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
    track_label: str = ""  # set when the segment is released: one track, one class across its windows

    @property
    def label(self) -> str:
        return self.track_label or _LabelVotes.label.fget(self)  # type: ignore[attr-defined]


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
    label_hits: dict[str, int] = field(default_factory=dict)  # frames per class (flicker)
    first_center: tuple[float, float] = (0.0, 0.0)
    max_shift: float = 0.0  # farthest the centre has been from where it was first seen (frame fraction)
    min_area: float = 1.0  # smallest and largest box area seen (frame fraction)
    max_area: float = 0.0
    confirmed: bool = False

    def __setstate__(self, state: dict) -> None:  # checkpoints written before a field existed still load
        self.__dict__.update({"label_hits": {}, **state})

    @property
    def majority_share(self) -> float:
        """Fraction of the track's frames that voted for its most frequent class (1.0: never flickered)."""
        total = sum(self.label_hits.values())
        return max(self.label_hits.values()) / total if total else 1.0

    @property
    def static(self) -> bool:
        """Never moved (centre within 2 % of the frame) and never changed size (area within 25 %)."""
        return self.max_shift < STATIC_SHIFT and self.max_area <= self.min_area * STATIC_AREA_RATIO

    def path_summary(self) -> dict:
        if not self.path:
            return {}
        (t0, x0, y0), (t1, x1, y1) = self.path[0], self.path[-1]
        dist = float(sum(np.hypot(b[1] - a[1], b[2] - a[2]) for a, b in zip(self.path, self.path[1:])))
        return {
            "start": [round(x0, 3), round(y0, 3)],
            "end": [round(x1, 3), round(y1, 3)],
            "distance": round(dist, 3),
            "speed_per_s": round(dist / max(t1 - t0, 1e-6), 4) if t1 > t0 else 0.0,
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
STATIC_SHIFT = 0.02
STATIC_AREA_RATIO = 1.25
FLICKER_SHARE = 0.7  # a static track whose majority class has fewer of its frames than this flickers
THRESHOLDS_FILE = Path(__file__).resolve().parents[1] / "triton_models" / "detector" / "1" / "class_thresholds.json"


@dataclass(frozen=True)
class ConfirmPolicy:
    """When a track is an object worth reporting.

    ``confirm``: per-class best-score thresholds (``default`` for the rest); a track needs ``min_frames`` hits
    and one of them at or above its class's threshold. Static tracks whose class flickers are dropped.
    """

    min_frames: int = 2
    default: float = 0.3
    confirm: dict[str, float] = field(default_factory=dict)

    def threshold(self, label: str) -> float:
        return self.confirm.get(label, self.default)

    def reportable(self, track: "TrackSummary") -> bool:
        if track.n_frames < self.min_frames or track.best_confidence < self.threshold(track.label):
            return False
        return not (track.static and track.majority_share < FLICKER_SHARE)

    @classmethod
    def from_file(cls, path: Path | str = THRESHOLDS_FILE, head: str = "centernet", min_frames: int = 2) -> "ConfirmPolicy":
        """The detector head's calibrated thresholds; no file (or no entry for the head): the plain default."""
        try:
            data = json.loads(Path(path).read_text())[head]
        except (OSError, KeyError, ValueError):
            return cls(min_frames=min_frames)
        return cls(
            min_frames=min_frames,
            default=float(data["default"]["confirm"]),
            confirm={k: float(v["confirm"]) for k, v in data.get("classes", {}).items() if "confirm" in v},
        )


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0  # boxes are normalised; ByteTrack works in this pixel-like space


class VideoTracker:
    def __init__(self, sample_fps: float, lost_s: float = 4.0, min_frames: int = 2, max_path_points: int = 64, policy: ConfirmPolicy | None = None):
        fps = max(1, int(round(sample_fps)))
        # ByteTrack keeps a lost track for frame_rate / 30 * lost_track_buffer updates
        self.tracker = sv.ByteTrack(
            track_activation_threshold=0.3,
            lost_track_buffer=int(30 * lost_s),
            minimum_matching_threshold=0.8,
            frame_rate=fps,
            minimum_consecutive_frames=1,
        )
        self.min_frames = min_frames
        # the served head's calibrated confirm thresholds (VDET_DETECTOR, as triton_server.py picks the head)
        self.policy = policy or ConfirmPolicy.from_file(head=get_settings().detector, min_frames=min_frames)
        self.lost_s = lost_s
        self.update_times: dict[int, float] = {}  # tracker frame number -> video time
        self.unmatched: list[TrackedDetection] = []  # last update's detections that got no track id
        self.max_path_points = max_path_points
        self.tracks: dict[int, TrackSummary] = {}
        self.pending: dict[int, list[TrackSegment]] = {}  # segments of tracks not yet confirmed
        self.window_segments: dict[int, TrackSegment] = {}

    def __setstate__(self, state: dict) -> None:  # checkpoints written before the policy existed still load
        self.__dict__.update(state)
        if "policy" not in state:
            self.policy = ConfirmPolicy(min_frames=self.min_frames)

    def update(self, t: float, window_index: int, dets: FrameDetections) -> list[TrackedDetection]:
        sv_dets = sv.Detections(
            xyxy=(dets.boxes.reshape(-1, 4) * SCALE).astype(np.float32),
            confidence=dets.scores.astype(np.float32),
            class_id=dets.class_ids.astype(int),
            data={"label": np.array(dets.labels, dtype=object), "row": np.arange(len(dets.labels))},
        )
        tracked = self.tracker.update_with_detections(sv_dets)
        self._expire_lost(t)
        # ByteTrack returns the input rows it matched with their data: each carries its input row's number
        ids: dict[int, int] = {int(r): int(tid) for r, tid in zip(tracked.data.get("row", ()), tracked.tracker_id if len(tracked) else ())}
        out: list[TrackedDetection] = []
        for i in range(len(sv_dets)):
            box = tuple(float(v) for v in (sv_dets.xyxy[i] / SCALE).clip(0, 1))
            label, conf = dets.labels[i], float(dets.scores[i])
            tid = ids.get(i)
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
            track = self.tracks[tid] = TrackSummary(tid, t, t, first_center=(cx, cy))
        track.last_t, track.n_frames = t, track.n_frames + 1
        track.label_votes[label] = track.label_votes.get(label, 0.0) + conf
        track.label_hits[label] = track.label_hits.get(label, 0) + 1
        track.max_shift = max(track.max_shift, float(np.hypot(cx - track.first_center[0], cy - track.first_center[1])))
        area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
        track.min_area, track.max_area = min(track.min_area, area), max(track.max_area, area)
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
            track = self.tracks[tid]
            if track.confirmed or self.policy.reportable(track):
                track.confirmed = True
                for seg in self.pending.pop(tid):
                    seg.track_label = track.label
                    ready.append(seg)
                touched.append(track)
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
