"""The library: search and questions over every video of a home (or a selection of them) at once.

``search`` finds moments by free text over what the graph holds — transcripts, on-screen text, labels,
attributes (an object's colours and motion, a sound's pattern) and scene descriptions — with filters by
kind, label, time and video, ranked across videos; with an embedder, the question's vector ranks events by
meaning too (``array_cosine_similarity`` over the 384-d embeddings). ``LibraryAsk`` plans a question once,
runs the single-video retriever and answer engine on each video, ranks what they found across videos and
answers citing video and moment (``cam2.mp4 [14:03]``). The SQL is the graph's (``graph.py``).

Where videos know when their recording started (``recorded_at``), a wall-clock time in a question or a search ("what
happened at 14:05 yesterday", "between 14:00 and 14:10") is read by ``clock.py`` before the question reaches the
planner: it selects the videos whose recording holds that time and becomes the offset inside each ("at 5:00"), and
citations say the wall-clock time too (``cam2.mp4 [00:05:00] (14:05:00, 30 Nov)``).

    graph = EventGraph(database_path(home), read_only=True)
    moments = search(graph, "white van", kinds=("object",))
    answer = LibraryAsk(graph, embed=models.embed).ask("which videos have a dog?")
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable

import numpy as np

from .answer import AnswerRequest, ExtractiveEngine, CITE_RE
from .clock import Covered, Recording, WallTime, cover, find_wall_time, names_a_recorded_moment, rewrite, wall_label
from .events import Event, fmt_time
from .graph import EventGraph, Match, Span
from .planner import EMBED_CACHE, OBJECT_SYNONYMS, STOP, QueryPlan, Vocabulary, plan_question
from .retrieval import RetrievalResult, Retriever

SIMILAR_MIN = 0.25  # below this a vector neighbour is noise (MiniLM puts unrelated sentences at 0.0-0.2)
SEARCH_KEEP = {"person", "people", "man", "woman", "sign", "text", "sound", "noise", "speech"}  # planner stop words a search means


class LibraryError(LookupError):
    """A library request that cannot be answered as given (no such video, nothing ingested); said in one line."""


@dataclass
class Moment:
    """One search result: a moment of one video, and why it was found."""

    video_id: str
    video_name: str
    t_start: float
    t_end: float
    event_id: str
    kind: str
    label: str
    snippet: str
    score: float
    why: list[str] = field(default_factory=list)
    wall_time: str | None = None  # when t_start happened on the library's clock (ISO, UTC), where the video's start is known

    @property
    def cite(self) -> str:
        return f"{self.video_name} [{fmt_time(self.t_start)}]" + (f" ({wall_label(datetime.fromisoformat(self.wall_time))})" if self.wall_time else "")

    def to_dict(self) -> dict:
        return asdict(self)


def select(graph: EventGraph, videos: list[str] | tuple[str, ...] | None = None, since: str | None = None, until: str | None = None) -> list[dict]:
    """The videos a request is about: every one, or those named by id or file name (an unknown one is an error)."""
    for flag, day in (("--since", since), ("--until", until)):
        if day:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise LibraryError(f"{flag} takes a date like 2024-05-31; got {day!r}") from None
    wanted = [v.strip() for v in (videos or []) if v and v.strip()]
    rows = graph.select_videos(tuple(wanted), tuple(wanted), since, until)
    known = {r["video_id"] for r in rows} | {str(r["name"]).lower() for r in rows}
    missing = [v for v in wanted if v not in known and v.lower() not in known]
    if missing and not (since or until):
        raise LibraryError(f"unknown video {', '.join(repr(m) for m in missing)}: give ids or file names from `python -m orchestrator videos`")
    return rows


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(timezone.utc).replace(tzinfo=None)


def recordings(rows: list[dict]) -> list[Recording]:
    """The selected videos that are on the clock (their recording start is known)."""
    return [Recording(r["video_id"], r["name"], r["recorded_at"], float(r["duration_s"] or 0.0)) for r in rows if r.get("recorded_at") is not None]


def wall_time_of(row: dict, t: float) -> datetime | None:
    """When a moment ``t`` seconds into a video happened, where its recording start is known."""
    return row["recorded_at"] + timedelta(seconds=float(t)) if row.get("recorded_at") is not None else None


def on_the_clock(text: str, rows: list[dict], now: datetime | None = None) -> tuple[WallTime, list[Covered]] | None:
    """The wall-clock time ``text`` names and the recordings that hold it, or None when it names none or the videos
    are not on the clock (then a time like 14:05 keeps meaning 14 min 5 s into each video). A bare time ('14:05') counts
    only when a recording holds it; a time said with am/pm, o'clock or a date counts whatever (its cover may be empty)."""
    recs = recordings(rows)
    if not recs:
        return None
    wall = find_wall_time(text, _now(now))
    if wall is None or (not wall.explicit and not names_a_recorded_moment(wall, recs)):
        return None
    return wall, cover(wall, recs)


