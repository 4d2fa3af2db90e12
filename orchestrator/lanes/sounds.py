"""Sounds lane: the sound tagger (Triton) and what the signal itself shows, as sound events."""

from __future__ import annotations

from ..audio import signal_events
from ..events import Event
from .base import AssemblyContext, AudioMedia, Lane, LaneOutput


class SoundsLane(Lane):
    name = "sounds"
    source = "audio"
    models = ("sound_tagger",)

    def analyse(self, task, media: AudioMedia, models) -> list[Event]:
        acfg, w = task.config.audio, task.window
        window_pcm = media.window_pcm
        events: list[Event] = []
        tags = models.tag_sounds(window_pcm)
        # the tagger's chunks merged over consecutive chunks, plus what the signal itself shows
        merged: dict[str, list] = {}
        for tag in sorted(tags, key=lambda x: x.t_start):
            run = merged.get(tag.label)
            if run and tag.t_start - run[-1][1] <= 0.01:
                run[-1][1], run[-1][2] = tag.t_end, max(run[-1][2], tag.confidence)
            else:
                merged.setdefault(tag.label, []).append([tag.t_start, tag.t_end, tag.confidence])
        for label, runs in sorted(merged.items()):
            for t0, t1, conf in runs:
                events.append(Event(f"sound-{w.index:05d}-{len(events):03d}", "sound", label, w.t_start + t0, w.t_start + t1, conf,
                                    window_index=w.index, attrs={"source": "tagger"}))
        for sig in signal_events(window_pcm, acfg, offset_s=w.t_start):
            events.append(Event(f"sound-{w.index:05d}-{len(events):03d}", "sound", sig.label, sig.t_start, sig.t_end, sig.confidence,
                                window_index=w.index, attrs={"source": "signal", **sig.attrs}))
        return events

    def assemble(self, events: list[Event], ctx: AssemblyContext) -> LaneOutput:
        return LaneOutput(events=events)
