"""One clock for the library: when each video's recording started, and wall-clock times in questions.

A video's ``recorded_at`` (UTC, naive) comes from its container's ``creation_time`` tag, else from a camera-style
file name (``cam2_2026-11-30_14-00-00.mp4``, ``20261130_140000.mp4``, ``VID_20261130_140000.mp4``), else it is
unknown; ``--recorded-at`` gives it. A question's wall-clock time ("at 14:05 yesterday", "at 2:05 pm on 30
November", "between 14:00 and 14:10") is found by ``find_wall_time`` (the phrases located here, their dates and
times read by ``dateparser`` against a ``now`` passed in) and mapped by ``cover`` to the recordings that hold it
and the offset inside each. Times are UTC throughout: a file name's time is taken as written.

    >>> name_recorded_at("cam2_2026-11-30_14-00-00.mp4")
    datetime.datetime(2026, 11, 30, 14, 0)
    >>> w = find_wall_time("what happened at 14:05 yesterday?", datetime(2026, 12, 1, 9, 0))
    >>> (w.day, w.start, w.point, w.explicit)
    (datetime.date(2026, 11, 30), datetime.time(14, 5), True, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path


class ClockError(LookupError):
    """A recording time given in a form that cannot be read; said in one line."""


# ---------------------------------------------------------------------------------------------
# when a recording started


# a date and a time of day in a file name: 2026-11-30_14-00-00, 20261130_140000, 2026-11-30T14:00:00, 20261130140000123
_NAME_RX = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<s1>[-_.]?)(?P<mo>\d\d)(?P=s1)(?P<d>\d\d)(?:[T_\- ]| at )?"
    r"(?P<h>\d\d)(?P<s2>[-_.:h]?)(?P<mi>\d\d)(?:(?P=s2)|m)?(?P<se>\d\d)?(?:\d{1,3})?(?!\d)"
)
_EPOCHS = (1904, 1970)  # a zero creation_time (QuickTime's or Unix's epoch) says "never set", not a date


def name_recorded_at(name: str) -> datetime | None:
    """The recording start a camera-style file name spells, or None.

    >>> name_recorded_at("VID_20261130_140000.mp4"), name_recorded_at("20261130_140005.mp4")
    (datetime.datetime(2026, 11, 30, 14, 0), datetime.datetime(2026, 11, 30, 14, 0, 5))
    >>> name_recorded_at("cam2.mp4"), name_recorded_at("report_2026-11-30.mp4"), name_recorded_at("20261399_250000.mp4")
    (None, None, None)
    """
    for m in _NAME_RX.finditer(Path(name).stem):
        try:
            return datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["se"] or 0))
        except ValueError:
            continue  # 2026-13-99: digits, not a date
    return None


def _utc(dt: datetime) -> datetime:
    """A datetime as naive UTC (an aware one converted; a naive one taken as UTC)."""
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt


def parse_recorded_at(text: str) -> datetime:
    """``--recorded-at``: an ISO 8601 date and time ('2026-11-30T14:00:00Z', '2026-11-30 15:00+01:00'), as naive UTC."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ClockError(f"--recorded-at takes an ISO date and time like 2026-11-30T14:00:00Z; got {text!r}") from None
    if len(text.strip()) <= 10:
        raise ClockError(f"--recorded-at needs the time of day too, e.g. {text.strip()}T14:00:00Z; got {text!r}")
    return _utc(dt)


def metadata_recorded_at(path: str | Path) -> datetime | None:
    """The container's (else a stream's) ``creation_time`` tag as naive UTC; None when absent, zero or unreadable."""
    import av  # noqa: PLC0415

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            tags = [container.metadata] + [s.metadata for s in container.streams]
    except (av.FFmpegError, OSError, ValueError):
        return None
    for meta in tags:
        value = (meta or {}).get("creation_time")
        if not value:
            continue
        try:
            dt = _utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            continue
        if dt.year not in _EPOCHS:
            return dt
    return None


def recording_start(path: str | Path, name: str | None = None) -> tuple[datetime | None, str | None]:
    """(recorded_at, where it came from: 'metadata' | 'name') for a media file, or (None, None)."""
    dt = metadata_recorded_at(path)
    if dt is not None:
        return dt, "metadata"
    dt = name_recorded_at(name or Path(path).name)
    return (dt, "name") if dt is not None else (None, None)