def _without(text: str, wall: WallTime) -> str:
    """The text with its wall-clock time and date taken out ('white van at 14:05 yesterday' → 'white van')."""
    for a, b in sorted(wall.spans, reverse=True):
        text = text[:a] + " " + text[b:]
    return " ".join(text.split())


def recordings_line(rows: list[dict], limit: int = 6) -> str:
    """'cam1.mp4 13:00–14:00 on 30 Nov, cam2.mp4 …': what the clock holds, for an answer that found no recording then."""
    recs = sorted(recordings(rows), key=lambda r: r.start)
    parts = [f"{r.name} {r.start:%H:%M}–{r.end:%H:%M} on {r.start.day} {r.start:%b}" for r in recs[:limit]]
    return ", ".join(parts) + (f" and {len(recs) - limit} more" if len(recs) > limit else "")


def query_terms(query: str) -> list[tuple[str, tuple[str, ...]]]:
    """A search text as (ILIKE pattern, object labels it names) per meaningful word: 'white vans' → %white%, %van% (truck, car).

    >>> query_terms("the white vans near the gate")
    [('%white%', ()), ('%van%', ('truck', 'car')), ('%gate%', ())]
    """
    out: list[tuple[str, tuple[str, ...]]] = []
    for w in re.findall(r"[a-z0-9][a-z0-9'\-]*", query.lower()):
        if len(w) < 3 or (w in STOP and w not in SEARCH_KEEP and w not in OBJECT_SYNONYMS):
            continue
        stem = w[:-1] if w.endswith("s") and len(w) > 3 and not w.endswith(("ss", "us")) else w
        labels = tuple(OBJECT_SYNONYMS.get(w) or OBJECT_SYNONYMS.get(stem) or ())
        term = (f"%{stem}%", labels)
        if term[0] not in [t for t, _ in out]:
            out.append(term)
    return out


