"""The event model shared by every stage: timestamped events and the relations between them."""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field

EVENT_KINDS = ("object", "speech", "sound", "scene_cut", "motion", "alert", "scene", "text")
RELATION_KINDS = ("same_track", "co_occurs", "precedes", "triggered_by", "same_entity")


@dataclass
class Event:
    """One thing that happened, with times in seconds from the start of the video."""

    id: str  # unique within the video, deterministic (re-running a window gives the same ids)
    kind: str
    label: str
    t_start: float
    t_end: float
    confidence: float = 1.0
    text: str = ""
    track_id: int | None = None
    window_index: int = 0
    attrs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")
        if self.t_end < self.t_start:
            self.t_end = self.t_start
        self.t_start, self.t_end = round(float(self.t_start), 3), round(float(self.t_end), 3)

    def describe(self) -> str:
        """A sentence for embedding and retrieval."""
        span = f"from {fmt_time(self.t_start)} to {fmt_time(self.t_end)}"
        if self.kind == "speech":
            return f'speech {span}: "{self.text}"'
        if self.kind == "object":
            looks = " and ".join(self.attrs.get("appearance_colours") or [])
            moving = self.attrs.get("appearance_motion")
            how = f", {moving}{' ' + self.attrs['appearance_direction'] if self.attrs.get('appearance_direction') else ''}" if moving else ""
            return f"{looks + ' ' if looks else ''}{self.label} visible {span}{how}"
        if self.kind == "sound":
            return f"sound of {self.label} {span}"
        if self.kind == "scene_cut":
            return f"scene cut at {fmt_time(self.t_start)}"
        if self.kind == "motion":
            return f"sudden motion {span}"
        if self.kind == "scene":
            return self.text
        if self.kind == "text":
            return f'text "{self.text or self.label}" on screen {span}'
        if self.kind == "alert":
            return f"alert {self.label} at {fmt_time(self.t_start)}: {self.text}"
        return f"{self.kind} {self.label} {span}: {self.text}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Relation:
    src: str
    dst: str
    kind: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in RELATION_KINDS:
            raise ValueError(f"unknown relation kind {self.kind!r}")


IRREGULAR_PLURALS = {"person": "people", "bus": "buses", "knife": "knives", "mouse": "mice", "sheep": "sheep", "skis": "skis", "glass": "glasses"}


def plural(n: int, word: str) -> str:
    """'1 person', '2 people', '3 cars'."""
    if n == 1:
        return f"1 {word}"
    last = word.split()[-1]
    if last in IRREGULAR_PLURALS:
        return f"{n} {word[: len(word) - len(last)]}{IRREGULAR_PLURALS[last]}"
    return f"{n} {word}{'es' if word.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


def quote(text: str, limit: int) -> str:
    """Speech as a one-line quotation, inner double quotes softened, cut at ``limit`` characters."""
    text = " ".join(text.split()).replace('"', "'")
    return f'"{text[:limit]}{"…" if len(text) > limit else ""}"'


def fmt_time(t: float) -> str:
    """[mm:ss] style time, with hours when needed: 83.2 → '01:23', 3723 → '01:02:03'."""
    t = max(0, int(t))
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def build_relations(events: list[Event], precedes_gap_s: float, previous: Event | None = None) -> list[Relation]:
    """Relations within one window's events (and from the previous window's last event).

    - co_occurs: events of different kinds whose times overlap (speech while a person is visible).
    - precedes: each event to the first one that starts after it ends, within ``precedes_gap_s``.
    (same_track relations are made by the pipeline from the tracker's ids.)
    """
    rels: list[Relation] = []
    ordered = sorted(events, key=lambda e: (e.t_start, e.id))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.t_start > a.t_end:
                break
            if a.kind != b.kind and min(a.t_end, b.t_end) >= max(a.t_start, b.t_start):
                overlap = min(a.t_end, b.t_end) - max(a.t_start, b.t_start)
                rels.append(Relation(a.id, b.id, "co_occurs", round(overlap, 3)))
    # precedes: each event to the first event that starts after it ends, if within the gap
    chain = ([previous] if previous else []) + ordered
    starts = [e.t_start for e in chain]
    for a in chain:
        j = bisect.bisect_left(starts, a.t_end)
        while j < len(chain) and chain[j] is a:
            j += 1
        if j < len(chain) and chain[j].t_start - a.t_end <= precedes_gap_s:
            b = chain[j]
            rels.append(Relation(a.id, b.id, "precedes", round(b.t_start - a.t_end, 3)))
    return rels
