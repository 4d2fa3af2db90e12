"""Analysis templates: comprehensive, safety, performance, pattern, creative.

Each is a retrieval strategy (queries of the event graph, ``graph.py``) plus a composer that writes a structured
report the way a person would: a short summary at the top (what was found, how much, when), then one section per
aspect, each finding once (repeats of the same finding merged into one line with its time range or its list of
times), and an honest "nothing found" where a section is empty. Every time in a report is a ``[mm:ss]`` citation
of a real event. The extractive engine streams the report as it is; the VLM engine gets the report draft and the
template's instructions and writes its own version.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field

from .events import Event, fmt_time, plural, quote
from .graph import EventGraph, Match, Span
from .retrieval import Evidence, Retriever, key_frames, plan_question
from .sound_vocabulary import BY_LABEL

SAFETY_WORDS = (
    "help",
    "fire",
    "stop",
    "emergency",
    "danger",
    "watch out",
    "police",
    "hurt",
    "injur",
    "accident",
    "careful",
    "call 911",
    "ambulance",
    "weapon",
    "gun",
    "knife",
    "run",
)
SAFETY_SPEECH = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in SAFETY_WORDS) + r")", re.I)
# The sounds a safety review reports: names of orchestrator/sound_vocabulary.py. Speech, its onsets, tones, music and
# the like are not hazards (older graphs' "loud onset" marked the start of speech; "tone" is a test tone or a beep).
HAZARD_SOUNDS = ("alarm", "siren", "glass breaking", "explosion", "gunshot", "screaming", "bang", "car horn")
assert all(label in BY_LABEL for label in HAZARD_SOUNDS), "every hazard sound is a name of the sound vocabulary"
SPEECH_LIKE_SOUNDS = ("loud onset", "human voice", "shouting", "crowd")
# Watch lists: things COCO lacks that a template looks for with the grounder (orchestrator/grounding.py), where it is
# served, over the template's suspicious spans: `python -m orchestrator ground VIDEO_ID --watch safety`. A setting:
# $VDET_WATCH_<TEMPLATE> (phrases separated by full stops) replaces a default.
WATCH_LISTS = {"safety": "ladder. forklift. fire. smoke. knife."}
SUSPICIOUS_PAD_S = 2.0  # a suspicious moment is grounded from this long before it to this long after it
VEHICLES = ("car", "truck", "bus", "motorcycle")
CUTS = Match(kinds=("scene_cut",))
RUN_GAP_S = 2.0  # sightings of a finding closer than this are one stretch of it
# told to the VLM engine with every template, after the template's own instructions
REPORT_STYLE = (
    " Write it as a person would: a short summary first (what was found, how much, when), then each finding once with its"
    " time range or its times, and say plainly when a section found nothing."
)


def watch_list(template: str) -> list[str]:
    """The phrases ``template`` watches for: ``$VDET_WATCH_<TEMPLATE>`` when set, else its default (none for most)."""
    from .settings import get_settings  # noqa: PLC0415

    raw = getattr(get_settings(), f"watch_{template}", None) or WATCH_LISTS.get(template, "")
    return list(dict.fromkeys(p.strip().lower() for p in raw.split(".") if p.strip()))


def suspicious_spans(graph: EventGraph, video_id: str, pad_s: float = SUSPICIOUS_PAD_S) -> list[tuple[float, float]]:
    """The moments worth a closer look: motion spikes (not scene cuts), alerts and hazard sounds, each padded by
    ``pad_s`` and merged where they touch, within the video."""
    found = graph.find_events(video_id, [Match(kinds=("alert", "motion")), Match(kinds=("sound",), labels=HAZARD_SOUNDS)], None, order="t_start", limit=5000)
    cuts = [e.t_start for e in graph.find_events(video_id, [CUTS], None, limit=5000)]
    duration = float((graph.video(video_id) or {}).get("duration_s") or 0.0)
    spans: list[list[float]] = []
    for e in found:
        if e.kind == "motion" and any(abs(e.t_start - c) <= 0.5 for c in cuts):
            continue
        a, b = max(0.0, e.t_start - pad_s), min(duration, e.t_end + pad_s) if duration else e.t_end + pad_s
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return [(round(a, 3), round(b, 3)) for a, b in spans if b > a]


def _evidence(e: Event) -> Evidence:
    """A report's evidence item for an event (without its attributes: a report cites moments, it does not describe them)."""
    return Evidence.from_event(e, attrs=False)


