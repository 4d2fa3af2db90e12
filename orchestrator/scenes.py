"""Scenes: the stretches between scene cuts, each described from the events inside it."""

from __future__ import annotations

from collections import Counter

from .events import Event, fmt_time, plural
from .graph import EventGraph


def scene_segments(graph: EventGraph, video_id: str, duration_s: float) -> list[Event]:
    """Scenes between cuts (short ones merged), each with a description composed from its events."""
    events = graph.read_events(video_id)
    cuts = [e.t_start for e in events if e.kind == "scene_cut"]
    bounds = [0.0]
    for c in cuts:
        if c - bounds[-1] >= 2.0:  # a cut right after another one does not start a scene of its own
            bounds.append(c)
    bounds.append(duration_s)
    scenes = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        inside = [e for e in events if a <= e.t_start < b and e.kind not in ("scene_cut", "alert")]
        tracks: dict[str, set] = {}
        for e in inside:
            if e.kind == "object":
                tracks.setdefault(e.label, set()).add(e.track_id)
        bits = []
        if tracks:
            bits.append("shows " + ", ".join(plural(len(t), label) for label, t in sorted(tracks.items(), key=lambda kv: -len(kv[1]))[:4]))
        speech = [e for e in inside if e.kind == "speech"]
        if speech:
            first = " ".join(speech[0].text.split())[:80]
            bits.append(f'{len(speech)} spoken line{"s" if len(speech) > 1 else ""} starting "{first}"')
        sounds = Counter(e.label for e in inside if e.kind == "sound")
        if sounds:
            bits.append("sounds: " + ", ".join(label for label, _ in sounds.most_common(3)))
        text = f"Scene {i + 1} ({fmt_time(a)}-{fmt_time(b)}): " + ("; ".join(bits) if bits else "nothing detected")
        scenes.append(Event(f"scene-{i:04d}", "scene", f"scene {i + 1}", a, b, 1.0, text=text, attrs={"events": len(inside)}))
    return scenes
