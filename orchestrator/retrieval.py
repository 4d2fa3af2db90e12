"""Retrieval: from a question to ranked, de-duplicated evidence from the event graph.

A question is read for what it asks (count, when, what was said, what was heard, how long, a
summary), which objects (with synonyms: "vehicles" → car, truck, bus, motorcycle), which sounds,
which words, and which time ("at 5:30", "in the first minute", "near the end", "after the alarm").
Evidence comes from SQL over the graph (labels, words, time), from vector similarity of the
question to every event's text (``array_cosine_similarity``), and aggregates — counts of distinct
tracks, first/last appearance, time visible, most at once — are computed by SQL, never guessed.

    retriever = Retriever(con, embed=models.embed)
    result = retriever.retrieve(video_id, "how many people walk by after 0:30?")
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from .events import fmt_time

COCO_LABELS = [w.replace("_", " ") for w in (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign parking_meter bench bird cat dog "
    "horse sheep cow elephant bear zebra giraffe backpack umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite "
    "baseball_bat baseball_glove skateboard surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple sandwich "
    "orange broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard "
    "cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear hair_drier toothbrush"
).split()]

VEHICLES = ["car", "truck", "bus", "motorcycle"]
ANIMALS = ["bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"]
OBJECT_SYNONYMS: dict[str, list[str]] = {
    "vehicle": VEHICLES, "vehicles": VEHICLES, "traffic": VEHICLES + ["bicycle"],
    "people": ["person"], "persons": ["person"], "person": ["person"], "man": ["person"], "men": ["person"], "woman": ["person"],
    "women": ["person"], "someone": ["person"], "somebody": ["person"], "anyone": ["person"], "anybody": ["person"],
    "pedestrian": ["person"], "pedestrians": ["person"], "guy": ["person"], "kid": ["person"], "kids": ["person"], "child": ["person"],
    "children": ["person"], "human": ["person"], "humans": ["person"], "he": [], "she": [],
    "bike": ["bicycle"], "bikes": ["bicycle"], "cyclist": ["bicycle", "person"], "cyclists": ["bicycle", "person"],
    "motorbike": ["motorcycle"], "motorbikes": ["motorcycle"], "scooter": ["motorcycle"], "lorry": ["truck"], "van": ["truck", "car"],
    "animal": ANIMALS, "animals": ANIMALS, "pet": ["dog", "cat"], "pets": ["dog", "cat"], "phone": ["cell phone"], "phones": ["cell phone"],
    "television": ["tv"], "screen": ["tv", "laptop"], "computer": ["laptop"], "bag": ["backpack", "handbag", "suitcase"],
    "bags": ["backpack", "handbag", "suitcase"], "luggage": ["suitcase"], "table": ["dining table"], "sofa": ["couch"],
    "plant": ["potted plant"], "ball": ["sports ball"], "plane": ["airplane"], "aircraft": ["airplane"], "ship": ["boat"],
}
for _label in COCO_LABELS:
    OBJECT_SYNONYMS.setdefault(_label, [_label])
    OBJECT_SYNONYMS.setdefault(_label + ("es" if _label.endswith(("s", "sh", "ch")) else "s"), [_label])

SOUND_SYNONYMS: dict[str, list[str]] = {
    "alarm": ["tone", "siren"], "alarms": ["tone", "siren"], "beep": ["tone"], "beeps": ["tone"], "beeping": ["tone"], "ring": ["tone"],
    "ringing": ["tone"], "bell": ["tone"], "tone": ["tone"], "whistle": ["tone", "human whistle"], "siren": ["siren"], "sirens": ["siren"],
    "bang": ["loud onset", "gun", "fireworks"], "loud": ["loud onset"], "explosion": ["loud onset", "fireworks", "gun"],
    "crash": ["loud onset"], "gunshot": ["gun", "loud onset"], "gunshots": ["gun", "loud onset"], "shot": ["gun", "loud onset"],
    "shots": ["gun", "loud onset"], "fireworks": ["fireworks"], "bark": ["dog"], "barking": ["dog"], "engine": ["engine"],
    "engines": ["engine"], "motor": ["engine"], "drill": ["power tools"], "tools": ["power tools"], "noise": ["noise", "loud onset"],
    "scream": ["human vocal", "loud onset"], "shout": ["human vocal", "loud onset"], "shouting": ["human vocal", "loud onset"],
}

INTENTS = {
    "count": r"\bhow many\b|\bcount\b|\bnumber of\b|\bhow much\b",
    "when": r"\bwhen\b|\bwhat time\b|\bat what point\b|\bfirst (?:appear|seen|time|show)|\blast (?:seen|time|appear)|\btimestamp",
    "duration": r"\bhow long\b|\bduration\b|\bfor how much time\b",
    "said": r"\bsa(?:y|id|ys|ying)\b|\btalk|\bmention|\bspeak|\bspoke|\bwords?\b|\btranscri|\bconversation|\bdiscuss|\btell\b|\bquote",
    "heard": r"\bhear|\bsound|\bnoise|\baudio|\bloud|\balarm|\bbeep|\bsiren|\bbang|\bring(?:ing)?\b|\bexplosion|\bgunshot",
    "summary": r"\bwhat happen|\bsummar|\bdescribe|\boverview|\bgoing on\b|\btell me about\b|\bwhat is (?:this|the) video\b|\bwhat'?s in",
    "exists": r"^(?:is|are|was|were|did|does|do|can|could) |\bany\b",
    "alerts": r"\balert|\bwarning|\bincident|\bviolation|\brules?\b|\bflagged",
}
STOP = set("""a an the of to in on at by for with from and or but is are was were be been being do does did what when where who whom which why how
many much that this those these there here it its they them their he she his her i you we me my our your about after before during
between into out up down over under again then than so if not no any some all each every can could should would will just only very video
clip film footage scene see seen saw show shows shown appear appears appeared happen happens happened time times first last minute minutes
second seconds hour hours end beginning start middle near tell say said says talk mention anything something someone people person
summarize summarise summary describe overview happening going""".split())

RANGE_UNIT = {"second": 1, "seconds": 1, "sec": 1, "secs": 1, "s": 1, "minute": 60, "minutes": 60, "min": 60, "mins": 60, "hour": 3600, "hours": 3600}
TIME_RE = r"(\d{1,2}):(\d{2})(?::(\d{2}))?"
WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10, "twenty": 20, "thirty": 30}


def parse_clock(m: re.Match) -> float:
    a, b, c = m.group(1), m.group(2), m.group(3)
    return int(a) * 3600 + int(b) * 60 + int(c) if c is not None else int(a) * 60 + int(b)


@dataclass
class QueryPlan:
    question: str
    intents: list[str]
    object_labels: list[str]
    sound_labels: list[str]
    keywords: list[str]
    time_range: tuple[float, float] | None = None
    time_phrase: str = ""  # how the answer names the time range, e.g. "in the first minute"
    starts_after: bool = False  # "after X": only events that start after the range's start
    anchor: str = ""  # e.g. "alarm" in "after the alarm"
    anchor_side: str = ""  # "after" | "before"


def plan_question(question: str, duration_s: float) -> QueryPlan:
    q = " ".join(question.lower().split())
    intents = [name for name, rx in INTENTS.items() if re.search(rx, q)]
    words = re.findall(r"[a-z][a-z'\-]*", q)
    objects: list[str] = []
    for i, w in enumerate(words):
        pair = f"{w} {words[i + 1]}" if i + 1 < len(words) else ""
        for key in (pair, w):
            if key and key in OBJECT_SYNONYMS:
                objects += [x for x in OBJECT_SYNONYMS[key] if x not in objects]
    sounds: list[str] = []
    for w in words:
        sounds += [x for x in SOUND_SYNONYMS.get(w, []) if x not in sounds]
    keywords = [w for w in words if w not in STOP and len(w) > 2 and w not in OBJECT_SYNONYMS and w not in SOUND_SYNONYMS]
    quoted = re.findall(r"[\"“']([^\"”']{3,})[\"”']", question)
    keywords = [k.lower() for k in quoted] + keywords
    plan = QueryPlan(question, intents or ["search"], objects, sounds, keywords)
    _parse_time(q, duration_s, plan)
    return plan


def _parse_time(q: str, duration: float, plan: QueryPlan) -> None:
    end = max(duration, 0.0)
    span = max(30.0, 0.1 * end)
    rules = (
        (rf"between {TIME_RE} and {TIME_RE}", lambda m: (parse_clock(m), _clock_at(m, 4)), "between {0} and {1}"),
        (rf"from {TIME_RE} (?:to|until|till) {TIME_RE}", lambda m: (parse_clock(m), _clock_at(m, 4)), "between {0} and {1}"),
        (rf"(?:after|since) {TIME_RE}", lambda m: (parse_clock(m), end), "after {0}"),
        (rf"(?:before|until|by) {TIME_RE}", lambda m: (0.0, parse_clock(m)), "before {0}"),
        (rf"(?:at|around|near|about) {TIME_RE}", lambda m: (max(0.0, parse_clock(m) - 10), parse_clock(m) + 10), "around {0}"),
        (rf"{TIME_RE}", lambda m: (max(0.0, parse_clock(m) - 10), parse_clock(m) + 10), "around {0}"),
        (r"(?:first|opening) (?:(\d+|one|two|three|four|five|ten|twenty|thirty) )?(seconds?|secs?|minutes?|mins?|hours?)",
         lambda m: (0.0, _amount(m.group(1)) * RANGE_UNIT[m.group(2)]), "in the {text}"),
        (r"(?:last|final|closing) (?:(\d+|one|two|three|four|five|ten|twenty|thirty) )?(seconds?|secs?|minutes?|mins?|hours?)",
         lambda m: (max(0.0, end - _amount(m.group(1)) * RANGE_UNIT[m.group(2)]), end), "in the {text}"),
        (r"(\d+) (seconds?|minutes?|mins?) in\b", lambda m: (max(0.0, int(m.group(1)) * RANGE_UNIT[m.group(2)] - 10),
                                                           int(m.group(1)) * RANGE_UNIT[m.group(2)] + 10), "{text}"),
        (r"\bminute (\d+)\b", lambda m: ((int(m.group(1)) - 1) * 60.0, int(m.group(1)) * 60.0), "in {text}"),
        (r"first half", lambda m: (0.0, end / 2), "in the first half"),
        (r"second half", lambda m: (end / 2, end), "in the second half"),
        (r"\b(?:near|at|towards?|by) the end\b|\bending\b|\bat the end\b", lambda m: (max(0.0, end - span), end), "near the end"),
        (r"\b(?:at|in|near) the (?:beginning|start)\b|\bat first\b|\bopening\b", lambda m: (0.0, min(end, span)), "at the beginning"),
        (r"\bin the middle\b", lambda m: (0.4 * end, 0.6 * end), "in the middle"),
    )
    for rx, fn, label in rules:
        m = re.search(rx, q)
        if m:
            lo, hi = fn(m)
            plan.time_range = (max(0.0, min(lo, hi)), min(end, max(lo, hi)) if end else max(lo, hi))
            clocks = [x.group(0) for x in re.finditer(TIME_RE, m.group(0))]
            plan.time_phrase = label.format(*clocks, text=m.group(0))
            plan.starts_after = label.startswith("after")
            break
    m = re.search(r"\b(after|before) (?:the |a |an |that )?([a-z][a-z ]{2,30}?)(?:\?|$|,| and | did| was| were| is| happen)", q)
    if m and not plan.time_range and m.group(2).strip() not in ("that", "this", "it", "then"):
        plan.anchor, plan.anchor_side = m.group(2).strip(), m.group(1)
        # the anchor's own words name the anchor, not what is asked about
        anchor_words = set(plan.anchor.split())
        plan.sound_labels = [x for x in plan.sound_labels if not any(x in SOUND_SYNONYMS.get(w, []) for w in anchor_words)]
        plan.object_labels = [x for x in plan.object_labels if not any(x in OBJECT_SYNONYMS.get(w, []) for w in anchor_words)]
        plan.keywords = [k for k in plan.keywords if k not in anchor_words]


def _clock_at(m: re.Match, group: int) -> float:
    a, b, c = m.group(group), m.group(group + 1), m.group(group + 2)
    return int(a) * 3600 + int(b) * 60 + int(c) if c is not None else int(a) * 60 + int(b)


def _amount(text: str | None) -> float:
    if not text:
        return 1.0
    return float(WORD_NUMBERS.get(text, text))


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

    @property
    def cite(self) -> str:
        return f"[{fmt_time(self.t_start)}]"

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

    @property
    def partial(self) -> bool:
        return self.windows_done < self.windows_total


class VideoNotFound(LookupError):
    pass


class Retriever:
    def __init__(self, con, embed: Callable[[list[str]], np.ndarray] | None = None, max_evidence: int = 12):
        self.con = con
        self.embed = embed
        self.max_evidence = max_evidence

    def _rows(self, sql: str, params: list) -> list[dict]:
        cur = self.con.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def retrieve(self, video_id: str, question: str, plan: QueryPlan | None = None, max_evidence: int | None = None) -> RetrievalResult:
        video = self._rows("SELECT video_id, name, duration_s, n_windows FROM videos WHERE video_id = ?", [video_id])
        if not video:
            raise VideoNotFound(f"unknown video id {video_id!r}")
        v = video[0]
        duration = float(v["duration_s"] or 0.0)
        plan = plan or plan_question(question, duration)
        limit = max_evidence or self.max_evidence
        done = self.con.execute("SELECT count(*), max(t_end) FROM windows WHERE video_id = ? AND status = 'done'", [video_id]).fetchone()
        anchor = self._anchor(video_id, plan) if plan.anchor else None
        if anchor is not None and plan.time_range is None:
            plan.time_range = (anchor.t_end, duration) if plan.anchor_side == "after" else (0.0, anchor.t_start)
            plan.starts_after = plan.anchor_side == "after"
            plan.time_phrase = f"{plan.anchor_side} the {plan.anchor} ([{fmt_time(anchor.t_start)}])"
        lo, hi = plan.time_range or (0.0, max(duration, 1e9))
        # "after X" means what starts after X; otherwise anything overlapping the range
        time_sql = " AND t_start >= ? AND t_start <= ?" if plan.starts_after else " AND t_end >= ? AND t_start <= ?"
        scores: dict[str, tuple[float, list[str]]] = {}

        def bump(event_id: str, amount: float, reason: str) -> None:
            s, why = scores.get(event_id, (0.0, []))
            scores[event_id] = (s + amount, why + [reason])

        labels = plan.object_labels + plan.sound_labels
        if labels:
            for r in self._rows(f"SELECT id FROM events WHERE video_id = ? AND label IN ({','.join('?' * len(labels))}){time_sql}",
                                [video_id, *labels, lo, hi]):
                bump(r["id"], 1.0, "label")
        for kw in plan.keywords[:8]:
            for r in self._rows(f"SELECT id FROM events WHERE video_id = ? AND (text ILIKE ? OR label ILIKE ?){time_sql} LIMIT 50",
                                [video_id, f"%{kw}%", f"%{kw}%", lo, hi]):
                bump(r["id"], 0.8, f"word:{kw}")
        if "said" in plan.intents:
            for r in self._rows(f"SELECT id FROM events WHERE video_id = ? AND kind = 'speech'{time_sql} ORDER BY t_start LIMIT 40", [video_id, lo, hi]):
                bump(r["id"], 0.3, "speech")
        if "alerts" in plan.intents:
            for r in self._rows(f"SELECT id FROM events WHERE video_id = ? AND kind = 'alert'{time_sql} ORDER BY t_start LIMIT 40", [video_id, lo, hi]):
                bump(r["id"], 1.0, "alert")
        if "heard" in plan.intents and not plan.sound_labels:
            for r in self._rows(f"SELECT id FROM events WHERE video_id = ? AND kind = 'sound'{time_sql} ORDER BY confidence DESC LIMIT 40", [video_id, lo, hi]):
                bump(r["id"], 0.3, "sound")
        if self.embed is not None:
            try:
                qv = self.embed([question])[0].astype(np.float32).tolist()
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
        if plan.time_range is not None or "summary" in plan.intents or len(scores) < 3:
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
        evidence = evidence[:limit]
        facts = self._object_facts(video_id, plan, lo, hi, time_sql)
        sound_facts = dict(self.con.execute(
            f"SELECT label, count(*) FROM events WHERE video_id = ? AND kind = 'sound'{time_sql} GROUP BY label ORDER BY 2 DESC",
            [video_id, lo, hi]).fetchall())
        speech_count = self.con.execute(f"SELECT count(*) FROM events WHERE video_id = ? AND kind = 'speech'{time_sql}", [video_id, lo, hi]).fetchone()[0]
        frames = self._key_frames(evidence)
        return RetrievalResult(video_id, v["name"], duration, plan, evidence, facts, sound_facts, int(speech_count), plan.time_range,
                               int(done[0] or 0), int(v["n_windows"] or 0), frames, anchor)

    def _anchor(self, video_id: str, plan: QueryPlan) -> Evidence | None:
        words = plan.anchor.split()
        labels = [x for w in words for x in SOUND_SYNONYMS.get(w, []) + OBJECT_SYNONYMS.get(w, [])]
        rows = []
        if labels:
            rows = self._rows(f"SELECT * FROM events WHERE video_id = ? AND label IN ({','.join('?' * len(labels))}) ORDER BY t_start LIMIT 1",
                              [video_id, *labels])
        if not rows:
            rows = self._rows("SELECT * FROM events WHERE video_id = ? AND (text ILIKE ? OR label ILIKE ?) ORDER BY t_start LIMIT 1",
                              [video_id, f"%{plan.anchor}%", f"%{plan.anchor}%"])
        if not rows:
            return None
        r = rows[0]
        return Evidence(r["id"], r["kind"], r["label"], r["t_start"], r["t_end"], r["confidence"], r["text"] or "", r["track_id"],
                        why=["anchor"], event_ids=[r["id"]])

    def _load(self, video_id: str, scores: dict[str, tuple[float, list[str]]]) -> list[Evidence]:
        if not scores:
            return []
        ids = list(scores)
        rows = self._rows(f"SELECT * FROM events WHERE video_id = ? AND id IN ({','.join('?' * len(ids))})", [video_id, *ids])
        out = []
        import json  # noqa: PLC0415

        for r in rows:
            s, why = scores[r["id"]]
            attrs = json.loads(r["attrs"]) if r["attrs"] else {}
            out.append(Evidence(r["id"], r["kind"], r["label"], r["t_start"], r["t_end"], r["confidence"], r["text"] or "", r["track_id"],
                                round(s, 4), why, attrs.get("best_t"), [r["id"]]))
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