@dataclass
class Section:
    heading: str
    lines: list[str] = field(default_factory=list)
    empty: str = "Nothing found."  # what the section says when it found nothing


@dataclass
class Report:
    template: str
    title: str
    instructions: str
    sections: list[Section]
    evidence: list[Evidence]

    def render(self) -> str:
        out = [f"**{self.title}**"]
        for s in self.sections:
            lines = s.lines or [s.empty]
            out.append(f"\n**{s.heading}**\n" + "\n".join(f"- {line}" for line in lines))
        return "\n".join(out)


def _quote(text: str, n: int = 160) -> str:
    return quote(text, n)


class Cites:
    """Writes a report's times as citations and keeps, in the order written, the evidence each one names, so every
    ``[mm:ss]`` resolves to the event it was written for (``answer.citations_for``)."""

    def __init__(self) -> None:
        self.evidence: list[Evidence] = []
        self._ids: set[tuple[str, float]] = set()

    def __call__(self, e: Evidence, which: str = "start") -> str:
        if which == "end":  # the end of an event, cited as a moment of its own
            e = dataclasses.replace(e, t_start=e.t_end)
        key = (e.event_id, round(e.t_start))
        if key not in self._ids:
            self._ids.add(key)
            self.evidence.append(e)
        return f"[{fmt_time(round(e.t_start))}]"

    def add(self, items: list[Evidence]) -> None:
        """Evidence the report rests on without citing it by time (the VLM engine sees it too)."""
        for e in items:
            if (e.event_id, round(e.t_start)) not in self._ids:
                self.evidence.append(e)


@dataclass
class _Seen:
    first: Evidence  # the event whose start marks this sighting
    last: Evidence  # the event whose end marks its end
    t_start: float
    t_end: float


class Findings:
    """The findings of one section, each once: a finding is its words; every time it is seen is added to it, and
    it is written as one line with its time range (sightings that touch) or its list of times.

    >>> cite = Cites()
    >>> f = Findings(cite)
    >>> for i, t in enumerate((19.2, 20.0, 25.0, 31.0)):
    ...     f.add("a person and a truck in view together", Evidence(f"e{i}", "object", "truck", t, t + 4.0, 0.9))
    >>> f.add("a siren", Evidence("s", "sound", "siren", 50, 52, 0.9))
    >>> f.lines()
    ['a person and a truck in view together from [00:19] to [00:35] (4 sightings)', 'a siren at [00:50]']
    """

    def __init__(self, cite: Cites, gap_s: float = RUN_GAP_S, noun: str = "sighting"):
        self.cite, self.gap_s, self.noun = cite, gap_s, noun
        self.items: dict[str, list[_Seen]] = {}

    def add(self, what: str, first: Evidence, last: Evidence | None = None, t_start: float | None = None, t_end: float | None = None) -> None:
        last = last or first
        a = first.t_start if t_start is None else t_start
        b = last.t_end if t_end is None else t_end
        self.items.setdefault(what, []).append(_Seen(first, last, a, max(a, b)))

    def __len__(self) -> int:
        return len(self.items)

    def count(self) -> int:
        return sum(len(v) for v in self.items.values())

    def first_time(self) -> float | None:
        return min((s.t_start for v in self.items.values() for s in v), default=None)

    def runs(self, seen: list[_Seen]) -> list[list[_Seen]]:
        runs: list[list[_Seen]] = []
        for s in sorted(seen, key=lambda s: (s.t_start, s.t_end)):
            if runs and s.t_start <= max(r.t_end for r in runs[-1]) + self.gap_s:
                runs[-1].append(s)
            else:
                runs.append([s])
        return runs

    def _when(self, run: list[_Seen]) -> str:
        first = run[0]
        last = max(run, key=lambda s: s.t_end)
        if len(run) == 1 or round(last.t_end) <= round(first.t_start) or last.last.event_id == first.first.event_id:
            return f"at {self.cite(first.first)}"
        return f"from {self.cite(first.first)} to {self.cite(last.last, 'end')}"

    def line(self, what: str, max_times: int = 6) -> str:
        runs = self.runs(self.items[what])
        n = len(self.items[what])
        if len(runs) == 1:
            return f"{what} {self._when(runs[0])}" + (f" ({plural(n, self.noun)})" if n > 1 else "")
        shown = [self._when(r) for r in runs[:max_times]]
        more = f" and {len(runs) - max_times} more times" if len(runs) > max_times else ""
        return f"{what}, {len(runs)} times: " + ", ".join(shown) + more

    def lines(self, limit: int = 12) -> list[str]:
        out = [self.line(w) for w in list(self.items)[:limit]]
        if len(self.items) > limit:
            out.append(f"… and {len(self.items) - limit} more")
        return out