def wall_label(dt: datetime) -> str:
    """How a citation says a wall-clock moment: '14:05:00, 30 Nov'."""
    return f"{dt:%H:%M:%S}, {dt.day} {dt:%b}"


# ---------------------------------------------------------------------------------------------
# wall-clock times in questions

_AMPM = r"(?:a\.?m\.?|p\.?m\.?)"
TIME_RX = (
    r"(?<![\d:.])(?:"
    rf"(?:1[0-2]|0?[1-9])(?:[:.][0-5]\d)?\s*{_AMPM}(?![a-z])"  # 2 pm, 2:05pm, 11.30 a.m.
    r"|(?:1[0-2]|0?[1-9]) o'?clock"
    r"|noon|midday|midnight"
    r"|(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?![\d:])"  # 14:05, 14:05:30
    r")"
)
_MONTHS = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
_WEEKDAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
DATE_RX = (
    r"(?:(?:on|last) )?(?:the )?(?:"
    rf"(?:(?:{_WEEKDAYS}),? )?(?:the )?{_DAY} (?:of )?(?:{_MONTHS})\.?(?:,? \d{{4}})?"
    rf"|(?:(?:{_WEEKDAYS}),? )?(?:{_MONTHS})\.? {_DAY}(?:,? \d{{4}})?"
    r"|\d{4}-\d\d-\d\d"
    r"|day before yesterday|yesterday|today"
    rf"|{_WEEKDAYS}"
    r")\b"
)
_WORDS = r"(?<![\w'])"
_RANGE_RX = re.compile(
    rf"{_WORDS}(?:between|from) (?:the )?({TIME_RX}|(?:1[0-2]|0?[1-9])(?:[:.][0-5]\d)?(?=\s*(?:and|to|until|till|-|–)\s*[\d:.]+\s*{_AMPM}))"
    rf"\s*(?:and|to|until|till|-|–)\s*({TIME_RX})|{_WORDS}({TIME_RX})\s*(?:-|–|to|until|till)\s*({TIME_RX})",
    re.I,
)
_SIDE_RX = re.compile(rf"{_WORDS}(after|since|later than|before|until|till|earlier than) (?:the )?({TIME_RX})", re.I)
_POINT_RX = re.compile(rf"{_WORDS}(?:(at|around|about|near|by|circa|approximately|roughly) (?:the )?)?({TIME_RX})", re.I)
_DATE_RX = re.compile(rf"{_WORDS}{DATE_RX}", re.I)
_ABOUT_RX = re.compile(r"(?:about|regarding|mention\w*|said|say|says) $", re.I)  # "what did she say about yesterday" names a topic
_EXPLICIT_RX = re.compile(rf"{_AMPM}|o'?clock|noon|midday|midnight", re.I)


@dataclass(frozen=True)
class WallTime:
    """A wall-clock time (or range) a question names: the day if it says one, the time(s) of day, and where it is said."""

    text: str  # the question
    day: date | None  # None: any day the recordings cover
    start: time
    end: time  # == start for a moment; end < start runs past midnight
    point: bool  # a moment ("at 14:05") rather than a range
    side: str  # "at" | "around" | "between" | "after" | "before" | "day" (a date alone: the whole day)
    explicit: bool  # am/pm, o'clock or a date said: a wall-clock time whatever the recordings
    spans: tuple[tuple[int, int], ...]  # where in ``text`` the time and the date are said
    time_span: tuple[int, int] | None  # the time's own place (replaced by the offset)

    def describe(self) -> str:
        """'14:05 on 30 Nov', 'between 14:00 and 14:10', '30 Nov'."""
        fmt = lambda t: f"{t:%H:%M:%S}" if t.second else f"{t:%H:%M}"  # noqa: E731
        when = {"between": f"between {fmt(self.start)} and {fmt(self.end)}", "after": f"after {fmt(self.start)}", "before": f"before {fmt(self.end)}"}
        head = when.get(self.side, "" if self.side == "day" else fmt(self.start))
        day = f"{self.day.day} {self.day:%b}" if self.day else ""
        return f"{head} on {day}" if head and day else head or day

    def intervals(self, days: list[date]) -> list[tuple[datetime, datetime]]:
        """The wall-clock interval this names on each of ``days`` (its own day when it says one)."""
        out = []
        for d in [self.day] if self.day else days:
            lo, hi = datetime.combine(d, self.start), datetime.combine(d, self.end)
            if self.side == "day":
                hi = lo + timedelta(days=1)
            elif hi < lo:
                hi += timedelta(days=1)  # between 23:50 and 00:10
            out.append((lo, hi))
        return out


