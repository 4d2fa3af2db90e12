"""Analysis templates: comprehensive, safety, performance, pattern, creative.

Each is a retrieval strategy (queries of the event graph, ``graph.py``) plus a composer that writes a structured
report whose every line cites its moments. The extractive engine streams the report as it is; the
VLM engine gets the report draft and the template's instructions and writes its own version.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .events import Event, fmt_time, quote
from .graph import EventGraph, Match, Span
from .retrieval import Evidence, Retriever, key_frames, plan_question

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
SAFETY_SOUNDS = ("siren", "gun", "gunshot", "fireworks", "alarm", "bang", "glass breaking", "loud onset", "tone")  # old labels too
VEHICLES = ("car", "truck", "bus", "motorcycle")
CUTS = Match(kinds=("scene_cut",))


def _evidence(e: Event) -> Evidence:
    """A report's evidence item for an event (without its attributes: a report cites moments, it does not describe them)."""
    return Evidence.from_event(e, attrs=False)


@dataclass
class Section:
    heading: str
    lines: list[str] = field(default_factory=list)


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
            if s.lines:
                out.append(f"\n**{s.heading}**\n" + "\n".join(f"- {line}" for line in s.lines))
        return "\n".join(out)


def _t(t: float) -> str:
    return f"[{fmt_time(round(t))}]"  # rounded like the answers' times and their citations