def snippet(e: Event, limit: int = 160) -> str:
    """What a moment shows, in a line: the words said or written, a scene's description, else the event described."""
    if e.kind in ("speech", "scene") and e.text:
        text = " ".join(e.text.split())
    elif e.kind == "text":
        text = f'on screen: "{e.text or e.label}"'
    else:
        text = re.sub(r" (from|at) \d[\d:]* (to \d[\d:]*)?", "", e.describe()).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def search(
    graph: EventGraph,
    query: str,
    videos: list[str] | None = None,
    kinds: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    span: Span | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    limit: int = 20,
    since: str | None = None,
    until: str | None = None,
    now: datetime | None = None,
    clock: bool = True,
) -> list[Moment]:
    """Moments of the library matching ``query`` (free text; may be empty when filters are given), ranked across videos.

    The score is the share of the query's words an event matches (labels and words 1, attributes 0.8) plus, with ``embed``,
    its cosine similarity to the query. A tracked object is one moment however many windows it spans (its best one).
    A wall-clock time in ``query`` ("van at 14:05 yesterday", read against ``now``) keeps the videos recording then,
    each searched over that stretch of itself."""
    rows = select(graph, videos, since, until)
    placed = on_the_clock(query or "", rows, now) if clock else None
    if placed is not None:  # "van at 14:05": the videos recording then, each over its own stretch
        wall, covered = placed
        query = _without(query, wall)
        out = []
        for c in covered:
            lo, hi = (c.lo_s - 10.0, c.hi_s + 10.0) if wall.point else (c.lo_s, c.hi_s)
            own = Span(max(lo, span.lo if span else lo), min(hi, span.hi if span else hi))
            if own.lo <= own.hi:
                out += search(graph, query, [c.recording.video_id], kinds, labels, own, embed, limit, now=now, clock=False)
        return sorted(out, key=lambda m: (-m.score, m.wall_time or "", m.video_name))[:limit]
    by_id = {r["video_id"]: r for r in rows}
    names = {r["video_id"]: r["name"] for r in rows}
    ids = list(names)
    match = [Match(kinds=tuple(kinds), labels=tuple(labels) if labels else None)] if kinds or labels else []
    terms = query_terms(query or "")
    scored: dict[tuple[str, str], tuple[Event, float, list[str]]] = {}

    def add(vid: str, e: Event, score: float, why: str) -> None:
        old = scored.get((vid, e.id))
        scored[(vid, e.id)] = (e, (old[1] if old else 0.0) + score, (old[2] if old else []) + [why])

    if terms:
        for vid, e, s in graph.search_events(ids, terms, match, span, limit=limit * 8):
            add(vid, e, s / len(terms), "words")
    if embed is not None and (query or "").strip():
        qv = EMBED_CACHE.get(embed, [query])[0].astype(np.float32).tolist()
        for vid, e, sim in graph.similar_library_events(ids, qv, match, span, limit=limit * 4):
            if sim >= SIMILAR_MIN and e.kind != "alert":
                add(vid, e, sim, f"similar:{sim:.2f}")
    if not terms and not (embed is not None and (query or "").strip()):
        if not match and span is None:
            raise LibraryError("give words to search for, or a filter (--kind, --label, a time range)")
        for vid in ids:  # filters only: the moments that meet them, most confident first
            for e in graph.find_events(vid, match, span, order="confidence desc", limit=limit * 4):
                add(vid, e, e.confidence, "filter")
    ranked = sorted(scored.items(), key=lambda kv: (-kv[1][1], names[kv[0][0]], kv[1][0].t_start))
    out: list[Moment] = []
    tracks: set[tuple[str, int]] = set()
    for (vid, _), (e, score, why) in ranked:
        if e.kind == "object" and e.track_id is not None:
            if (vid, e.track_id) in tracks:
                continue
            tracks.add((vid, e.track_id))
        wall = wall_time_of(by_id[vid], e.t_start)
        out.append(Moment(vid, names[vid], e.t_start, e.t_end, e.id, e.kind, e.label, snippet(e), round(score, 4), why, wall.isoformat() if wall else None))
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------------------------------------
# questions over the library


@dataclass
class LibraryCitation:
    video_id: str
    video_name: str
    t_start: float
    t_end: float
    event_id: str
    wall_time: str | None = None  # when t_start happened (ISO, UTC), where the video's recording start is known


@dataclass
class VideoAnswer:
    """What one video contributed: its answer (times cited as in a single-video answer) and how relevant it is."""

    video_id: str
    video_name: str
    text: str
    citations: list[LibraryCitation]
    score: float
    matches: int


@dataclass
class LibraryAnswer:
    text: str
    citations: list[LibraryCitation]
    videos: list[VideoAnswer]  # the videos that answered, the most relevant first
    searched: int  # how many videos were asked
    plan: dict = field(default_factory=dict)
    engine: str = "extractive"

    def to_dict(self) -> dict:
        return {
            "answer": self.text,
            "citations": [asdict(c) for c in self.citations],
            "engine": self.engine,
            "searched": self.searched,
            "videos": [{"video_id": v.video_id, "video_name": v.video_name, "score": v.score, "matches": v.matches} for v in self.videos],
            "plan": self.plan,
        }