def _dateparser():
    import dateparser  # noqa: PLC0415 - a second to import: only when a question names a time

    return dateparser


def _read_time(text: str, now: datetime) -> time | None:
    t = text.lower().strip()
    if t in ("noon", "midday"):
        return time(12, 0)
    if t == "midnight":
        return time(0, 0)
    t = re.sub(r"(\d)\.(\d\d)", r"\1:\2", t).replace("o'clock", ":00").replace("oclock", ":00").replace(" :00", ":00")
    dt = _dateparser().parse(t, languages=["en"], settings={"RELATIVE_BASE": now, "PREFER_DATES_FROM": "past"})
    return dt.time() if dt else None


def _read_date(text: str, now: datetime) -> date | None:
    t = re.sub(r"^(?:on|last) ", "", text.lower().strip())
    t = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", t)
    settings = {"RELATIVE_BASE": now, "PREFER_DATES_FROM": "past", "PREFER_DAY_OF_MONTH": "first", "REQUIRE_PARTS": []}
    dt = _dateparser().parse(t, languages=["en"], settings=settings)
    return dt.date() if dt else None


def find_wall_time(question: str, now: datetime) -> WallTime | None:
    """The wall-clock time a question names, read against ``now`` (naive UTC) for 'yesterday', 'on Monday', '30 November'.

    A range ('between 14:00 and 14:10', '2 pm to 3 pm'), a side ('after 14:05') or a moment ('at 2:05 pm'), with or
    without a date; a date alone ('what happened yesterday?') is that whole day. None when the question names no time.

    >>> w = find_wall_time("was there a van between 14:00 and 14:10 on 30 November?", datetime(2026, 12, 1))
    >>> (w.side, w.start, w.end, w.day, w.explicit)
    ('between', datetime.time(14, 0), datetime.time(14, 10), datetime.date(2026, 11, 30), True)
    >>> find_wall_time("what is said about the delivery?", datetime(2026, 12, 1)) is None
    True
    """
    q = question or ""
    date_m = next((m for m in _DATE_RX.finditer(q) if not _ABOUT_RX.search(q[: m.start()])), None)
    day = _read_date(date_m.group(0), now) if date_m else None
    if date_m and day is None:
        date_m = None
    time_m, side, start, end = None, "at", None, None
    if m := _RANGE_RX.search(q):
        time_m, side = m, "between"
        a, b = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        start, end = _read_time(a, now), _read_time(b, now)
        said = _EXPLICIT_RX.search(b) if not _EXPLICIT_RX.search(a) and re.fullmatch(r"(?:1[0-2]|0?[1-9])(?:[:.][0-5]\d)?", a.strip()) else None
        if said and said.group(0)[0].lower() in "ap" and end is not None:
            same = _read_time(f"{a} {said.group(0)}", now)  # "between 2 and 3 pm", "from 2:30 to 3 pm": both pm
            start = same if same is not None and same <= end else _read_time(f"{a} am", now)  # "from 11 to 1 pm": 11 am
    elif m := _SIDE_RX.search(q):
        time_m = m
        side = "after" if m.group(1).lower() in ("after", "since", "later than") else "before"
        t = _read_time(m.group(2), now)
        start, end = (t, time(23, 59, 59)) if side == "after" else (time(0, 0), t)
    elif m := _POINT_RX.search(q):
        time_m, side = m, (m.group(1) or "at").lower()
        side = "around" if side in ("around", "about", "near", "circa", "approximately", "roughly") else "at"
        start = end = _read_time(m.group(2), now)
    if time_m is not None and (start is None or end is None):
        time_m = None
    if time_m is None and date_m is None:
        return None
    if time_m is None:
        start, end, side = time(0, 0), time(0, 0), "day"
    spans = tuple(sorted(s for s in ((time_m.start(), time_m.end()) if time_m else None, (date_m.start(), date_m.end()) if date_m else None) if s))
    explicit = bool(date_m) or bool(time_m and _EXPLICIT_RX.search(time_m.group(0)))
    return WallTime(q, day, start, end, side in ("at", "around"), side, explicit, spans, (time_m.start(), time_m.end()) if time_m else None)