def _quote(text: str, n: int = 160) -> str:
    return quote(text, n)


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
        return self._events(video_id, Match(ids=tuple(ids)))

    def _object_tracks(self, video_id: str) -> list[dict]:
        return self.graph.track_summaries(video_id)

    # -- comprehensive ---------------------------------------------------------------------
    def comprehensive(self, video_id: str) -> Report:
        v = self._video(video_id)
        duration = float(v["duration_s"])
        counts = self.graph.counts(video_id)
        tracks = self._object_tracks(video_id)
        per_label = Counter(t["label"] for t in tracks)
        overview = Section(
            "Overview",
            [
                f"{v['name']}, {fmt_time(duration)} long: {sum(counts.values())} events — "
                + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
            ],
        )
        if per_label:
            firsts = {t["label"]: t for t in reversed(tracks)}
            overview.lines.append("Objects: " + ", ".join(f"{n} {label} (first {_t(firsts[label]['t_start'])})" for label, n in per_label.most_common(6)))
        cuts = [e.t_start for e in self._events(video_id, CUTS)]
        bounds = [0.0] + cuts + [duration]
        scenes = Section("Scenes")
        evidence: list[Evidence] = []
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            if b - a < 0.5:
                continue
            inside = self._events(video_id, span=Span(a, b, starts_within=True, end_open=True))
            labels = Counter(e.label for e in inside if e.kind == "object")
            speech = [e for e in inside if e.kind == "speech"]
            sounds = Counter(e.label for e in inside if e.kind == "sound")
            desc = []
            if labels:
                desc.append("shows " + ", ".join(f"{n} {label}" for label, n in labels.most_common(3)))
            if speech:
                desc.append(f"{len(speech)} spoken line{'s' if len(speech) > 1 else ''}, starting {_quote(speech[0].text, 80)} {_t(speech[0].t_start)}")
                evidence.append(speech[0])
            if sounds:
                desc.append("sounds: " + ", ".join(label for label, _ in sounds.most_common(3)))
            scenes.lines.append(f"Scene {i + 1}, {_t(a)} to {_t(b)}: " + ("; ".join(desc) if desc else "quiet, nothing detected"))
            if len(scenes.lines) >= 12:
                scenes.lines.append(f"… and {len(bounds) - 2 - i} more scenes")
                break
        speech = self._events(video_id, Match(kinds=("speech",)), order="confidence desc", limit=5)
        said = Section("What is said", [f"{_t(e.t_start)} {_quote(e.text)}" for e in sorted(speech, key=lambda e: e.t_start)])
        sounds = self._events(video_id, Match(kinds=("sound",)), order="confidence desc", limit=6)
        heard = Section("What is heard", [f"{_t(e.t_start)} {e.label} ({e.confidence:.2f})" for e in sorted(sounds, key=lambda e: e.t_start)])
        evidence += speech + sounds + [_evidence(e) for e in self.graph.events_by_id(video_id, [t["id"] for t in tracks[:20]])]
        evidence += self._events(video_id, CUTS)
        return Report(
            "comprehensive",
            "Comprehensive analysis",
            "Summarise the whole video scene by scene: who and what is seen, what is said and heard, and when.",
            [overview, scenes, said, heard],
            evidence,
        )

    # -- safety ------------------------------------------------------------------------------
    def safety(self, video_id: str) -> Report:
        self._video(video_id)
        alerts = self._events(video_id, Match(kinds=("alert",)), order="t_start")
        hazards = self._events(video_id, Match(kinds=("sound",), labels=SAFETY_SOUNDS))
        spikes = self._events(video_id, Match(kinds=("motion",)), order="confidence desc", limit=8)
        speech = self._events(video_id, Match(kinds=("speech",), text_like=tuple(f"%{w}%" for w in SAFETY_WORDS)))
        near = self.graph.overlapping_objects(video_id, "person", VEHICLES, limit=10)
        sections = [
            Section("Alerts", [f"{_t(e.t_start)} {e.label}: {e.text}" for e in alerts]),
            Section("Hazard sounds", [f"{_t(e.t_start)} {e.label} ({e.confidence:.2f})" for e in hazards[:12]]),
            Section("Safety-related speech", [f"{_t(e.t_start)} {_quote(e.text)}" for e in speech[:8]]),
            Section("People near vehicles", [f"{_t(r['t'])} a person and a {r['vlabel']} are in view together" for r in near]),
            Section("Sudden motion", [f"{_t(e.t_start)} motion spike (strength {e.confidence:.2f})" for e in sorted(spikes, key=lambda e: e.t_start)]),
        ]
        if not any(s.lines for s in sections):
            sections.append(Section("Result", ["No alerts, hazard sounds, safety-related speech or sudden motion were found."]))
        near_ev = self._by_id(video_id, [r["pid"] for r in near])
        return Report(
            "safety",
            "Safety review",
            "List safety-relevant moments by severity: alerts, hazard sounds, calls for help, people near vehicles, sudden motion.",
            sections,
            alerts + hazards + speech + spikes + near_ev,
        )

    # -- performance -------------------------------------------------------------------------
    def performance(self, video_id: str) -> Report:
        v = self._video(video_id)
        per_min = self.graph.events_per_minute(video_id)
        tracks = self._object_tracks(video_id)
        lines = []
        if per_min:
            busiest = max(per_min, key=lambda r: r["n"])
            quietest = min(per_min, key=lambda r: r["n"])
            lines.append(f"Busiest minute starts {_t(busiest['minute'] * 60)}: {busiest['n']} events, {busiest['tracks']} tracked objects")
            if len(per_min) > 1:
                lines.append(f"Quietest minute starts {_t(quietest['minute'] * 60)}: {quietest['n']} events")
            lines.append(f"Average {sum(r['n'] for r in per_min) / len(per_min):.1f} events per minute over {len(per_min)} minutes")
        by_label: dict[str, list[dict]] = {}
        for t in tracks:
            by_label.setdefault(t["label"], []).append(t)
        presence = []
        for label, ts in sorted(by_label.items(), key=lambda kv: -len(kv[1]))[:6]:
            dwell = [t["t_end"] - t["t_start"] for t in ts]
            longest = max(ts, key=lambda t: t["t_end"] - t["t_start"])
            presence.append(
                f"{label}: {len(ts)} tracked, average {sum(dwell) / len(dwell):.1f} s in view, longest {max(dwell):.1f} s from {_t(longest['t_start'])}"
            )
        idle = self.graph.still_windows(video_id)
        idle_lines = [f"{_t(a)} to {_t(b)}: no motion" for a, b in idle[:8]]
        ev = self._by_id(video_id, [r["id"] for r in per_min])
        ev += self._by_id(video_id, [t["id"] for t in tracks[:30]])
        idle_ev = [Evidence(f"window-{a}", "motion", "idle", a, b, 1.0) for a, b in idle[:8]]
        return Report(
            "performance",
            f"Activity and performance — {fmt_time(float(v['duration_s']))}",
            "Report activity levels over time: busiest and quietest periods, how many objects and for how long, idle stretches.",
            [Section("Activity over time", lines), Section("Presence", presence), Section("Idle periods", idle_lines)],
            ev + idle_ev,
        )

    # -- pattern -----------------------------------------------------------------------------
    def pattern(self, video_id: str) -> Report:
        self._video(video_id)
        repeats = self.graph.recurring(video_id, ("sound", "scene_cut", "motion", "alert"), min_n=2, limit=8)
        rec = []
        for r in repeats:
            gaps = [b - a for a, b in zip(r["times"], r["times"][1:])]
            mean = sum(gaps) / len(gaps)
            spread = (sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5
            regular = " — regular, about every %.0f s" % mean if mean > 0 and spread < 0.25 * mean else f" — on average every {mean:.0f} s"
            rec.append(f"{r['label']} ({r['kind'].replace('_', ' ')}) {r['n']} times from {_t(r['first_t'])} to {_t(r['last_t'])}{regular}")
        tracks = self._object_tracks(video_id)
        appear = Counter(t["label"] for t in tracks)
        arrivals = [
            f"{label}: {n} separate appearances, first {_t(next(t['t_start'] for t in tracks if t['label'] == label))}"
            for label, n in appear.most_common(5)
            if n >= 2
        ]
        seq = self.graph.frequent_sequences(video_id, min_n=2, limit=6)
        seqs = [f"{r['a']} is followed by {r['b']} {r['n']} times (first {_t(r['t'])})" for r in seq]
        words = Counter()
        for e in self.graph.find_events(video_id, [Match(kinds=("speech",))], order=None):
            words.update(w for w in e.text.lower().replace(",", " ").replace(".", " ").split() if len(w) > 4)
        phrases = [f"'{w}' said {n} times" for w, n in words.most_common(5) if n >= 2]
        ev = self._by_id(video_id, [r["id"] for r in repeats + seq])
        firsts = {}
        for t in tracks:
            firsts.setdefault(t["label"], t["id"])
        ev += self._by_id(video_id, list(firsts.values()))
        sections = [Section("Recurring events", rec), Section("Repeated appearances", arrivals), Section("Sequences", seqs), Section("Repeated words", phrases)]
        if not any(s.lines for s in sections):
            sections.append(Section("Result", ["No recurring events were found."]))
        return Report(
            "pattern",
            "Patterns and recurrences",
            "Find what repeats: recurring sounds and events with their intervals, repeated appearances, frequent sequences.",
            sections,
            ev,
        )

    # -- creative ----------------------------------------------------------------------------
    def creative(self, video_id: str) -> Report:
        v = self._video(video_id)
        moments: list[tuple[float, str, Evidence]] = []
        for e in self._events(video_id, CUTS):
            moments.append((0.6 + e.confidence * 0.2, f"{_t(e.t_start)} cut to a new scene", e))
        seen = set()
        for t in self._object_tracks(video_id):
            if t["label"] not in seen:
                seen.add(t["label"])
                e = self._by_id(video_id, [t["id"]])[0]
                moments.append((0.7 + 0.3 * t["conf"], f"{_t(t['t_start'])} first {t['label']} enters", e))
        for e in self._events(video_id, Match(kinds=("speech",)), order="confidence desc", limit=4):
            moments.append((0.5 + 0.5 * e.confidence, f"{_t(e.t_start)} line: {_quote(e.text, 90)}", e))
        for e in self._events(video_id, Match(kinds=("sound", "motion")), order="confidence desc", limit=4):
            moments.append((0.4 + 0.5 * e.confidence, f"{_t(e.t_start)} {e.label}", e))
        top = sorted(sorted(moments, key=lambda m: -m[0])[:10], key=lambda m: m[2].t_start)
        story = []
        if top:
            story.append(
                f"Open on {top[0][1].split(' ', 1)[1]} {top[0][1].split(' ', 1)[0]}, then build through "
                + ", ".join(m[1] for m in top[1:-1][:4])
                + (f", and close on {top[-1][1]}" if len(top) > 1 else "")
            )
        return Report(
            "creative",
            f"Highlights and story — {v['name']}",
            "Propose a highlight reel and a short narrative from the strongest moments, in order, each cited.",
            [Section("Highlight reel (in order)", [m[1] for m in top]), Section("Narrative", story)],
            [m[2] for m in top],
        )


def template_evidence_retriever(retriever: Retriever, video_id: str, report: Report):
    """A retrieval result whose evidence is the report's, so citations resolve against it."""
    result = retriever.retrieve(video_id, report.title, plan=plan_question("summary", 0.0), max_evidence=1)
    result.evidence = report.evidence
    result.key_frames = key_frames(report.evidence)
    return result
