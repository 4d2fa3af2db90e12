"""Rules: configurable, domain-agnostic alerts over the event graph, written in YAML.

    rules:
      - id: crowding
        severity: high                       # info | low | medium | high | critical
        when:
          count: {object: person, min: 3, within_s: 10}
        message: "{count} people within 10 s"

Conditions (exactly one per rule, under ``when``):

- ``presence: {object|sound: LABEL, min_confidence, zone}``   a new track or sound of that label
- ``absence: {object|sound: LABEL, for_s}``                    nothing of that label for ``for_s`` seconds
- ``count: {object: LABEL, min, within_s, cooldown_s}``         at least ``min`` distinct tracks within ``within_s``
- ``dwell: {object: LABEL, zone: [[x, y], ...], min_s}``        a track inside a polygon (0..1 frame coords) for ``min_s``
- ``speed: {object: LABEL, min_speed, direction}``              a track moving faster than ``min_speed`` frame widths/s
                                                              (``direction``: left, right, up, down)
- ``speech: {phrase: TEXT}``                                    a spoken word or phrase (case-insensitive, whole words)
- ``sequence: {first: MATCH, then: MATCH, within_s}``           MATCH then MATCH within ``within_s`` seconds
- ``co_occurrence: {all: [MATCH, MATCH, ...]}``                  all at the same time

A MATCH is ``{object: LABEL}``, ``{sound: LABEL}``, ``{phrase: TEXT}`` or ``{kind: scene_cut|motion|speech}``.
Messages may use ``{rule}``, ``{time}``, ``{label}``, ``{count}``, ``{speed}``, ``{duration}``, ``{text}``.

Every alert is anchored on the event that completes its condition, so evaluating window by window
during ingest gives exactly the alerts of one pass over the finished video, and re-running is
idempotent. Alerts are events of kind ``alert`` with ``triggered_by`` relations to their evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .events import Event, Relation, fmt_time
from .sound_vocabulary import accepted_names

Severity = Literal["info", "low", "medium", "high", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Match(_Strict):
    object: str | None = None
    sound: str | None = None
    phrase: str | None = None
    kind: Literal["scene_cut", "motion", "speech", "object", "sound"] | None = None

    @model_validator(mode="after")
    def one_key(self):
        if sum(v is not None for v in (self.object, self.sound, self.phrase, self.kind)) != 1:
            raise ValueError("give exactly one of object, sound, phrase, kind")
        return self


def _zone_ok(zone):
    if zone is None:
        return zone
    if len(zone) < 3 or any(len(p) != 2 or not (0 <= p[0] <= 1 and 0 <= p[1] <= 1) for p in zone):
        raise ValueError("a zone is a polygon of at least 3 [x, y] points with coordinates between 0 and 1")
    return zone


class Presence(_Strict):
    object: str | None = None
    sound: str | None = None
    min_confidence: float = Field(0.0, ge=0, le=1)
    zone: list[list[float]] | None = None
    _z = field_validator("zone")(classmethod(lambda cls, v: _zone_ok(v)))

    @model_validator(mode="after")
    def one_label(self):
        if (self.object is None) == (self.sound is None):
            raise ValueError("give exactly one of object, sound")
        return self


class Absence(_Strict):
    object: str | None = None
    sound: str | None = None
    for_s: float = Field(gt=0)

    @model_validator(mode="after")
    def one_label(self):
        if (self.object is None) == (self.sound is None):
            raise ValueError("give exactly one of object, sound")
        return self


class Count(_Strict):
    object: str
    min: int = Field(ge=1)
    within_s: float = Field(gt=0)
    cooldown_s: float | None = Field(None, ge=0)


class Dwell(_Strict):
    object: str
    zone: list[list[float]]
    min_s: float = Field(gt=0)
    _z = field_validator("zone")(classmethod(lambda cls, v: _zone_ok(v)))


class Speed(_Strict):
    object: str
    min_speed: float = Field(gt=0)
    direction: Literal["left", "right", "up", "down"] | None = None


class Speech(_Strict):
    phrase: str = Field(min_length=1)


class Sequence(_Strict):
    first: Match
    then: Match
    within_s: float = Field(gt=0)


class CoOccurrence(_Strict):
    all: list[Match] = Field(min_length=2)


class When(_Strict):
    presence: Presence | None = None
    absence: Absence | None = None
    count: Count | None = None
    dwell: Dwell | None = None
    speed: Speed | None = None
    speech: Speech | None = None
    sequence: Sequence | None = None
    co_occurrence: CoOccurrence | None = None

    @model_validator(mode="after")
    def exactly_one(self):
        given = [k for k, v in self.__dict__.items() if v is not None]
        if len(given) != 1:
            raise ValueError(f"a rule has exactly one condition; got {', '.join(given) or 'none'}")
        return self

    @property
    def name(self) -> str:
        return next(k for k, v in self.__dict__.items() if v is not None)

    @property
    def condition(self):
        return getattr(self, self.name)


class Rule(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    description: str = ""
    severity: Severity = "medium"
    when: When
    message: str = "{rule} at {time}"


class RuleSet(_Strict):
    rules: list[Rule]

    @model_validator(mode="after")
    def unique_ids(self):
        seen = set()
        for r in self.rules:
            if r.id in seen:
                raise ValueError(f"rule id {r.id!r} is used twice")
            seen.add(r.id)
        return self


class RulesError(ValueError):
    """A rule file is invalid; the message names the file and line."""


def _line_of(node, path: tuple) -> int | None:
    """The 1-based line of the YAML node at ``path`` (keys and list indexes), as deep as it exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == key), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]  # the key's line: where the user wrote it
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def load_rules(path: str | Path) -> list[Rule]:
    """Parse and validate a rule file; raise RulesError with 'FILE:LINE: what is wrong'."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise RulesError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise RulesError(f"{path}:1: expected a mapping with a 'rules:' list")
    try:
        return RuleSet.model_validate(data).rules
    except ValidationError as exc:
        lines = []
        for err in exc.errors()[:5]:
            loc = tuple(err["loc"])
            line = _line_of(node, loc) or 1
            rule = ""
            if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(data.get("rules"), list) and loc[1] < len(data["rules"]):
                rid = data["rules"][loc[1]].get("id") if isinstance(data["rules"][loc[1]], dict) else None
                rule = f"rule {rid!r}: " if rid else f"rule #{loc[1] + 1}: "
            field_path = ".".join(str(x) for x in loc[2:]) or ".".join(str(x) for x in loc)
            lines.append(f"{path}:{line}: {rule}{field_path}: {err['msg']}")
        raise RulesError("\n".join(lines)) from None


def load_rule_dir(folder: Path) -> list[Rule]:
    rules: list[Rule] = []
    for f in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        rules += load_rules(f)
    return rules


# ---------------------------------------------------------------------------------------------
# evaluation


def _phrase_re(phrase: str) -> re.Pattern:
    return re.compile(r"\b" + r"\s+".join(re.escape(w) for w in phrase.lower().split()) + r"\b")


def matches(m: Match | Presence | Absence, e: Event) -> bool:
    if getattr(m, "object", None) is not None:
        return e.kind == "object" and e.label == m.object
    if getattr(m, "sound", None) is not None:
        return e.kind == "sound" and (e.label == m.sound or m.sound in accepted_names(e.label))  # "alarm" matches beeping
    if getattr(m, "phrase", None) is not None:
        return e.kind == "speech" and bool(_phrase_re(m.phrase).search(e.text.lower()))
    if getattr(m, "kind", None) is not None:
        return e.kind == m.kind
    return False


def point_in_polygon(x: float, y: float, poly: list[list[float]]) -> bool:
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi + 1e-12) + xi:
            inside = not inside
        j = i
    return inside


class _SafeDict(dict):
    def __missing__(self, key):
        return "{" + key + "}"


@dataclass
class Firing:
    rule: Rule
    t: float
    t_end: float
    anchor: Event
    evidence: list[Event]
    values: dict


class RulesEngine:
    """Evaluates rules over events. ``history`` are earlier events (and alerts), ``new`` the events being added."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules

    def horizon_s(self) -> float:
        h = 0.0
        for r in self.rules:
            c = r.when.condition
            h = max(h, getattr(c, "within_s", 0.0) or 0.0, getattr(c, "for_s", 0.0) or 0.0, getattr(c, "cooldown_s", 0.0) or 0.0)
        return h + 30.0

    def evaluate(
        self, history: list[Event], new: list[Event], detections: list[dict], video_end: float | None, window_end: float, window_index: int
    ) -> tuple[list[Event], list[Relation]]:
        hist = list(history)
        fresh = [e for e in new if e.kind != "alert"]
        prior_alerts = [e for e in hist if e.kind == "alert"]
        events = sorted([e for e in hist if e.kind != "alert"] + fresh, key=lambda e: (e.t_start, e.id))
        fresh_ids = {e.id for e in fresh}
        alerts: list[Event] = []
        relations: list[Relation] = []
        for rule in self.rules:
            fired_at = [a.t_start for a in prior_alerts if a.attrs.get("rule") == rule.id]
            for f in self._fire(rule, events, fresh_ids, detections, video_end, window_end, fired_at):
                values = {"rule": rule.id, "time": fmt_time(f.t), "label": f.anchor.label, "text": f.anchor.text, **f.values}
                aid = f"alert-{rule.id}-{f.anchor.id}" if f.anchor.id else f"alert-{rule.id}-{f.t:.2f}"
                message = rule.message.format_map(_SafeDict(values))
                alerts.append(
                    Event(
                        aid,
                        "alert",
                        rule.id,
                        f.t,
                        f.t_end,
                        1.0,
                        text=message,
                        window_index=window_index,
                        attrs={
                            "rule": rule.id,
                            "severity": rule.severity,
                            "condition": rule.when.name,
                            "evidence": [e.id for e in f.evidence],
                            **{k: v for k, v in f.values.items()},
                        },
                    )
                )
                relations += [Relation(aid, e.id, "triggered_by") for e in f.evidence if e.id]
        return alerts, relations

    def _fire(
        self, rule: Rule, events: list[Event], fresh: set[str], detections: list[dict], video_end: float | None, window_end: float, fired_at: list[float]
    ):
        c, kind = rule.when.condition, rule.when.name
        if kind == "presence":
            seen_tracks = {e.track_id for e in events if e.id not in fresh and e.track_id is not None}
            for e in events:
                if e.id in fresh and matches(c, e) and e.confidence >= c.min_confidence:
                    if e.kind == "object" and e.track_id in seen_tracks:
                        continue  # one alert per track, at its first appearance
                    if c.zone and not self._in_zone(e, c.zone):
                        continue
                    seen_tracks.add(e.track_id)
                    yield Firing(rule, e.t_start, e.t_end, e, [e], {})
        elif kind == "absence":
            # gaps between occurrences (from the video start); the last gap ends where the events known so far end
            occ = [e for e in events if matches(c, e)]
            starts = [0.0] + [e.t_end for e in occ]
            ends = [e.t_start for e in occ] + [video_end if video_end is not None else window_end]
            for i, (gap_start, gap_end) in enumerate(zip(starts, ends)):
                t = round(gap_start + c.for_s, 3)
                if t <= gap_end and not any(abs(x - t) < 1e-3 for x in fired_at):
                    fired_at.append(t)
                    anchor = Event("", "alert", c.object or c.sound or "", t, t, 1.0)
                    yield Firing(rule, t, t, anchor, [occ[i - 1]] if i else [], {"duration": f"{c.for_s:.0f} s"})
        elif kind == "count":
            cooldown = c.within_s if c.cooldown_s is None else c.cooldown_s
            tracks = [e for e in events if matches(Match(object=c.object), e)]
            first_seg: dict[int, Event] = {}
            for e in tracks:
                first_seg.setdefault(e.track_id if e.track_id is not None else hash(e.id), e)
            for e in sorted(tracks, key=lambda x: (x.t_start, x.id)):
                if e.id not in fresh:
                    continue
                lo = e.t_start - c.within_s
                present = {x.track_id for x in tracks if x.t_end >= lo and x.t_start <= e.t_start}
                if len(present) >= c.min and not any(e.t_start - t < cooldown for t in fired_at if t <= e.t_start):
                    fired_at.append(e.t_start)
                    ev = [x for x in tracks if x.track_id in present and x.t_end >= lo and x.t_start <= e.t_start]
                    yield Firing(rule, e.t_start, e.t_end, e, ev, {"count": len(present)})
        elif kind == "dwell":
            by_track: dict[int, list[dict]] = {}
            for d in detections:
                if d.get("track_id") is not None and d["label"] == c.object:
                    by_track.setdefault(d["track_id"], []).append(d)
            for e in events:
                if e.id not in fresh or not matches(Match(object=c.object), e) or e.track_id is None:
                    continue
                # time inside the zone (box bottom-centre, i.e. where the object stands), summed over the track so far
                total, prev, reached = 0.0, None, None
                for d in sorted(by_track.get(e.track_id, []), key=lambda d: d["t"]):
                    ok = point_in_polygon((d["x1"] + d["x2"]) / 2, d["y2"], c.zone)
                    if ok and prev is not None and prev[1]:
                        total += d["t"] - prev[0]
                    if total >= c.min_s and reached is None:
                        reached = d["t"]
                    prev = (d["t"], ok)
                if reached is not None and e.t_start - 1e-6 <= reached <= e.t_end + 1e-6:
                    yield Firing(rule, reached, reached, e, [e], {"duration": f"{total:.0f} s"})
        elif kind == "speed":
            done_tracks: set = set()
            for e in events:
                if not matches(Match(object=c.object), e) or e.track_id is None:
                    continue
                dt = e.t_end - e.t_start
                a, b = e.attrs.get("start_center"), e.attrs.get("end_center")
                if not a or not b or dt < 0.5:
                    continue
                dx, dy = b[0] - a[0], b[1] - a[1]
                speed = (dx * dx + dy * dy) ** 0.5 / dt
                direction = {"left": -dx, "right": dx, "up": -dy, "down": dy}.get(c.direction or "", 1.0)
                if speed >= c.min_speed and direction > 0 and e.track_id not in done_tracks:
                    done_tracks.add(e.track_id)
                    if e.id in fresh:
                        yield Firing(rule, e.t_start, e.t_end, e, [e], {"speed": f"{speed:.2f}"})
        elif kind == "speech":
            for e in events:
                if e.id in fresh and matches(Match(phrase=c.phrase), e):
                    yield Firing(rule, e.t_start, e.t_end, e, [e], {})
        elif kind == "sequence":
            firsts = [e for e in events if matches(c.first, e)]
            for b in events:
                if b.id in fresh and matches(c.then, b):
                    a = next((a for a in reversed(firsts) if a.t_end <= b.t_start + 1e-6 and b.t_start - a.t_end <= c.within_s and a.id != b.id), None)
                    if a is not None:
                        yield Firing(rule, b.t_start, b.t_end, b, [a, b], {"duration": f"{b.t_start - a.t_end:.0f} s"})
        elif kind == "co_occurrence":
            # anchored on the last of the group to start, so each overlap fires once
            for e in events:
                if e.id not in fresh or not any(matches(m, e) for m in c.all):
                    continue
                group, used = [e], {e.id}
                for m in c.all:
                    if any(matches(m, g) for g in group):
                        continue
                    other = next(
                        (x for x in events if x.id not in used and matches(m, x) and (x.t_start, x.id) < (e.t_start, e.id) and x.t_end >= e.t_start), None
                    )
                    if other is None:
                        group = []
                        break
                    group.append(other)
                    used.add(other.id)
                if group:
                    yield Firing(rule, e.t_start, min(g.t_end for g in group), e, group, {})

    @staticmethod
    def _in_zone(e: Event, zone) -> bool:
        box = e.attrs.get("best_box")
        if not box:
            return False
        return point_in_polygon((box[0] + box[2]) / 2, box[3], zone)
