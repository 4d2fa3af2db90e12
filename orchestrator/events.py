"""The event model shared by every stage: timestamped events and the relations between them.

``Event`` and ``Relation`` are what the lanes produce, what ``EventGraph`` writes and what its read
methods return (``Event.from_row``), so retrieval, rules, templates and the UI all read one type.
Each kind's ``attrs`` are a plain JSON object in the graph; their keys are declared per kind below
(``ObjectAttrs``, ``SoundAttrs``, ...), ``ATTRS_BY_KIND`` names them.

    >>> e = Event.from_row({"id": "sound-00001-000", "kind": "sound", "label": "alarm", "t_start": 30.0, "t_end": 31.5,
    ...                     "confidence": 0.8, "text": None, "track_id": None, "window_idx": 1, "attrs": '{"pattern": "3 beeps"}'})
    >>> e.window_index, e.text, e.attrs["pattern"]
    (1, '', '3 beeps')
    >>> Relation.from_row({"src": "a", "dst": "b", "kind": "precedes", "weight": 0.5})
    Relation(src='a', dst='b', kind='precedes', weight=0.5)
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TypedDict

EVENT_KINDS = ("object", "speech", "sound", "scene_cut", "motion", "alert", "scene", "text")
RELATION_KINDS = ("same_track", "co_occurs", "precedes", "triggered_by", "same_entity")


# -- per-kind attributes (stored as JSON in ``events.attrs``; every key optional, so older graphs still read) --------
class ObjectAttrs(TypedDict, total=False):
    """A track's segment in one window (objects lane): its best sighting, where it went, how it looks."""

    n_frames: int
    best_t: float  # when the best (most confident) detection was
    best_box: list[float]  # that detection's box, normalised x1, y1, x2, y2
    start_center: list[float]  # box centre (normalised x, y) at the segment's first and last sighting: the track's path
    end_center: list[float]
    appearance_colours: list[str]  # ``appearance.TrackAppearance`` as stored
    appearance_colour_shares: list[float]
    appearance_size: str
    appearance_region: str
    appearance_motion: str
    appearance_direction: str | None


class SpeechAttrs(TypedDict, total=False):
    words: list[list]  # [t_start, t_end, word] per word, seconds from the video's start
    no_speech_prob: float
    avg_logprob: float
    language: str
    # who spoke (where Triton serves speaker_embedder): "speaker 1", "speaker 2", ... in order of first appearance in
    # the video, the same label for the same voice throughout; and the cosine similarity of this utterance's voice to
    # that speaker's voice so far (1.0 for the utterance that introduced them)
    speaker: str
    speaker_similarity: float
    # the voice's median fundamental frequency over the utterance (librosa YIN) and its register: 'low' (<= 150 Hz),
    # 'high' (>= 170 Hz), absent in between or where too little voiced audio was heard
    pitch_hz: float
    voice: str


class SoundAttrs(TypedDict, total=False):
    """A sound (sounds lane): what the signal and the tagger said about it."""

    pattern: str  # how it goes, in words: '3 rings', '6 beeps, 1.0 s apart'
    n_bursts: int
    shape: str  # steady tone, trill, sweep, held notes, chord, struck/decaying, impulsive, harmonic, ...
    frequency_hz: float
    burst_s: float
    level_db: float
    sources: list[str]  # 'signal', 'tagger'
    tagger_labels: list[str]
    signal_label: str  # the signal's own name when the tagger's won
    signal_pattern: str  # the signal's own pattern ("2 rings") when the tagger's name renamed it ("2 blasts")
    continues: bool  # the part of a sound that runs on from an earlier window
    parts: int  # bursts the signal found inside a sound the tagger heard as one (the notes of a piece of music)


class TextAttrs(TypedDict, total=False):
    box: list[float]  # where the text is: normalised x1, y1, x2, y2
    confidence_words: list[list]  # [word, confidence]
    frames: int  # frames it was read in
    letter_colour: str  # the colour of the strokes ("white") ...
    board_colour: str  # ... and of what they are written on ("red")
    colours: list[str]  # [board, letters], as a sign is named ("a red sign with white letters")


class MotionAttrs(TypedDict, total=False):
    peak: float


class SceneCutAttrs(TypedDict, total=False):
    scene_score: float


class SceneAttrs(TypedDict, total=False):
    events: int  # events inside the scene


class AlertAttrs(TypedDict, total=False):
    """An alert's rule and evidence; the rule's measured values (count, dwell_s, ...) sit beside these."""

    rule: str
    severity: str
    condition: str
    evidence: list[str]  # event ids, the anchor last


ATTRS_BY_KIND: dict[str, type] = {
    "object": ObjectAttrs,
    "speech": SpeechAttrs,
    "sound": SoundAttrs,
    "text": TextAttrs,
    "motion": MotionAttrs,
    "scene_cut": SceneCutAttrs,
    "scene": SceneAttrs,
    "alert": AlertAttrs,
}


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

    @classmethod
    def from_row(cls, row: Mapping) -> Event:
        """An event as the graph stores it (a row of ``events``: ``window_idx``, ``attrs`` as JSON text or parsed)."""
        attrs = row.get("attrs")
        if isinstance(attrs, str):
            attrs = json.loads(attrs) if attrs else {}
        track = row.get("track_id")
        return cls(
            id=row["id"],
            kind=row["kind"],
            label=row["label"],
            t_start=row["t_start"],
            t_end=row["t_end"],
            confidence=float(row["confidence"]) if row.get("confidence") is not None else 1.0,
            text=row.get("text") or "",
            track_id=int(track) if track is not None else None,
            window_index=int(row.get("window_idx") or 0),
            attrs=dict(attrs or {}),
        )

    def to_row(self) -> dict:
        """The event as a row of ``events`` (without ``video_id``; ``attrs`` as JSON text), the inverse of ``from_row``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "t_start": self.t_start,
            "t_end": self.t_end,
            "confidence": self.confidence,
            "text": self.text,
            "track_id": self.track_id,
            "window_idx": self.window_index,
            "attrs": json.dumps(self.attrs),
        }


@dataclass(frozen=True)
class Relation:
    src: str
    dst: str
    kind: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in RELATION_KINDS:
            raise ValueError(f"unknown relation kind {self.kind!r}")

    @classmethod
    def from_row(cls, row: Mapping) -> Relation:
        """A relation as the graph stores it (a row of ``relations``)."""
        return cls(row["src"], row["dst"], row["kind"], float(row["weight"]) if row.get("weight") is not None else 1.0)

    def to_row(self) -> dict:
        return {"src": self.src, "dst": self.dst, "kind": self.kind, "weight": self.weight}


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
