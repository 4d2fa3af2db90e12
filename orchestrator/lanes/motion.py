"""Motion lane: scene cuts and motion spikes, read from the motion gate's decisions (no model).

A spike is a run of scanned frames whose change passes ``motion_spike``; a run still going at a window's end
carries over (``MotionState``) and closes in the next window or at the end of the video.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import Event
from ..sampling import FrameDecision
from .base import AssemblyContext, Lane, LaneOutput, VideoMedia


@dataclass
class MotionState:
    run: list | None = None  # [t_start, t_end, peak] of a motion spike still going on


class MotionLane(Lane):
    name = "motion"
    source = "video"

    def new_state(self, config) -> MotionState:
        return MotionState()

    def analyse(self, task, media: VideoMedia, models) -> list[FrameDecision]:
        return media.frames

    def assemble(self, frames: list[FrameDecision], ctx: AssemblyContext) -> LaneOutput:
        w, cfg, state = ctx.window, ctx.config.sampling, ctx.state
        events: list[Event] = []

        def flush() -> None:
            t0, t1, peak = state.run
            state.run = None
            events.append(
                Event(
                    f"motion-{w.index:05d}-{len(events):03d}",
                    "motion",
                    "motion spike",
                    t0,
                    max(t1, t0 + 1.0 / cfg.scan_fps),
                    round(min(1.0, peak / (2 * cfg.motion_spike)), 3),
                    window_index=w.index,
                    attrs={"peak": round(peak, 4)},
                )
            )

        for d in frames:
            if d.motion >= cfg.motion_spike:
                if state.run is None:
                    state.run = [d.t, d.t, d.motion]
                else:
                    state.run[1], state.run[2] = d.t, max(state.run[2], d.motion)
            elif state.run is not None:
                flush()
            if d.keep and d.reason == "scene_cut":
                events.append(
                    Event(
                        f"cut-{w.index:05d}-{len(events):03d}",
                        "scene_cut",
                        "scene cut",
                        d.t,
                        d.t,
                        min(1.0, d.scene_score),
                        window_index=w.index,
                        attrs={"scene_score": round(d.scene_score, 3)},
                    )
                )
        if state.run and ctx.is_last:
            flush()
        return LaneOutput(events=events)
