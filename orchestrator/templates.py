"""Analysis templates: comprehensive, safety, performance, pattern, creative.

Each is a retrieval strategy (SQL over the event graph) plus a composer that writes a structured
report whose every line cites its moments. The extractive engine streams the report as it is; the
VLM engine gets the report draft and the template's instructions and writes its own version.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from .events import fmt_time, quote
from .retrieval import Evidence, Retriever, plan_question

SAFETY_WORDS = ("help", "fire", "stop", "emergency", "danger", "watch out", "police", "hurt", "injur", "accident", "careful", "call 911",
                "ambulance", "weapon", "gun", "knife", "run")
SAFETY_SOUNDS = ("siren", "gun", "gunshot", "fireworks", "alarm", "bang", "glass breaking", "loud onset", "tone")  # old labels too


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


def _rows(con, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _ev(r: dict) -> Evidence:
    attrs = json.loads(r["attrs"]) if r.get("attrs") else {}
    return Evidence(r["id"], r["kind"], r["label"], r["t_start"], r["t_end"], r["confidence"], r.get("text") or "", r.get("track_id"),
                    best_t=attrs.get("best_t"), event_ids=[r["id"]])


def _t(t: float) -> str:
    return f"[{fmt_time(round(t))}]"  # rounded like the answers' times and their citations


def _quote(text: str, n: int = 160) -> str:
    return quote(text, n)


class Templates:
    NAMES = ("comprehensive", "safety", "performance", "pattern", "creative")

    def __init__(self, con):
        self.con = con

    def build(self, name: str, video_id: str) -> Report:
        if name not in self.NAMES:
            raise ValueError(f"unknown template {name!r}; choose one of: {', '.join(self.NAMES)}")
        return getattr(self, name)(video_id)

    def _video(self, video_id: str) -> dict:
        rows = _rows(self.con, "SELECT name, duration_s FROM videos WHERE video_id = ?", [video_id])
        if not rows:
            raise LookupError(f"unknown video id {video_id!r}")
        return rows[0]

    def _events(self, video_id: str, where: str = "", params: list | None = None, order: str = "t_start", limit: int = 500) -> list[Evidence]:
        return [_ev(r) for r in _rows(self.con, f"SELECT * FROM events WHERE video_id = ? {where} ORDER BY {order} LIMIT {int(limit)}",
                                      [video_id, *(params or [])])]

    def _object_tracks(self, video_id: str) -> list[dict]:
        return _rows(self.con, """SELECT track_id, label, min(t_start) AS t_start, max(t_end) AS t_end, max(confidence) AS conf,
                                      arg_max(id, confidence) AS id FROM events WHERE video_id = ? AND kind = 'object'
                                      GROUP BY track_id, label ORDER BY t_start""", [video_id])

    # -- comprehensive ---------------------------------------------------------------------
    def comprehensive(self, video_id: str) -> Report:
        v = self._video(video_id)
        duration = float(v["duration_s"])
        counts = dict(self.con.execute("SELECT kind, count(*) FROM events WHERE video_id = ? GROUP BY kind", [video_id]).fetchall())
        tracks = self._object_tracks(video_id)
        per_label = Counter(t["label"] for t in tracks)
        overview = Section("Overview", [f"{v['name']}, {fmt_time(duration)} long: {sum(counts.values())} events — "
                                        + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))])
        if per_label:
            firsts = {t["label"]: t for t in reversed(tracks)}
            overview.lines.append("Objects: " + ", ".join(f"{n} {label} (first {_t(firsts[label]['t_start'])})" for label, n in per_label.most_common(6)))
        cuts = [e.t_start for e in self._events(video_id, "AND kind = 'scene_cut'")]
        bounds = [0.0] + cuts + [duration]
        scenes = Section("Scenes")
        evidence: list[Evidence] = []
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            if b - a < 0.5:
                continue
            inside = self._events(video_id, "AND t_start >= ? AND t_start < ?", [a, b])
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
        speech = self._events(video_id, "AND kind = 'speech'", order="confidence DESC", limit=5)
        said = Section("What is said", [f"{_t(e.t_start)} {_quote(e.text)}" for e in sorted(speech, key=lambda e: e.t_start)])
        sounds = self._events(video_id, "AND kind = 'sound'", order="confidence DESC", limit=6)
        heard = Section("What is heard", [f"{_t(e.t_start)} {e.label} ({e.confidence:.2f})" for e in sorted(sounds, key=lambda e: e.t_start)])
        evidence += speech + sounds + [_ev(r) for r in _rows(self.con, f"SELECT * FROM events WHERE video_id = ? AND id IN "
                                                               f"({','.join('?' * len(tracks[:20])) or 'NULL'})", [video_id, *[t['id'] for t in tracks[:20]]])]
        evidence += self._events(video_id, "AND kind = 'scene_cut'")
        return Report("comprehensive", "Comprehensive analysis", "Summarise the whole video scene by scene: who and what is seen, what is said and heard, and when.",
                      [overview, scenes, said, heard], evidence)

    # -- safety ------------------------------------------------------------------------------
    def safety(self, video_id: str) -> Report:
        self._video(video_id)
        alerts = self._events(video_id, "AND kind = 'alert'", order="t_start")
        hazards = self._events(video_id, f"AND kind = 'sound' AND label IN ({','.join('?' * len(SAFETY_SOUNDS))})", list(SAFETY_SOUNDS))
        spikes = self._events(video_id, "AND kind = 'motion'", order="confidence DESC", limit=8)
        words = " OR ".join("text ILIKE ?" for _ in SAFETY_WORDS)
        speech = self._events(video_id, f"AND kind = 'speech' AND ({words})", [f"%{w}%" for w in SAFETY_WORDS])
        near = _rows(self.con, """SELECT p.id AS pid, v.id AS vid, v.label AS vlabel, greatest(p.t_start, v.t_start) AS t FROM events p
                                  JOIN events v ON v.video_id = p.video_id AND v.kind = 'object' AND v.label IN ('car','truck','bus','motorcycle')
                                  AND v.t_start <= p.t_end AND v.t_end >= p.t_start
                                  WHERE p.video_id = ? AND p.kind = 'object' AND p.label = 'person' ORDER BY t LIMIT 10""", [video_id])
        sections = [
            Section("Alerts", [f"{_t(e.t_start)} {e.label}: {e.text}" for e in alerts]),
            Section("Hazard sounds", [f"{_t(e.t_start)} {e.label} ({e.confidence:.2f})" for e in hazards[:12]]),
            Section("Safety-related speech", [f"{_t(e.t_start)} {_quote(e.text)}" for e in speech[:8]]),
            Section("People near vehicles", [f"{_t(r['t'])} a person and a {r['vlabel']} are in view together" for r in near]),
            Section("Sudden motion", [f"{_t(e.t_start)} motion spike (strength {e.confidence:.2f})" for e in sorted(spikes, key=lambda e: e.t_start)]),
        ]
        if not any(s.lines for s in sections):
            sections.append(Section("Result", ["No alerts, hazard sounds, safety-related speech or sudden motion were found."]))
        near_ev = self._events(video_id, f"AND id IN ({','.join('?' * len(near)) or 'NULL'})", [r["pid"] for r in near])
        return Report("safety", "Safety review", "List safety-relevant moments by severity: alerts, hazard sounds, calls for help, people near vehicles, sudden motion.",
                      sections, alerts + hazards + speech + spikes + near_ev)

    # -- performance -------------------------------------------------------------------------
    def performance(self, video_id: str) -> Report:
        v = self._video(video_id)
        per_min = _rows(self.con, """SELECT floor(t_start / 60) AS minute, count(*) AS n, count(DISTINCT track_id) AS tracks,
                                         arg_max(id, confidence) AS id, min(t_start) AS t FROM events WHERE video_id = ? GROUP BY 1 ORDER BY 1""", [video_id])
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
            presence.append(f"{label}: {len(ts)} tracked, average {sum(dwell) / len(dwell):.1f} s in view, longest {max(dwell):.1f} s from {_t(longest['t_start'])}")
        idle = _rows(self.con, """SELECT w.t_start, w.t_end FROM windows w WHERE w.video_id = ? AND w.status = 'done' AND NOT EXISTS
                                   (SELECT 1 FROM frames f WHERE f.video_id = w.video_id AND f.window_idx = w.idx AND f.reason IN ('motion','scene_cut'))
                                   ORDER BY w.t_start""", [video_id])
        idle_lines = [f"{_t(r['t_start'])} to {_t(r['t_end'])}: no motion" for r in idle[:8]]
        ev = self._events(video_id, f"AND id IN ({','.join('?' * len(per_min)) or 'NULL'})", [r["id"] for r in per_min])
        ev += self._events(video_id, f"AND id IN ({','.join('?' * len(tracks[:30])) or 'NULL'})", [t["id"] for t in tracks[:30]])
        idle_ev = [Evidence(f"window-{r['t_start']}", "motion", "idle", r["t_start"], r["t_end"], 1.0) for r in idle[:8]]
        return Report("performance", f"Activity and performance — {fmt_time(float(v['duration_s']))}",
                      "Report activity levels over time: busiest and quietest periods, how many objects and for how long, idle stretches.",
                      [Section("Activity over time", lines), Section("Presence", presence), Section("Idle periods", idle_lines)], ev + idle_ev)

    # -- pattern -----------------------------------------------------------------------------
    def pattern(self, video_id: str) -> Report:
        self._video(video_id)
        repeats = _rows(self.con, """SELECT kind, label, count(*) AS n, min(t_start) AS first_t, max(t_start) AS last_t,
                                         list(t_start ORDER BY t_start) AS times, arg_min(id, t_start) AS id FROM events
                                     WHERE video_id = ? AND kind IN ('sound', 'scene_cut', 'motion', 'alert') GROUP BY kind, label HAVING count(*) >= 2
                                     ORDER BY n DESC LIMIT 8""", [video_id])
        rec = []
        for r in repeats:
            gaps = [b - a for a, b in zip(r["times"], r["times"][1:])]
            mean = sum(gaps) / len(gaps)
            spread = (sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5
            regular = " — regular, about every %.0f s" % mean if mean > 0 and spread < 0.25 * mean else f" — on average every {mean:.0f} s"
            rec.append(f"{r['label']} ({r['kind'].replace('_', ' ')}) {r['n']} times from {_t(r['first_t'])} to {_t(r['last_t'])}{regular}")
        tracks = self._object_tracks(video_id)
        appear = Counter(t["label"] for t in tracks)
        arrivals = [f"{label}: {n} separate appearances, first {_t(next(t['t_start'] for t in tracks if t['label'] == label))}"
                    for label, n in appear.most_common(5) if n >= 2]
        seq = _rows(self.con, """SELECT a.label AS a, b.label AS b, count(*) AS n, min(a.t_start) AS t, arg_min(a.id, a.t_start) AS id
                                 FROM relations r JOIN events a ON a.video_id = r.video_id AND a.id = r.src
                                 JOIN events b ON b.video_id = r.video_id AND b.id = r.dst
                                 WHERE r.video_id = ? AND r.kind = 'precedes' AND a.label <> b.label GROUP BY 1, 2 HAVING count(*) >= 2
                                 ORDER BY n DESC LIMIT 6""", [video_id])
        seqs = [f"{r['a']} is followed by {r['b']} {r['n']} times (first {_t(r['t'])})" for r in seq]
        words = Counter()
        for (text,) in self.con.execute("SELECT text FROM events WHERE video_id = ? AND kind = 'speech'", [video_id]).fetchall():
            words.update(w for w in (text or "").lower().replace(",", " ").replace(".", " ").split() if len(w) > 4)
        phrases = [f"'{w}' said {n} times" for w, n in words.most_common(5) if n >= 2]
        ev = self._events(video_id, f"AND id IN ({','.join('?' * len(repeats + seq)) or 'NULL'})", [r["id"] for r in repeats + seq])
        firsts = {}
        for t in tracks:
            firsts.setdefault(t["label"], t["id"])
        ev += self._events(video_id, f"AND id IN ({','.join('?' * len(firsts)) or 'NULL'})", list(firsts.values()))
        sections = [Section("Recurring events", rec), Section("Repeated appearances", arrivals), Section("Sequences", seqs), Section("Repeated words", phrases)]
        if not any(s.lines for s in sections):
            sections.append(Section("Result", ["No recurring events were found."]))
        return Report("pattern", "Patterns and recurrences", "Find what repeats: recurring sounds and events with their intervals, repeated appearances, frequent sequences.",
                      sections, ev)

    # -- creative ----------------------------------------------------------------------------
    def creative(self, video_id: str) -> Report:
        v = self._video(video_id)
        moments: list[tuple[float, str, Evidence]] = []
        for e in self._events(video_id, "AND kind = 'scene_cut'"):
            moments.append((0.6 + e.confidence * 0.2, f"{_t(e.t_start)} cut to a new scene", e))
        seen = set()
        for t in self._object_tracks(video_id):
            if t["label"] not in seen:
                seen.add(t["label"])
                e = self._events(video_id, "AND id = ?", [t["id"]])[0]
                moments.append((0.7 + 0.3 * t["conf"], f"{_t(t['t_start'])} first {t['label']} enters", e))
        for e in self._events(video_id, "AND kind = 'speech'", order="confidence DESC", limit=4):
            moments.append((0.5 + 0.5 * e.confidence, f"{_t(e.t_start)} line: {_quote(e.text, 90)}", e))
        for e in self._events(video_id, "AND kind IN ('sound', 'motion')", order="confidence DESC", limit=4):
            moments.append((0.4 + 0.5 * e.confidence, f"{_t(e.t_start)} {e.label}", e))
        top = sorted(sorted(moments, key=lambda m: -m[0])[:10], key=lambda m: m[2].t_start)
        story = []
        if top:
            story.append(f"Open on {top[0][1].split(' ', 1)[1]} {top[0][1].split(' ', 1)[0]}, then build through "
                         + ", ".join(m[1] for m in top[1:-1][:4]) + (f", and close on {top[-1][1]}" if len(top) > 1 else ""))
        return Report("creative", f"Highlights and story — {v['name']}", "Propose a highlight reel and a short narrative from the strongest moments, in order, each cited.",
                      [Section("Highlight reel (in order)", [m[1] for m in top]), Section("Narrative", story)], [m[2] for m in top])


def template_evidence_retriever(retriever: Retriever, video_id: str, report: Report):
    """A retrieval result whose evidence is the report's, so citations resolve against it."""
    result = retriever.retrieve(video_id, report.title, plan=plan_question("summary", 0.0), max_evidence=1)
    result.evidence = report.evidence
    result.key_frames = Retriever._key_frames(report.evidence)
    return result