def _kinds_words(counts: dict[str, int]) -> str:
    words = {"object": "object sighting", "speech": "spoken line", "sound": "sound", "scene_cut": "scene cut", "motion": "motion spike"}
    words |= {"alert": "alert", "text": "on-screen text", "scene": "scene"}
    return ", ".join(plural(n, words.get(k, k.replace("_", " "))) for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class Templates:
    NAMES = ("comprehensive", "safety", "performance", "pattern", "creative")

    def __init__(self, graph: EventGraph):
        self.graph = graph if isinstance(graph, EventGraph) else EventGraph.over(graph)  # or an open DuckDB connection

    def build(self, name: str, video_id: str) -> Report:
        if name not in self.NAMES:
            raise ValueError(f"unknown template {name!r}; choose one of: {', '.join(self.NAMES)}")
        return getattr(self, name)(video_id)

    def _video(self, video_id: str) -> dict:
        v = self.graph.video(video_id)
        if v is None:
            raise LookupError(f"unknown video id {video_id!r}")
        return v

    def _events(self, video_id: str, *matches: Match, span: Span | None = None, order: str = "t_start", limit: int = 500) -> list[Evidence]:
        return [_evidence(e) for e in self.graph.find_events(video_id, list(matches), span, order=order, limit=limit)]

    def _by_id(self, video_id: str, ids: list[str]) -> list[Evidence]:
        return self._events(video_id, Match(ids=tuple(ids))) if ids else []

    def _tracks(self, video_id: str) -> list[dict]:
        """One row per tracked object, with its first event (where it enters) as ``first``."""
        tracks = self.graph.track_summaries(video_id)
        firsts: dict = {}
        for e in self._events(video_id, Match(kinds=("object",)), limit=100_000):
            firsts.setdefault((e.track_id, e.label), e)
        for t in tracks:
            t["first"] = firsts.get((t["track_id"], t["label"]))
        return [t for t in tracks if t["first"] is not None]

    # -- comprehensive ---------------------------------------------------------------------
    def comprehensive(self, video_id: str) -> Report:
        v = self._video(video_id)
        cite = Cites()
        duration = float(v["duration_s"])
        counts = {k: n for k, n in self.graph.counts(video_id).items() if k != "scene"}
        tracks = self._tracks(video_id)
        per_label = Counter(t["label"] for t in tracks)
        cuts = self._events(video_id, CUTS)
        speech = self._events(video_id, Match(kinds=("speech",)))
        # a sound that only restates speech (an older graph's "loud onset" at its start, a voice tag over it) is not heard apart from it
        sounds = [
            e
            for e in self._events(video_id, Match(kinds=("sound",)))
            if not (e.label in SPEECH_LIKE_SOUNDS and any(s.t_start - 0.5 <= e.t_start <= s.t_end for s in speech))
        ]
        heard_ids = {e.event_id for e in sounds}
        if "sound" in counts:
            counts["sound"] = len(sounds)
        counts = {k: n for k, n in counts.items() if n}
        texts = self._events(video_id, Match(kinds=("text",)))
        alerts = self._events(video_id, Match(kinds=("alert",)))

        summary = Section("Summary")
        others = {k: n for k, n in counts.items() if k != "object"}
        summary.lines.append(
            f"{v['name']}, {fmt_time(duration)} long, {plural(len(cuts) + 1, 'scene')}"
            + (f": {_kinds_words(others)}." if others else "." if counts else ": nothing was detected.")
        )
        if per_label:
            firsts = {}
            for t in tracks:
                firsts.setdefault(t["label"], t["first"])
            summary.lines.append("Seen: " + ", ".join(f"{plural(n, label)} (the first {cite(firsts[label])})" for label, n in per_label.most_common(6)) + ".")
        if speech:
            talk = sum(e.t_end - e.t_start for e in speech)
            summary.lines.append(f"Said: {plural(len(speech), 'spoken line')}, {talk:.0f} s of speech, the first {cite(speech[0])}.")
        if sounds:
            heard = Counter(e.label for e in sounds)
            summary.lines.append("Heard: " + ", ".join(plural(n, label) if n > 1 else label for label, n in heard.most_common(5)) + ".")
        if alerts:
            summary.lines.append(f"Alerts: {plural(len(alerts), 'alert')}, the first {cite(alerts[0])}.")

        bounds = [0.0] + [e.t_start for e in cuts] + [duration]
        scenes = Section("Scenes", empty="No scenes: the video is empty.")
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            if b - a < 0.5:
                continue
            inside = self._events(video_id, span=Span(a, b, starts_within=True, end_open=True))
            seen = Counter()
            tracked = set()
            for e in inside:
                if e.kind == "object" and (e.track_id, e.label) not in tracked:
                    tracked.add((e.track_id, e.label))
                    seen[e.label] += 1
            said = [e for e in inside if e.kind == "speech"]
            heard = Counter(e.label for e in inside if e.event_id in heard_ids)
            desc = []
            if seen:
                desc.append("shows " + _and([plural(n, label) for label, n in seen.most_common(3)]))
            if said:
                desc.append(f"{plural(len(said), 'spoken line')}, starting {_quote(said[0].text, 80)} {cite(said[0])}")
            if heard:
                desc.append("sounds: " + ", ".join(label for label, _ in heard.most_common(3)))
            start = next((e for e in cuts if abs(e.t_start - a) < 0.01), None)
            when = f"from {cite(start)}" if start else f"from {fmt_time(a)}"
            scenes.lines.append(f"Scene {i + 1}, {when} to {fmt_time(b)}: " + ("; ".join(desc) if desc else "quiet, nothing detected"))
            if len(scenes.lines) >= 12:
                scenes.lines.append(f"… and {len(bounds) - 2 - i} more scenes")
                break

        said = Findings(cite, gap_s=0.0, noun="time")
        for e in sorted(sorted(speech, key=lambda e: -e.confidence)[:8], key=lambda e: e.t_start):
            said.add(_quote(e.text), e)
        heard = Findings(cite, noun="burst")
        for e in sounds:
            heard.add(e.label, e)
        written = Findings(cite, noun="reading")
        for e in texts:
            written.add(_quote(e.text or e.label, 80), e)
        cite.add(cuts)
        return Report(
            "comprehensive",
            "Comprehensive analysis",
            "Summarise the whole video scene by scene: who and what is seen, what is said and heard, and when." + REPORT_STYLE,
            [
                summary,
                scenes,
                Section("What is said", said.lines(8), "Nothing is said."),
                Section("What is heard", heard.lines(8), "No sounds besides speech were heard."),
                Section("What is written", written.lines(8), "No text was read in the picture."),
            ],
            cite.evidence,
        )

    # -- safety ------------------------------------------------------------------------------
    def safety(self, video_id: str) -> Report:
        self._video(video_id)
        cite = Cites()
        alerts_ev = self._events(video_id, Match(kinds=("alert",)), order="t_start")
        hazards_ev = self._events(video_id, Match(kinds=("sound",), labels=HAZARD_SOUNDS))
        cut_times = [e.t_start for e in self._events(video_id, CUTS)]
        spikes_ev = [e for e in self._events(video_id, Match(kinds=("motion",))) if not any(abs(e.t_start - c) <= 0.5 for c in cut_times)]
        speech_ev = [
            e for e in self._events(video_id, Match(kinds=("speech",), text_like=tuple(f"%{w}%" for w in SAFETY_WORDS))) if SAFETY_SPEECH.search(e.text)
        ]
        near_rows = self.graph.overlapping_objects(video_id, "person", VEHICLES, limit=2000)
        pair = {e.event_id: e for e in self._by_id(video_id, sorted({r["pid"] for r in near_rows} | {r["vid"] for r in near_rows}))}

        alerts = Findings(cite, noun="time")
        for e in alerts_ev:
            alerts.add(f"{e.label}: {e.text}" if e.text else e.label, e)
        hazards = Findings(cite, noun="burst")
        for e in hazards_ev:
            hazards.add(e.label, e)
        said = Findings(cite, gap_s=0.0, noun="time")
        for e in speech_ev:
            said.add(_quote(e.text), e)
        near = Findings(cite)
        for r in near_rows:
            p, veh = pair.get(r["pid"]), pair.get(r["vid"])
            if p is None or veh is None:
                continue
            first = p if p.t_start >= veh.t_start else veh
            last = p if p.t_end <= veh.t_end else veh
            near.add(f"a person and a {veh.label} in view together", first, last)
        motion = Findings(cite, noun="spike")
        for e in spikes_ev:
            motion.add("sudden motion", e)
        watched = Findings(cite)  # what the grounder found of the watch list (only where a grounding run wrote it)
        watch = watch_list("safety")
        for e in self.graph.find_events(video_id, [Match(kinds=("object",), labels=tuple(watch))], None, limit=2000) if watch else []:
            if e.attrs.get("source") == "grounding":  # not the detector's own COCO "knife"
                watched.add(f"a {e.label}", _evidence(e))

        summary = Section("Summary")
        found = []
        for label, f in (("alert", alerts), ("hazard sound", hazards), ("safety-related spoken line", said)):
            if f.count():
                found.append(plural(f.count(), label))
        if near:
            found.append(plural(sum(len(near.runs(v)) for v in near.items.values()), "stretch") + " of people near vehicles")
        if motion.count():
            found.append(plural(motion.count(), "sudden motion"))
        if watched.count():
            found.append(plural(watched.count(), "watch-list sighting"))
        if found:
            firsts = [f.first_time() for f in (alerts, hazards, said, near, motion, watched) if f.first_time() is not None]
            summary.lines.append(f"Found {_and(found)}; the first at {fmt_time(round(min(firsts)))}.")
            top = alerts if alerts else hazards if hazards else said if said else None
            if top:
                summary.lines.append("Most serious: " + top.line(next(iter(top.items))) + ".")
        else:
            summary.lines.append("Nothing safety-relevant was found: no alerts, hazard sounds, calls for help, people near vehicles or sudden motion.")
        return Report(
            "safety",
            "Safety review",
            "List safety-relevant moments by severity: alerts, hazard sounds, calls for help, people near vehicles, sudden motion." + REPORT_STYLE,
            [
                summary,
                Section("Alerts", alerts.lines(), "No alerts."),
                Section("Hazard sounds", hazards.lines(), "No hazard sounds (alarms, sirens, breaking glass, bangs, gunshots, screams, horns)."),
                Section("Safety-related speech", said.lines(8), "No calls for help or warnings were said."),
                Section("People near vehicles", near.lines(), "No person was in view together with a vehicle."),
                Section("Sudden motion", motion.lines(), "No sudden motion apart from scene cuts."),
            ]
            + ([Section("Watch list", watched.lines(), "")] if watched.count() else []),
            cite.evidence,
        )

    # -- performance -------------------------------------------------------------------------
    def performance(self, video_id: str) -> Report:
        v = self._video(video_id)
        cite = Cites()
        per_min = self.graph.events_per_minute(video_id)
        tracks = self._tracks(video_id)
        activity = []
        if per_min:
            busiest = max(per_min, key=lambda r: r["n"])
            quietest = min(per_min, key=lambda r: r["n"])
            activity.append(
                f"Busiest minute {fmt_time(busiest['minute'] * 60)}-{fmt_time(busiest['minute'] * 60 + 59)}: {plural(busiest['n'], 'event')}, "
                f"{plural(busiest['tracks'], 'tracked object')}"
            )
            if len(per_min) > 1 and quietest is not busiest:
                activity.append(
                    f"Quietest minute {fmt_time(quietest['minute'] * 60)}-{fmt_time(quietest['minute'] * 60 + 59)}: {plural(quietest['n'], 'event')}"
                )
            activity.append(f"Average {sum(r['n'] for r in per_min) / len(per_min):.1f} events a minute over {plural(len(per_min), 'minute')}")
        by_label: dict[str, list[dict]] = {}
        for t in tracks:
            by_label.setdefault(t["label"], []).append(t)
        presence = []
        for label, ts in sorted(by_label.items(), key=lambda kv: -len(kv[1]))[:6]:
            dwell = [t["t_end"] - t["t_start"] for t in ts]
            longest = max(ts, key=lambda t: t["t_end"] - t["t_start"])
            presence.append(
                f"{plural(len(ts), label)} tracked, on average {sum(dwell) / len(dwell):.1f} s in view each, the longest {max(dwell):.1f} s "
                f"from {cite(longest['first'])}"
            )
        idle = []  # still windows that touch are one idle stretch
        for a, b in self.graph.still_windows(video_id):
            if idle and a <= idle[-1][1] + 0.01:
                idle[-1][1] = b
            else:
                idle.append([a, b])
        idle_lines = [f"{fmt_time(a)} to {fmt_time(b)}: no motion ({b - a:.0f} s)" for a, b in idle[:8]]
        summary = Section("Summary")
        total_events = sum(r["n"] for r in per_min)
        if total_events:
            summary.lines.append(
                f"{plural(total_events, 'event')} over {fmt_time(float(v['duration_s']))}, {plural(len(tracks), 'tracked object')}"
                + (f"; the busiest minute starts {fmt_time(max(per_min, key=lambda r: r['n'])['minute'] * 60)}" if per_min else "")
                + (f"; idle for {sum(b - a for a, b in idle):.0f} s in {plural(len(idle), 'stretch')}" if idle else "; no idle stretch")
                + "."
            )
        else:
            summary.lines.append("No activity was detected.")
        return Report(
            "performance",
            f"Activity and performance — {fmt_time(float(v['duration_s']))}",
            "Report activity levels over time: busiest and quietest periods, how many objects and for how long, idle stretches." + REPORT_STYLE,
            [
                summary,
                Section("Activity over time", activity, "No events."),
                Section("Presence", presence, "No tracked objects."),
                Section("Idle periods", idle_lines, "No idle period: something moved in every window."),
            ],
            cite.evidence,
        )

    # -- pattern -----------------------------------------------------------------------------
    def pattern(self, video_id: str) -> Report:
        self._video(video_id)
        cite = Cites()
        repeats = self.graph.recurring(video_id, ("sound", "scene_cut", "motion", "alert"), min_n=2, limit=8)
        first_ev = {e.event_id: e for e in self._by_id(video_id, [r["id"] for r in repeats])}
        rec = []
        for r in repeats:
            gaps = [b - a for a, b in zip(r["times"], r["times"][1:])]
            mean = sum(gaps) / len(gaps)
            spread = (sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5
            regular = f", regular, about every {mean:.0f} s" if mean > 0 and spread < 0.25 * mean else f", on average every {mean:.0f} s"
            e = first_ev.get(r["id"])
            last = self._events(video_id, Match(kinds=(r["kind"],), labels=(r["label"],)), order="t_start desc", limit=1)
            rec.append(
                f"{r['label']} ({r['kind'].replace('_', ' ')}) {r['n']} times, the first {cite(e) if e else fmt_time(r['first_t'])}, "
                f"the last {cite(last[0]) if last else fmt_time(r['last_t'])}{regular}"
            )
        tracks = self._tracks(video_id)
        appear = Counter(t["label"] for t in tracks)
        arrivals = []
        for label, n in appear.most_common(5):
            if n >= 2:
                first = next(t["first"] for t in tracks if t["label"] == label)
                arrivals.append(f"{label}: {n} separate appearances, the first {cite(first)}")
        seq = self.graph.frequent_sequences(video_id, min_n=2, limit=6)
        seq_ev = {e.event_id: e for e in self._by_id(video_id, [r["id"] for r in seq])}
        seqs = [f"{r['a']} is followed by {r['b']} {r['n']} times (the first {cite(seq_ev[r['id']]) if r['id'] in seq_ev else fmt_time(r['t'])})" for r in seq]
        words = Counter()
        for e in self.graph.find_events(video_id, [Match(kinds=("speech",))], order=None):
            words.update(w for w in re.findall(r"[a-z']+", e.text.lower()) if len(w) > 4)
        phrases = [f"'{w}' said {n} times" for w, n in words.most_common(5) if n >= 2]
        summary = Section("Summary")
        found = [
            plural(len(x), what) for x, what in ((rec, "recurring event"), (arrivals, "repeated appearance"), (seqs, "sequence"), (phrases, "repeated word"))
        ]
        found = [f for f, x in zip(found, (rec, arrivals, seqs, phrases)) if x]
        summary.lines.append(f"Found {_and(found)}." if found else "No recurring events were found.")
        return Report(
            "pattern",
            "Patterns and recurrences",
            "Find what repeats: recurring sounds and events with their intervals, repeated appearances, frequent sequences." + REPORT_STYLE,
            [
                summary,
                Section("Recurring events", rec, "No sound, cut, motion or alert happens more than once."),
                Section("Repeated appearances", arrivals, "No kind of object appears more than once."),
                Section("Sequences", seqs, "No event is followed by the same other event twice."),
                Section("Repeated words", phrases, "No word is said more than once."),
            ],
            cite.evidence,
        )

    # -- creative ----------------------------------------------------------------------------
    def creative(self, video_id: str) -> Report:
        v = self._video(video_id)
        cite = Cites()
        moments: list[tuple[float, str, Evidence]] = []  # (strength, what, event)
        for e in self._events(video_id, CUTS):
            moments.append((0.6 + e.confidence * 0.2, "a cut to a new scene", e))
        seen = set()
        for t in self._tracks(video_id):
            if t["label"] not in seen:
                seen.add(t["label"])
                enters = "is in view from the start" if t["t_start"] < 0.5 else "enters"
                moments.append((0.7 + 0.3 * t["conf"], f"the first {t['label']} {enters}", t["first"]))
        for e in self._events(video_id, Match(kinds=("speech",)), order="confidence desc", limit=4):
            moments.append((0.5 + 0.5 * e.confidence, f"the line {_quote(e.text, 90)}", e))
        for e in self._events(video_id, Match(kinds=("sound",)), order="confidence desc", limit=4):
            moments.append((0.4 + 0.5 * e.confidence, e.label if e.label.endswith("ing") else f"{'an' if e.label[:1] in 'aeiou' else 'a'} {e.label}", e))
        for e in self._events(video_id, Match(kinds=("motion",)), order="confidence desc", limit=4):
            moments.append((0.3 + 0.4 * e.confidence, "a burst of motion", e))
        picked: list[tuple[float, str, Evidence]] = []
        for m in sorted(moments, key=lambda m: -m[0]):  # one moment per second: a cut and its motion spike are one
            if len(picked) < 8 and all(abs(m[2].t_start - p[2].t_start) >= 1.0 and m[1] != p[1] for p in picked):
                picked.append(m)
        top = sorted(picked, key=lambda m: m[2].t_start)
        reel = [f"{cite(e)} {what}" for _, what, e in top]
        story = []
        if len(top) == 1:
            story.append(f"A single strong moment: {top[0][1]} at {cite(top[0][2])}.")
        elif top:
            middle = [f"{what} ({cite(e)})" for _, what, e in top[1:-1][:4]]
            story.append(
                f"Open on {top[0][1]} ({cite(top[0][2])})"
                + (", then build through " + _and(middle) if middle else "")
                + f", and close on {top[-1][1]} ({cite(top[-1][2])})."
            )
        summary = Section("Summary")
        if top:
            span = f"{fmt_time(round(top[0][2].t_start))} to {fmt_time(round(top[-1][2].t_start))}"
            kinds = Counter(e.kind for _, _, e in top)
            summary.lines.append(f"{plural(len(top), 'strong moment')} from {span}: " + _kinds_words(dict(kinds)) + ".")
        else:
            summary.lines.append("Nothing stands out: no cuts, objects, speech, sounds or motion were found.")
        return Report(
            "creative",
            f"Highlights and story — {v['name']}",
            "Propose a highlight reel and a short narrative from the strongest moments, in order, each cited." + REPORT_STYLE,
            [summary, Section("Highlight reel (in order)", reel, "No moments to show."), Section("Narrative", story, "No story to tell.")],
            cite.evidence,
        )


def template_evidence_retriever(retriever: Retriever, video_id: str, report: Report):
    """A retrieval result whose evidence is the report's, so citations resolve against it."""
    result = retriever.retrieve(video_id, report.title, plan=plan_question("summary", 0.0), max_evidence=1)
    result.evidence = report.evidence
    result.key_frames = key_frames(report.evidence)
    return result
