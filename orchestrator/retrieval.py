"""Retrieval: a question's plan (``orchestrator/planner.py``) run on the event graph.

The plan says what is asked, about which entities per lane, and when; retrieval finds the events
that answer it (``matches``, in time order, a track's per-window segments merged into one item),
resolves anchors on the graph first ("right after the doorbell": the doorbell, then what follows),
picks ordinals by time ("the second person"), widens a moment that has nothing to the nearest such
events, and when nothing matches says what the graph does have nearby. Aggregates — distinct
tracks, first/last appearance, time visible, most at once — are computed by SQL, never guessed.
Context evidence for summaries and the VLM comes from SQL and from vector similarity of the
question to every event's text (``array_cosine_similarity``).

    retriever = Retriever(con, embed=models.embed)
    result = retriever.retrieve(video_id, "how many people walk by after 0:30?")
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from .events import fmt_time

from .planner import (  # noqa: F401 - re-exported: the plan is part of retrieval's interface
    COCO_LABELS, EMBED_CACHE, OBJECT_SYNONYMS, QueryPlan, TIME_RE, Vocabulary, anchor_labels, graph_sound_labels, parse_clock, plan_question,
)

LEAVE_RX = re.compile(r"\b(leaves?|left|leaving|exits?|exited|disappears?|disappeared|goes away|gone|stops?|stopped|ends?|ended|finishes|finished|"
                      r"is over|out of (?:view|frame|sight))\b")
ANCHOR_FILLER = {"the", "someone", "somebody", "person", "man", "woman", "he", "she", "they", "first", "second", "last", "says", "said", "his",
                 "her", "their", "its", "this", "that", "has", "have", "had", "was", "were", "is", "are", "been", "finish", "finishes", "ends",
                 "stops", "done", "over", "speaking", "talking", "up", "off", "out"}
ANCHOR_EDGES = {"end": "end", "the end": "end", "finish": "end", "ending": "end", "start": "start", "the start": "start",
                "beginning": "start", "the beginning": "start", "outset": "start"}


@dataclass
class Evidence:
    event_id: str
    kind: str
    label: str
    t_start: float
    t_end: float
    confidence: float
    text: str = ""
    track_id: int | None = None
    score: float = 0.0
    why: list[str] = field(default_factory=list)
    best_t: float | None = None
    event_ids: list[str] = field(default_factory=list)  # all events merged into this item (segments of one track)
    attrs: dict = field(default_factory=dict)

    @property
    def cite(self) -> str:
        return f"[{fmt_time(round(self.t_start))}]"

    def attr(self, name: str):
        """An attribute as the objects lane stores it (``appearance_colours``) or plainly (``colours``)."""
        v = self.attrs.get(f"appearance_{name}")
        return v if v is not None else self.attrs.get(name)

    @property
    def colours(self) -> list[str]:
        c = self.attr("colours") or self.attr("colors") or self.attr("colour") or []
        return [c] if isinstance(c, str) else [str(x) for x in c]

    def has_colour(self, wanted: list[str]) -> bool:
        """'blue' matches 'dark blue'; 'grey' matches 'gray'."""
        names = {c.lower().replace("gray", "grey") for c in self.colours}
        return any(w.lower().replace("gray", "grey") in n.split() or w.lower() == n for w in wanted for n in names)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LabelFacts:
    label: str
    tracks: int
    first_t: float
    last_t: float
    visible_s: float
    max_at_once: int
    first_event: str
    last_event: str


@dataclass
class RetrievalResult:
    video_id: str
    video_name: str
    duration_s: float
    plan: QueryPlan
    evidence: list[Evidence]
    object_facts: dict[str, LabelFacts]
    sound_facts: dict[str, int]
    speech_count: int
    time_range: tuple[float, float] | None
    windows_done: int
    windows_total: int
    key_frames: list[tuple[float, str]]  # (time, event id) to show a VLM
    anchor_event: Evidence | None = None
    matches: list[Evidence] = field(default_factory=list)  # what answers the plan, in time order (a track is one item)
    match_total: int = 0  # how many there are in all (matches may be cut)
    nearby: list[Evidence] = field(default_factory=list)  # when nothing matched: the closest things the graph has
    widened: bool = False  # a moment asked about had nothing: matches are the nearest ones around it
    anchor_missing: bool = False  # the plan's anchor was not found in the graph
    vocabulary: Vocabulary | None = None

    @property
    def partial(self) -> bool:
        return self.windows_done < self.windows_total


class VideoNotFound(LookupError):
    pass


_VOCAB_CACHE: dict[tuple[str, int, int], Vocabulary] = {}


class Retriever:
    MATCH_ROWS = 400

    def __init__(self, con, embed: Callable[[list[str]], np.ndarray] | None = None, max_evidence: int = 12):
        self.con = con
        self.embed = embed
        self.max_evidence = max_evidence

    def _rows(self, sql: str, params: list) -> list[dict]:
        cur = self.con.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    # -- the graph's own vocabulary ---------------------------------------------------------
    def vocabulary(self, video_id: str) -> Vocabulary:
        """Distinct object classes, sound names and on-screen texts of a video (cached per ingest state)."""
        n_done, n_events = self.con.execute(
            "SELECT (SELECT count(*) FROM windows WHERE video_id = ? AND status = 'done'), (SELECT count(*) FROM events WHERE video_id = ?)",
            [video_id, video_id]).fetchone()
        key = (video_id, int(n_done or 0), int(n_events or 0))
        if key in _VOCAB_CACHE:
            return _VOCAB_CACHE[key]
        vocab = Vocabulary()
        for kind, label in self.con.execute("SELECT DISTINCT kind, label FROM events WHERE video_id = ? AND kind IN ('object', 'sound', 'text', 'speech')",
                                            [video_id]).fetchall():
            if kind == "object":
                vocab.objects.add(label)
            elif kind == "sound":
                vocab.sounds.add(label)
            elif kind == "text":
                vocab.texts.add(label)
            else:
                vocab.has_speech = True
        if len(_VOCAB_CACHE) > 256:
            _VOCAB_CACHE.clear()
        _VOCAB_CACHE[key] = vocab
        return vocab

    def plan(self, video_id: str, question: str, duration_s: float | None = None) -> QueryPlan:
        if duration_s is None:
            row = self.con.execute("SELECT duration_s FROM videos WHERE video_id = ?", [video_id]).fetchone()
            duration_s = float(row[0] or 0.0) if row else 0.0
        return plan_question(question, duration_s, self.vocabulary(video_id), self.embed)

    # -- retrieval -------------------------------------------------------------------------
    def retrieve(self, video_id: str, question: str, plan: QueryPlan | None = None, max_evidence: int | None = None) -> RetrievalResult:
        video = self._rows("SELECT video_id, name, duration_s, n_windows FROM videos WHERE video_id = ?", [video_id])
        if not video:
            raise VideoNotFound(f"unknown video id {video_id!r}")
        v = video[0]
        duration = float(v["duration_s"] or 0.0)
        vocab = self.vocabulary(video_id)
        plan = plan or plan_question(question, duration, vocab, self.embed)
        if plan.sound_labels:
            plan.graph_sound_labels = graph_sound_labels(plan.sound_labels, vocab.sounds) or list(plan.graph_sound_labels)
        limit = max_evidence or self.max_evidence
        done = self.con.execute("SELECT count(*), max(t_end) FROM windows WHERE video_id = ? AND status = 'done'", [video_id]).fetchone()
        anchor, anchor_missing = None, False
        if plan.anchor:
            anchor = self._anchor(video_id, plan.anchor, plan)
            anchor_missing = anchor is None
            if anchor is not None and plan.time_range is None:
                ends = "end" in anchor.why
                if plan.anchor_side == "during" and ends:
                    plan.anchor_side = "after"  # "when the phone stops ringing": what follows its end
                if plan.anchor_side == "during":
                    plan.time_range = (max(0.0, anchor.t_start - 1.0), anchor.t_end + 1.0)
                elif plan.anchor_side == "after":
                    plan.time_range, plan.starts_after = (anchor.t_end if ends else anchor.t_start, duration), True
                elif plan.anchor_side == "before":
                    plan.time_range = (0.0, anchor.t_start)
                else:  # between the anchor and another anchor (or the end)
                    other = ANCHOR_EDGES.get(plan.anchor_end)
                    if other == "end":
                        t_end = duration
                    elif other == "start":
                        t_end = 0.0
                    else:
                        second = self._anchor(video_id, plan.anchor_end, plan, after=anchor.t_start)
                        t_end = second.t_end if second is not None else duration
                    plan.time_range = (min(anchor.t_start, t_end), max(anchor.t_end, t_end))
        lo, hi = plan.time_range or (0.0, max(duration, 1e9))
        # "after X" means what starts after X; otherwise anything overlapping the range
        time_sql = " AND t_start >= ? AND t_start <= ?" if plan.starts_after else " AND t_end >= ? AND t_start <= ?"

        matches, total = self._matches(video_id, plan, lo, hi, time_sql, anchor)
        widened = False
        if not matches and plan.point is not None and plan.scope == "absolute":
            # nothing at the moment asked about: the nearest such things within two minutes, closest first
            wl, wh = max(0.0, plan.point - 120), plan.point + 120
            near, _ = self._matches(video_id, plan, wl, wh, " AND t_end >= ? AND t_start <= ?", anchor)
            near.sort(key=lambda e: min(abs(e.t_start - plan.point), abs(e.t_end - plan.point)))
            if near:
                matches, total, widened = sorted(near[:3], key=lambda e: e.t_start), min(len(near), 3), True
        evidence = self._evidence(video_id, question, plan, lo, hi, time_sql, limit)
        nearby = [] if matches else self._nearby(video_id, plan, lo, hi, time_sql)
        facts = self._object_facts(video_id, plan, lo, hi, time_sql)
        sound_facts = dict(self.con.execute(
            f"SELECT label, count(*) FROM events WHERE video_id = ? AND kind = 'sound'{time_sql} GROUP BY label ORDER BY 2 DESC",
            [video_id, lo, hi]).fetchall())
        speech_count = self.con.execute(f"SELECT count(*) FROM events WHERE video_id = ? AND kind = 'speech'{time_sql}", [video_id, lo, hi]).fetchone()[0]
        pool = {e.event_id: e for e in evidence}
        for e in matches:
            pool.setdefault(e.event_id, e)
        frames = self._key_frames(list(pool.values()))
        return RetrievalResult(video_id, v["name"], duration, plan, evidence, facts, sound_facts, int(speech_count), plan.time_range,
                               int(done[0] or 0), int(v["n_windows"] or 0), frames, anchor, matches, total, nearby, widened, anchor_missing, vocab)

    def _lane_where(self, plan: QueryPlan) -> list[tuple[str, str, list]]:
        """(lane, SQL condition, params) for each lane the plan asks about."""
        out: list[tuple[str, str, list]] = []
        lanes = plan.lanes or []
        if "object" in lanes or plan.object_labels:
            if plan.object_labels:
                out.append(("object", f"kind = 'object' AND label IN ({','.join('?' * len(plan.object_labels))})", list(plan.object_labels)))
            elif plan.unknown and plan.intent in ("yesno", "when", "count", "duration", "colour"):
                # asked about a thing by a name no lane knows: only a label that contains the word answers it
                words = _word_patterns(plan.unknown[:3])
                out.append(("object", "kind = 'object' AND (" + " OR ".join("label ILIKE ?" for _ in words) + ")", words))
            else:
                out.append(("object", "kind = 'object'", []))
        if "sound" in lanes or plan.sound_labels:
            labels = plan.graph_sound_labels if plan.sound_labels else []
            if plan.sound_labels and not labels:
                out.append(("sound", "FALSE", []))  # asked for a sound this graph never heard
            elif labels:
                out.append(("sound", f"kind = 'sound' AND label IN ({','.join('?' * len(labels))})", list(labels)))
            else:
                out.append(("sound", "kind = 'sound'", []))
        if "speech" in lanes:
            words = _word_patterns(plan.keywords) if plan.intent in ("when", "count", "yesno", "said", "duration") else []
            if words:
                out.append(("speech", "kind = 'speech' AND (" + " OR ".join("text ILIKE ?" for _ in words) + ")", words))
            else:
                out.append(("speech", "kind = 'speech'", []))
        if "text" in lanes:
            words = _word_patterns(plan.keywords)
            cond = "kind = 'text'" + (" AND (" + " OR ".join("(label ILIKE ? OR text ILIKE ?)" for _ in words) + ")" if words else "")
            out.append(("text", cond, [w for w in words for _ in (0, 1)]))
        if "alert" in lanes:
            out.append(("alert", "kind = 'alert'", []))
        if "scene_cut" in lanes:
            out.append(("scene_cut", "kind = 'scene_cut'", []))
        if "motion" in lanes:
            out.append(("motion", "kind IN ('motion', 'object')", []))
        return out

    def _matches(self, video_id: str, plan: QueryPlan, lo: float, hi: float, time_sql: str, anchor: Evidence | None) -> tuple[list[Evidence], int]:
        lanes = self._lane_where(plan)
        if not lanes:
            if plan.intent not in ("summary", "seen", "heard") and plan.scope == "none":
                return [], 0
            cond, params = "kind NOT IN ('scene')", []
        else:
            cond = " OR ".join(f"({c})" for _, c, _ in lanes)
            params = [p for _, _, ps in lanes for p in ps]
        rows = self._rows(f"SELECT * FROM events WHERE video_id = ? AND ({cond}){time_sql} ORDER BY t_start LIMIT {self.MATCH_ROWS}",
                          [video_id, *params, lo, hi])
        cut = len(rows) >= self.MATCH_ROWS
        if cut:  # a long video: the first rows and the last ones, so first/last/final are right; the total by SQL
            seen = {r["id"] for r in rows}
            rows += [r for r in reversed(self._rows(f"SELECT * FROM events WHERE video_id = ? AND ({cond}){time_sql} ORDER BY t_end DESC LIMIT 60",
                                                    [video_id, *params, lo, hi])) if r["id"] not in seen]
            full = self.con.execute(f"""SELECT count(DISTINCT CASE WHEN kind = 'object' AND track_id IS NOT NULL THEN 'T' || track_id ELSE id END)
                                        FROM events WHERE video_id = ? AND ({cond}){time_sql}""", [video_id, *params, lo, hi]).fetchone()[0]
        items = [self._ev(r) for r in rows if anchor is None or (r["id"] != anchor.event_id and not (plan.anchor_side == "after" and r["label"] == anchor.label
                                                                                                  and r["kind"] == anchor.kind and r["t_start"] < anchor.t_end + 1))]
        items = self._merge_tracks(items)
        if plan.exclude:
            items = [e for e in items if not set(e.event_ids) & set(plan.exclude)]
        if plan.colours and not (plan.intent == "yesno" and plan.ordinal is not None):
            coloured = [e for e in items if e.kind != "object" or e.has_colour(plan.colours)]
            items = coloured if any(e.colours for e in items) else items  # no colours recorded: the colour cannot narrow it
        if "speech" in [lane for lane, _, _ in lanes] and plan.intent == "said" and plan.keywords and not any(e.kind == "speech" for e in items):
            # "what did they say about trains?" with no word match: the speech nearest in meaning
            items += self._similar_speech(video_id, plan, lo, hi, time_sql)
            items.sort(key=lambda e: e.t_start)
        total = max(len(items), int(full)) if cut else len(items)
        if plan.ordinal is not None and items and (plan.intent not in ("count", "summary") or (plan.intent == "summary" and plan.scope == "ordinal")):
            pool = items if plan.intent != "summary" else [e for e in items if e.kind not in ("motion", "scene")] or items
            kinds = [k for k in ("speech", "object", "sound", "text") if any(e.kind == k for e in items)]
            if len(kinds) > 1 and "speech" in (plan.lanes or []):
                pool = [e for e in items if e.kind == "speech"]
            n = plan.ordinal
            if n == -1 or (n > 0 and n <= len(pool)):
                items, total = [pool[-1] if n == -1 else pool[n - 1]], 1
            else:
                items, total = [], 0
        return items, total

    def _similar_speech(self, video_id: str, plan: QueryPlan, lo: float, hi: float, time_sql: str) -> list[Evidence]:
        if self.embed is None:
            return []
        try:
            qv = EMBED_CACHE.get(self.embed, [plan.question])[0].astype(np.float32).tolist()
            rows = self._rows(
                f"""SELECT e.*, array_cosine_similarity(m.vec, ?::FLOAT[384]) AS sim FROM embeddings m
                    JOIN events e ON e.video_id = m.video_id AND e.id = m.event_id
                    WHERE m.video_id = ? AND e.kind = 'speech'{time_sql.replace('t_', 'e.t_')} ORDER BY sim DESC LIMIT 3""",
                [qv, video_id, lo, hi])
        except Exception:  # noqa: BLE001
            return []
        return [self._ev(r) for r in rows if r["sim"] is not None and r["sim"] > 0.25]

    def _nearby(self, video_id: str, plan: QueryPlan, lo: float, hi: float, time_sql: str) -> list[Evidence]:
        """What the graph does have: the nearest things of the asked lanes outside the asked time, else the strongest
        few of other kinds inside it."""
        out: list[Evidence] = []
        lanes = [(lane, c, p) for lane, c, p in self._lane_where(plan) if c != "FALSE"]
        if lanes and plan.time_range is not None:
            cond = " OR ".join(f"({c})" for _, c, _ in lanes)
            params = [p for _, _, ps in lanes for p in ps]
            rows = self._rows(f"""SELECT * FROM events WHERE video_id = ? AND ({cond}) AND (t_end < ? OR t_start > ?)
                                  ORDER BY least(abs(t_end - ?), abs(t_start - ?)) LIMIT 2""", [video_id, *params, lo, hi, lo, hi])
            out += [self._ev(r) for r in rows]
        if not out:
            rows = self._rows(f"""SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY kind ORDER BY confidence DESC) AS rk FROM events
                                  WHERE video_id = ? AND kind IN ('object', 'sound', 'speech', 'text', 'alert'){time_sql}) WHERE rk <= 1
                                  ORDER BY t_start LIMIT 4""", [video_id, lo, hi])
            out += [self._ev(r) for r in rows]
        return sorted(out, key=lambda e: e.t_start)

    def _evidence(self, video_id: str, question: str, plan: QueryPlan, lo: float, hi: float, time_sql: str, limit: int) -> list[Evidence]:
        """Ranked context: label and word matches, vector similarity, and the timeline of the range."""
        scores: dict[str, tuple[float, list[str]]] = {}

        def bump(event_id: str, amount: float, reason: str) -> None:
            s, why = scores.get(event_id, (0.0, []))
            scores[event_id] = (s + amount, why + [reason])

        labels = plan.object_labels + (plan.graph_sound_labels if plan.sound_labels else [])
        if labels:
            for r in self._rows(f"SELECT id FROM events WHERE video_id = ? AND label IN ({','.join('?' * len(labels))}){time_sql} ORDER BY t_start LIMIT 200",
                                [video_id, *labels, lo, hi]):
                bump(r["id"], 1.0, "label")
        for kw in _word_patterns(plan.keywords[:6]):
            for r in self._rows(f"SELECT id FROM events WHERE video_id = ? AND (text ILIKE ? OR label ILIKE ?){time_sql} LIMIT 50",
                                [video_id, kw, kw, lo, hi]):
                bump(r["id"], 0.8, f"word:{kw.strip('%')}")
        lanes = set(plan.lanes)
        for lane, kind in (("speech", "speech"), ("alert", "alert"), ("text", "text")):
            if lane in lanes:
                for r in self._rows(f"SELECT id FROM events WHERE video_id = ? AND kind = ?{time_sql} ORDER BY t_start LIMIT 40", [video_id, kind, lo, hi]):
                    bump(r["id"], 0.3, kind)
        if "sound" in lanes and not plan.sound_labels:
            for r in self._rows(f"SELECT id FROM events WHERE video_id = ? AND kind = 'sound'{time_sql} ORDER BY confidence DESC LIMIT 40", [video_id, lo, hi]):
                bump(r["id"], 0.3, "sound")
        if self.embed is not None:
            try:
                qv = EMBED_CACHE.get(self.embed, [question])[0].astype(np.float32).tolist()
                for r in self._rows(
                    f"""SELECT e.id, array_cosine_similarity(m.vec, ?::FLOAT[384]) AS sim FROM embeddings m
                        JOIN events e ON e.video_id = m.video_id AND e.id = m.event_id
                        WHERE m.video_id = ?{time_sql.replace('t_', 'e.t_')} ORDER BY sim DESC LIMIT 24""",
                    [qv, video_id, lo, hi],
                ):
                    if r["sim"] is not None and r["sim"] > 0.2:
                        bump(r["id"], float(r["sim"]), f"similar:{r['sim']:.2f}")
            except Exception:  # noqa: BLE001 - no embedder: retrieval goes on with SQL only
                pass
        if plan.time_range is not None or plan.intent == "summary" or len(scores) < 3:
            # the timeline itself: spread over the range so a summary sees every part of it
            for r in self._rows(
                f"""SELECT id FROM (SELECT id, kind, confidence, t_start,
                        row_number() OVER (PARTITION BY window_idx, kind ORDER BY confidence DESC) AS rk FROM events
                        WHERE video_id = ?{time_sql}) WHERE rk <= 2 ORDER BY t_start LIMIT 60""",
                [video_id, lo, hi],
            ):
                bump(r["id"], 0.15, "timeline")
        evidence = self._load(video_id, scores)
        evidence = self._merge_tracks(evidence)
        if plan.time_range is not None:  # a scene summary spans beyond the asked range: keep to the events inside it
            evidence = [e for e in evidence if e.kind != "scene"]
        evidence.sort(key=lambda e: (-e.score, e.t_start))
        return evidence[:limit]

    def _anchor(self, video_id: str, phrase: str, plan: QueryPlan, after: float | None = None) -> Evidence | None:
        """The first event an anchor phrase names: a sound, an object, spoken words, on-screen text, a scene cut."""
        phrase = phrase.strip()
        if ANCHOR_EDGES.get(phrase):
            return None
        objects, sounds = anchor_labels(phrase)
        vocab = self.vocabulary(video_id)
        glabels = graph_sound_labels(sounds, vocab.sounds)
        t0 = -1.0 if after is None else after
        m = re.search(r"\b(first|second|third|last|final|next)\b", phrase)
        nth = {"first": 1, "second": 2, "third": 3, "last": -1, "final": -1}.get(m.group(1) if m else "", 1)
        tries: list[tuple[str, list]] = []
        if glabels:
            tries.append((f"kind = 'sound' AND label IN ({','.join('?' * len(glabels))})", glabels))
        if re.search(r"\b(cut|scene change|new scene|scene changes|transition)\b", phrase):
            tries.append(("kind = 'scene_cut'", []))
        if objects:
            tries.append((f"kind = 'object' AND label IN ({','.join('?' * len(objects))})", objects))
        said = re.search(r"\b(?:says?|said|mentions?|mentioned|speaks?|spoke|talks?|talking|asks?|utters?|speech|announcement|voice|words)\b"
                         r"(?: (?:about|the word|the|that|of))? ?(.*)$", phrase)
        words = [w for w in re.findall(r"[a-z][a-z'\-]{2,}", (said.group(1) if said else phrase).lower())
                 if w not in ANCHOR_FILLER]
        if said and not words:
            tries.insert(0, ("kind = 'speech'", []))
            objects = []
        for w in words[:3]:
            tries.append(("kind IN ('speech', 'text') AND text ILIKE ?", [f"%{w}%"]))
            tries.append(("kind IN ('text', 'alert') AND label ILIKE ?", [f"%{w}%"]))
        if not tries:
            return None
        for cond, params in tries:
            order = "t_start DESC" if nth == -1 else "t_start"
            rows = self._rows(f"SELECT * FROM events WHERE video_id = ? AND {cond} AND t_start > ? ORDER BY {order} LIMIT {max(nth, 1)}",
                              [video_id, *params, t0])
            if rows:
                e = self._ev(rows[min(len(rows), max(nth, 1)) - 1])
                e.why = ["anchor"]
                if e.kind == "object" and e.track_id is not None:  # the whole track, not one window's segment of it
                    t0, t1 = self.con.execute("SELECT min(t_start), max(t_end) FROM events WHERE video_id = ? AND kind = 'object' AND track_id = ?",
                                              [video_id, e.track_id]).fetchone()
                    e.t_start, e.t_end = float(t0), float(t1)
                if LEAVE_RX.search(phrase):
                    e.why = ["anchor", "end"]  # "after the person leaves": the moment it ends
                return e
        return None

    @staticmethod
    def _ev(r: dict) -> Evidence:
        import json  # noqa: PLC0415

        attrs = r.get("attrs")
        attrs = json.loads(attrs) if isinstance(attrs, str) and attrs else (attrs or {})
        return Evidence(r["id"], r["kind"], r["label"], r["t_start"], r["t_end"], r["confidence"], r.get("text") or "", r.get("track_id"),
                        best_t=attrs.get("best_t"), event_ids=[r["id"]], attrs=attrs)

    def _load(self, video_id: str, scores: dict[str, tuple[float, list[str]]]) -> list[Evidence]:
        if not scores:
            return []
        ids = list(scores)
        rows = self._rows(f"SELECT * FROM events WHERE video_id = ? AND id IN ({','.join('?' * len(ids))})", [video_id, *ids])
        out = []
        for r in rows:
            s, why = scores[r["id"]]
            e = self._ev(r)
            e.score, e.why = round(s, 4), why
            out.append(e)
        return out

    @staticmethod
    def _merge_tracks(evidence: list[Evidence]) -> list[Evidence]:
        """One item per track: a track's per-window segments are one object in the answer."""
        merged: dict[int, Evidence] = {}
        out = []
        for e in sorted(evidence, key=lambda x: x.t_start):
            if e.kind == "object" and e.track_id is not None:
                m = merged.get(e.track_id)
                if m is None:
                    merged[e.track_id] = e
                    out.append(e)
                else:
                    m.t_end = max(m.t_end, e.t_end)
                    m.score = max(m.score, e.score)
                    m.event_ids.append(e.event_id)
                    for k, val in e.attrs.items():
                        m.attrs.setdefault(k, val)
                    if e.confidence > m.confidence:
                        m.confidence, m.best_t = e.confidence, e.best_t
            else:
                out.append(e)
        return out

    def _object_facts(self, video_id: str, plan: QueryPlan, lo: float, hi: float, time_sql: str) -> dict[str, LabelFacts]:
        labels = plan.object_labels
        where = f"AND label IN ({','.join('?' * len(labels))})" if labels else ""
        rows = self._rows(
            f"""SELECT label, count(DISTINCT track_id) AS tracks, min(t_start) AS first_t, max(t_end) AS last_t,
                       sum(t_end - t_start) AS visible_s, arg_min(id, t_start) AS first_event, arg_max(id, t_end) AS last_event
                FROM events WHERE video_id = ? AND kind = 'object' {where}{time_sql}
                GROUP BY label ORDER BY tracks DESC, label""",
            [video_id, *labels, lo, hi],
        )
        at_once = dict(self.con.execute(
            f"""SELECT label, max(n) FROM (SELECT label, t, count(DISTINCT track_id) AS n FROM detections
                WHERE video_id = ? AND track_id IS NOT NULL {where} AND t >= ? AND t <= ? GROUP BY label, t) GROUP BY label""",
            [video_id, *labels, lo, hi]).fetchall())
        return {
            r["label"]: LabelFacts(r["label"], int(r["tracks"]), float(r["first_t"]), float(r["last_t"]), float(r["visible_s"] or 0.0),
                                   int(at_once.get(r["label"], 1) or 1), r["first_event"], r["last_event"])
            for r in rows
        }

    @staticmethod
    def _key_frames(evidence: list[Evidence], limit: int = 8) -> list[tuple[float, str]]:
        frames: list[tuple[float, str]] = []
        for e in sorted(evidence, key=lambda x: -x.score):
            t = e.best_t if e.best_t is not None else (e.t_start + e.t_end) / 2
            if all(abs(t - f[0]) > 2.0 for f in frames):
                frames.append((round(t, 3), e.event_id))
            if len(frames) >= limit:
                break
        return sorted(frames)


def _word_patterns(words: list[str]) -> list[str]:
    """ILIKE patterns for spoken/written words: each word and its singular ("cards" → %card%)."""
    out: list[str] = []
    for w in words:
        w = w.strip().lower()
        if len(w) < 3:
            continue
        stem = w[:-1] if w.endswith("s") and len(w) > 4 and not w.endswith("ss") else w
        pat = f"%{stem}%"
        if pat not in out:
            out.append(pat)
    return out
