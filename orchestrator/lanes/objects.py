"""Objects lane: the detector (Triton) on the kept frames, then ByteTrack and re-identification on the driver.

Worker: ``models.detect`` on the window's kept frames, and each detection's colours read from its pixels
(``appearance.object_colours``: frames never leave the worker). Driver: the video's one tracker (carried across windows and
across a crash in ``ObjectsState``) turns detections into tracks; each track's part inside a window becomes an
``object`` event carrying the track's appearance (colours voted over its largest sightings, size, where in the
frame it stays, moving or stationary, direction: ``appearance.describe_track``), linked to the track's previous event (``same_track``) and, for a new track that starts where a
track of the same label was lost a little earlier, to that one (``same_entity``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..appearance import crop, describe_track, object_colours
from ..events import Event, Relation
from ..model_clients import FrameDetections, ModelError
from ..profiling import stage
from ..tracking import VideoTracker
from .base import AssemblyContext, Lane, LaneOutput, VideoMedia


Colours = list[tuple[str, float]]  # (plain colour name, share of the object's pixels), main colour first
MAX_COLOUR_VOTES = 12  # per track: the colours of its largest sightings


@dataclass
class ObjectsResult:
    times: list[float]  # the kept frames' times
    detections: list[FrameDetections]  # one per kept frame
    colours: list[list[Colours]] = field(default_factory=list)  # per kept frame, per detection: read where the pixels are


@dataclass
class ObjectsState:
    tracker: VideoTracker
    track_last_event: dict[int, str] = field(default_factory=dict)
    # tracks that ended recently: (label, last_t, (x, y) last centre, last event id), for re-identification
    ended_tracks: dict[int, tuple[str, float, tuple[float, float], str]] = field(default_factory=dict)
    # a live track's colour readings: (box area, colours) of its largest sightings
    colour_votes: dict[int, list[tuple[float, Colours]]] = field(default_factory=dict)

    def __setstate__(self, state: dict) -> None:  # checkpoints written before colours existed still load
        self.__dict__.update({"colour_votes": {}, **state})


def object_event_id(track_id: int, window_index: int) -> str:
    return f"obj-{track_id}-w{window_index:05d}"


class ObjectsLane(Lane):
    name = "objects"
    source = "video"
    models = ("detector",)

    def new_state(self, config) -> ObjectsState:
        return ObjectsState(VideoTracker(config.sampling.max_detect_fps, config.track_lost_s, config.min_track_frames))

    def analyse(self, task, media: VideoMedia, models) -> ObjectsResult:
        cfg = task.config
        kept = media.kept
        detections = models.detect(kept, batch=cfg.detector_batch, in_flight=cfg.detector_concurrency) if kept else []
        if len(detections) != len(kept):  # a model answer that does not fit: the analysis is run again
            raise ModelError(f"window {task.window.index}: the detector answered for {len(detections)} of {len(kept)} frames")
        with stage("colours"):
            colours = [[object_colours(crop(frame, tuple(box)), label) for box, label in zip(fd.boxes, fd.labels)] for frame, fd in zip(kept, detections)]
        return ObjectsResult([d.t for d in media.frames if d.keep], detections, colours)

    def assemble(self, result: ObjectsResult, ctx: AssemblyContext) -> LaneOutput:
        w, state = ctx.window, ctx.state
        if len(result.times) != len(result.detections):  # checked by the analysis; here it would be a bug, not a model fault
            raise RuntimeError(f"window {w.index}: {len(result.detections)} detector results for {len(result.times)} frames")
        out = LaneOutput()
        colours = result.colours or [[[] for _ in range(len(fd))] for fd in result.detections]
        for t, fd, frame_colours in zip(result.times, result.detections, colours):
            with stage("tracking"):
                tracked = state.tracker.update(t, w.index, fd)
            for td, named in zip(tracked, frame_colours):
                if td.track_id is not None and named:
                    votes = state.colour_votes.setdefault(td.track_id, [])
                    votes.append(((td.box[2] - td.box[0]) * (td.box[3] - td.box[1]), named))
                    votes.sort(key=lambda v: -v[0])
                    del votes[MAX_COLOUR_VOTES:]
                out.detections.append(
                    {
                        "t": round(t, 3),
                        "track_id": td.track_id,
                        "label": td.label,
                        "confidence": round(td.confidence, 4),
                        "x1": td.box[0],
                        "y1": td.box[1],
                        "x2": td.box[2],
                        "y2": td.box[3],
                    }
                )
        segments, touched = state.tracker.close_window()
        first_ids: set[int] = set()
        for seg in segments:
            eid = object_event_id(seg.track_id, seg.window_index)
            track = state.tracker.tracks.get(seg.track_id)
            looks = describe_track(
                [],
                [seg.best_box],
                track.path if track else [],
                (ctx.info.width, ctx.info.height),
                seg.label,
                colour_votes=[named for _, named in state.colour_votes.get(seg.track_id, [])],
            )
            out.events.append(
                Event(
                    eid,
                    "object",
                    seg.label,
                    seg.first_t,
                    seg.last_t,
                    round(seg.best_confidence, 4),
                    track_id=seg.track_id,
                    window_index=w.index,
                    attrs={
                        "n_frames": seg.n_frames,
                        "best_t": round(seg.best_t, 3),
                        "best_box": [round(v, 4) for v in seg.best_box],
                        "start_center": [round(v, 4) for v in seg.start_center],
                        "end_center": [round(v, 4) for v in seg.end_center],
                        **looks.to_attrs(),
                    },
                )
            )
            prev = state.track_last_event.get(seg.track_id)
            if prev:
                out.relations.append(Relation(prev, eid, "same_track"))
            else:
                first_ids.add(seg.track_id)
            state.track_last_event[seg.track_id] = eid
        out.relations += self._reidentify(state, segments, first_ids, ctx.config)
        state.track_last_event = {k: v for k, v in state.track_last_event.items() if k in state.tracker.tracks}
        state.colour_votes = {k: v for k, v in state.colour_votes.items() if k in state.tracker.tracks}
        out.tracks = [
            {
                "track_id": t.track_id,
                "label": t.label,
                "first_t": round(t.first_t, 3),
                "last_t": round(t.last_t, 3),
                "n_frames": t.n_frames,
                "best_t": round(t.best_t, 3),
                "best_confidence": round(t.best_confidence, 4),
                "best_box": list(t.best_box),
                "path": json.dumps(t.path_summary()),
            }
            for t in touched
        ]
        return out

    @staticmethod
    def _reidentify(state: ObjectsState, segments, first_ids: set[int], config) -> list[Relation]:
        """same_entity: a new track that starts where a track of the same label was lost a little earlier (an
        occlusion longer than the tracker's buffer, a scene cut) is linked to it, by label, time gap and position."""
        gap_s, max_dist = config.reid_gap_s, config.reid_distance
        alive = state.tracker.alive_ids()
        candidates = dict(state.ended_tracks)
        for seg in segments:
            if seg.track_id not in alive:
                candidates[seg.track_id] = (seg.label, seg.last_t, seg.end_center, object_event_id(seg.track_id, seg.window_index))
        rels: list[Relation] = []
        for seg in sorted(segments, key=lambda x: x.first_t):
            if seg.track_id not in first_ids:
                continue
            best = None
            for tid, (label, last_t, centre, event_id) in candidates.items():
                dt = seg.first_t - last_t
                dist = ((seg.start_center[0] - centre[0]) ** 2 + (seg.start_center[1] - centre[1]) ** 2) ** 0.5
                if tid != seg.track_id and label == seg.label and 0 < dt <= gap_s and dist <= max_dist and (best is None or dist < best[0]):
                    best = (dist, event_id)
            if best is not None:
                rels.append(Relation(best[1], object_event_id(seg.track_id, seg.window_index), "same_entity", round(1 - best[0], 3)))
        latest = max((s.last_t for s in segments), default=0.0)
        state.ended_tracks = {k: v for k, v in candidates.items() if latest - v[1] <= gap_s}
        return rels
