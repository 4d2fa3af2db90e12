"""What the page says about a video before anyone asks: the questions worth asking first, drawn from what
its graph holds, and the "what the product knows" summary (people, vehicles, speech, sounds, alerts, text),
each item a filter of the events table.

    >>> from orchestrator.events import Event
    >>> events = [Event("o1", "object", "car", 3.0, 9.0, 0.8, track_id=1), Event("s1", "speech", "speech", 1.0, 4.0, text="hello there"),
    ...           Event("n1", "sound", "alarm", 12.0, 14.0, 0.7)]
    >>> suggested_questions(events)
    ['What is said at the start?', 'When does the first car appear?', 'Does an alarm go off?']
    >>> [(f.key, f.text) for f in knowledge(events)]
    [('vehicles', '1 vehicle (car)'), ('speech', '3 s of speech'), ('sounds', '1 sound (alarm)')]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from orchestrator.events import Event, plural
from orchestrator.planner import VEHICLES

VEHICLE_LABELS = (*VEHICLES, "bicycle", "train", "boat", "airplane")
ALARMS = {"alarm", "siren", "smoke alarm", "fire alarm", "buzzer"}  # what "goes off"; a beeping is "heard"
MAX_SUGGESTIONS = 4


@dataclass(frozen=True)
class Fact:
    """One item of the summary: what it says and the events-table filter it opens."""

    key: str  # people | vehicles | speech | sounds | alerts | text
    text: str
    kind: str  # the table's Kind filter
    label: str = ""  # the table's Label filter ("a, b" matches either)


def _tracks(events: list[Event]) -> int:
    """Distinct things seen: one per track (an event without a track counts once)."""
    return len({e.track_id if e.track_id is not None else e.id for e in events})


def _names(counter: Counter, limit: int = 3) -> str:
    names = [n for n, _ in counter.most_common(limit)]
    more = len(counter) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _spoken(seconds: float) -> str:
    return f"{seconds / 60:.1f} min of speech" if seconds >= 90 else f"{max(1, round(seconds))} s of speech"


def knowledge(events: list[Event]) -> list[Fact]:
    """The summary, in a fixed order; an item only where the graph has such events."""
    facts: list[Fact] = []
    objects = [e for e in events if e.kind == "object"]
    people = [e for e in objects if e.label == "person"]
    if people:
        facts.append(Fact("people", plural(_tracks(people), "person"), "object", "person"))
    vehicles = [e for e in objects if e.label in VEHICLE_LABELS]
    if vehicles:
        by_label = Counter({label: _tracks([e for e in vehicles if e.label == label]) for label in {e.label for e in vehicles}})
        present = [label for label in VEHICLE_LABELS if label in by_label]
        facts.append(Fact("vehicles", f"{plural(_tracks(vehicles), 'vehicle')} ({_names(by_label)})", "object", ", ".join(present)))
    speech = [e for e in events if e.kind == "speech"]
    if speech:
        facts.append(Fact("speech", _spoken(sum(e.t_end - e.t_start for e in speech)), "speech"))
    sounds = [e for e in events if e.kind == "sound"]
    if sounds:
        facts.append(Fact("sounds", f"{plural(len(sounds), 'sound')} ({_names(Counter(e.label for e in sounds))})", "sound"))
    alerts = [e for e in events if e.kind == "alert"]
    if alerts:
        facts.append(Fact("alerts", plural(len(alerts), "alert"), "alert"))
    texts = [e for e in events if e.kind == "text"]
    if texts:
        facts.append(Fact("text", f"{plural(len(texts), 'text')} on screen", "text"))
    return facts


FACT_KEYS = ("people", "vehicles", "speech", "sounds", "alerts", "text")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def suggested_questions(events: list[Event]) -> list[str]:
    """A few questions this video's graph can answer, each about something it holds: what is said, the most
    seen thing, a sound, the alerts, how many people, the text on screen (at most four, in that order)."""
    out: list[str] = []
    if any(e.kind == "speech" for e in events):
        out.append("What is said at the start?")
    objects = Counter(e.label for e in events if e.kind == "object")
    vehicles = [label for label, _ in objects.most_common() if label in VEHICLE_LABELS]
    others = [label for label, _ in objects.most_common() if label != "person"]
    first = vehicles[0] if vehicles else others[0] if others else "person" if objects else None
    if first:
        out.append(f"When does the first {first} appear?")
    sounds = Counter(e.label for e in events if e.kind == "sound")
    if sounds:
        alarm = next((s for s, _ in sounds.most_common() if s in ALARMS), None)
        if alarm:
            out.append(f"Does {_article(alarm)} {alarm} go off?")
        else:
            out.append(f"When is the {sounds.most_common(1)[0][0]} heard?")
    if any(e.kind == "alert" for e in events):
        out.append("Were there any alerts?")
    if objects.get("person") and first != "person":
        out.append("How many people appear?")
    if any(e.kind == "text" for e in events):
        out.append("What text is shown on screen?")
    if not out and events:
        out.append("What happens in this video?")
    return out[:MAX_SUGGESTIONS]