def _relevance(r: RetrievalResult) -> float:
    """How well a video answers the plan: what matched it (a track counts once), then the best context evidence."""
    best = max((e.score for e in r.evidence), default=0.0)
    return (2.0 + min(r.match_total, 50) / 50.0 if r.matches else 0.0) + min(best, 3.0) / 3.0


def _video_plan(plan: QueryPlan, duration: float, longest: float) -> QueryPlan:
    """The library's plan for one video: a range measured from the end ("in the last 5 minutes") ends at this video's end."""
    p = QueryPlan.from_dict(plan.to_dict())
    if p.time_range is not None:
        lo, hi = p.time_range
        if p.scope == "relative" and longest and hi >= longest - 1e-6 and not p.anchor:
            lo, hi = max(0.0, duration - (hi - lo)), duration
        p.time_range = (min(lo, duration), min(hi, max(duration, lo)))
    return p


class LibraryAsk:
    """Questions over many videos: one plan, the single-video retriever and extractive engine per video, ranked across videos."""

    def __init__(self, graph: EventGraph, embed: Callable[[list[str]], np.ndarray] | None = None, max_videos: int = 5):
        self.graph = graph
        self.embed = embed
        self.retriever = Retriever(graph, embed=embed)
        self.engine = ExtractiveEngine()
        self.max_videos = max_videos

    def plan(self, question: str, rows: list[dict]) -> QueryPlan:
        """The question planned once, against what the selected videos hold together."""
        vocab = Vocabulary()
        for r in rows:
            v = self.retriever.vocabulary(r["video_id"])
            vocab.objects |= v.objects
            vocab.sounds |= v.sounds
            vocab.texts |= v.texts
            vocab.has_speech = vocab.has_speech or v.has_speech
            vocab.spoken |= v.spoken
        longest = max((float(r["duration_s"] or 0.0) for r in rows), default=0.0)
        return plan_question(question, longest, vocab, self.embed)

    def ask(self, question: str, videos: list[str] | None = None, now: datetime | None = None) -> LibraryAnswer:
        """Answer ``question`` over the videos (all, or those named); ``now`` (naive UTC, default the present) is what
        'yesterday' and 'on Monday' are read against."""
        question = " ".join((question or "").split())
        if not question:
            raise LibraryError('ask a question, e.g. python -m orchestrator ask --library "which videos have a dog?"')
        rows = [r for r in select(self.graph, videos) if (r["status"] or "") != "failed"]
        if not rows:
            raise LibraryError("no videos to ask about: ingest some with `python -m orchestrator ingest DIR`")
        asked = {r["video_id"]: question for r in rows}  # the question as each video reads it
        clock_line = ""
        clock = on_the_clock(question, rows, now)
        if clock is not None:
            wall, covered = clock
            if not covered:
                text = f"No recording covers {wall.describe()}: the videos on the clock are {recordings_line(rows)}."
                return LibraryAnswer(text, [], [], len(rows), {"clock": {"asked": wall.describe(), "videos": []}})
            by_id = {r["video_id"]: r for r in rows}
            rows = [by_id[c.recording.video_id] for c in covered]
            asked = {c.recording.video_id: rewrite(wall, c) for c in covered}
            asked = {vid: q if re.search(r"[a-z]{3}", q, re.I) else "what happened?" for vid, q in asked.items()}
            at = lambda c, t: _clock_time(t, c.recording.duration_s)  # noqa: E731
            clock_line = f"{wall.describe()[:1].upper()}{wall.describe()[1:]} is in {len(covered)} recording{'s' if len(covered) > 1 else ''}: " + ", ".join(
                f"{c.recording.name} [{at(c, c.lo_s)}]" + ("" if wall.point else f"–[{at(c, c.hi_s)}]") for c in covered
            )
            off = [r["name"] for r in by_id.values() if r.get("recorded_at") is None]
            if off:
                clock_line += f" ({len(off)} not on the clock, not asked: {', '.join(off[:4])}{', …' if len(off) > 4 else ''})"
        plans: dict[str, QueryPlan] = {}
        for q in dict.fromkeys(asked.values()):  # one plan for the library (one per reading when the clock moves the time)
            plans[q] = self.plan(q, rows)
        plan = plans[asked[rows[0]["video_id"]]]
        longest = max(float(r["duration_s"] or 0.0) for r in rows)
        found: list[tuple[float, dict, RetrievalResult]] = []
        for r in rows:
            q = asked[r["video_id"]]
            result = self.retriever.retrieve(r["video_id"], q, plan=_video_plan(plans[q], float(r["duration_s"] or 0.0), longest))
            found.append((_relevance(result), r, result))
        found.sort(key=lambda x: (-x[0], x[1]["name"]))
        entities = bool(plan.object_labels or plan.sound_labels or plan.keywords or plan.anchor or plan.unknown or plan.colours)
        answering = [f for f in found if f[2].matches] if entities or plan.intent != "summary" else [f for f in found if f[2].matches or f[2].evidence]
        answers = [self._answer(asked[r["video_id"]], r, result, score) for score, r, result in answering[: self.max_videos]]
        text = self._compose(question, plan, answers, answering, rows)
        if clock_line:
            text = clock_line + ".\n\n" + text
        citations = [c for a in answers for c in a.citations]
        doc = plan.to_dict()
        if clock is not None:
            doc["clock"] = {"asked": clock[0].describe(), "videos": {vid: q for vid, q in asked.items()}}
        return LibraryAnswer(text, citations, answers, len(rows), doc)

    def _answer(self, question: str, row: dict, result: RetrievalResult, score: float) -> VideoAnswer:
        text, cites = self.engine.compose_cited(AnswerRequest(question, result))
        name = row["name"]

        def cite(m: re.Match) -> str:
            at = wall_time_of(row, int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3)))
            return f"{name} {m.group(0)}" + (f" ({wall_label(at)})" if at else "")

        text = CITE_RE.sub(cite, text)
        return VideoAnswer(
            row["video_id"],
            name,
            text,
            [LibraryCitation(row["video_id"], name, c.t_start, c.t_end, c.event_id, _iso(wall_time_of(row, c.t_start))) for c in cites],
            round(score, 4),
            len(result.matches),
        )

    def _compose(self, question: str, plan: QueryPlan, answers: list[VideoAnswer], answering: list, rows: list[dict]) -> str:
        n = len(rows)
        if not answers and n == 1:
            return f"I don't know — the one video I searched ({rows[0]['name']}) has nothing that answers this."
        if not answers:
            return (
                f"I don't know — none of the {n} videos I searched ({', '.join(r['name'] for r in rows[:8])}"
                f"{', …' if n > 8 else ''}) has anything that answers this."
            )
        names = ", ".join(a.video_name for a in answers)
        more = len(answering) - len(answers)
        head = f"Found in {len(answering)} of {n} videos: {names}" + (f" (and {more} more)" if more > 0 else "") + "." if n > 1 else f"In {names}:"
        return "\n\n".join([head] + [f"**{a.video_name}**: {a.text}" for a in answers])


def _clock_time(t: float, duration_s: float) -> str:
    """A moment as the answers of that video write it: hh:mm:ss throughout a video over an hour."""
    text = fmt_time(t)
    return f"00:{text}" if duration_s >= 3600 and text.count(":") == 1 else text


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def citation_line(c: LibraryCitation) -> str:
    wall = f" ({wall_label(datetime.fromisoformat(c.wall_time))})" if c.wall_time else ""
    return f"{c.video_name} [{fmt_time(c.t_start)}]{wall} {c.event_id}"


__all__ = ["LibraryAnswer", "LibraryAsk", "LibraryCitation", "LibraryError", "Moment", "query_terms", "search", "select", "snippet"]