def names_a_recorded_moment(wall: WallTime, recordings: list[Recording]) -> bool:
    """Whether a time the question names (a moment, a range's ends, a side's boundary) lies inside one of ``recordings``:
    a bare '1:30' no recording holds keeps its old meaning, 1 min 30 s into each video."""
    named = {"between": (wall.start, wall.end), "after": (wall.start,), "before": (wall.end,), "day": ()}.get(wall.side, (wall.start,))
    for r in recordings:
        for d in [wall.day] if wall.day else [r.start.date() + timedelta(days=i) for i in range((r.end.date() - r.start.date()).days + 1)]:
            if any(r.start <= datetime.combine(d, t) <= r.end for t in named):
                return True
    return wall.side == "day" and any(r.start.date() <= wall.day <= r.end.date() for r in recordings if wall.day)


@dataclass(frozen=True)
class Recording:
    video_id: str
    name: str
    start: datetime  # recorded_at, naive UTC
    duration_s: float

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class Covered:
    """A recording that holds (part of) the time asked about: where in it (seconds from its start), and when that is."""

    recording: Recording
    lo_s: float
    hi_s: float
    wall_lo: datetime
    wall_hi: datetime


def cover(wall: WallTime, recordings: list[Recording]) -> list[Covered]:
    """The recordings that hold the time asked about, in recording order, with the offsets inside each."""
    out: list[Covered] = []
    for r in recordings:
        first = r.start.date() - timedelta(days=1)
        days = [first + timedelta(days=i) for i in range((r.end.date() - first).days + 1)]
        for lo, hi in wall.intervals(days):
            if lo <= r.end and hi >= r.start and (wall.point or hi > r.start and lo < r.end):
                a = max(0.0, (lo - r.start).total_seconds())
                b = min(r.duration_s, (hi - r.start).total_seconds())
                out.append(Covered(r, a, b, r.start + timedelta(seconds=a), r.start + timedelta(seconds=b)))
                break
    return sorted(out, key=lambda c: (c.wall_lo, c.recording.name))


def offset_text(t: float) -> str:
    """Seconds into a video as the planner reads them: 300 → '5:00', 3905 → '1:05:05'."""
    t = max(0, int(round(t)))
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def rewrite(wall: WallTime, covered: Covered) -> str:
    """The question as it reads inside one recording: the wall-clock time becomes the offset ('at 5:00'), the date goes."""
    q = wall.text
    if wall.side == "day" or (wall.side == "between" and covered.lo_s <= 0 and covered.hi_s >= covered.recording.duration_s):
        phrase = ""  # the whole recording is in the time asked about
    elif wall.point:
        phrase = f"{wall.side} {offset_text(covered.lo_s)}"
    elif wall.side == "after":
        phrase = f"after {offset_text(covered.lo_s)}"
    elif wall.side == "before":
        phrase = f"before {offset_text(covered.hi_s)}"
    else:
        phrase = f"between {offset_text(covered.lo_s)} and {offset_text(covered.hi_s)}"
    for a, b in sorted(wall.spans, reverse=True):
        q = q[:a] + (phrase if (a, b) == wall.time_span or (wall.time_span is None and phrase) else "") + q[b:]
    q = re.sub(r"\s+([?.!,])", r"\1", " ".join(q.split()))
    return q


__all__ = [
    "ClockError",
    "Covered",
    "Recording",
    "WallTime",
    "cover",
    "find_wall_time",
    "metadata_recorded_at",
    "name_recorded_at",
    "names_a_recorded_moment",
    "offset_text",
    "parse_recorded_at",
    "recording_start",
    "rewrite",
    "wall_label",
]
