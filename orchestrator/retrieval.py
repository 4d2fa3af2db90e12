"""Retrieval: a question's plan (``orchestrator/planner.py``) run on the event graph.

The plan says what is asked, about which entities per lane, and when; retrieval finds the events
that answer it (``matches``, in time order, a track's per-window segments merged into one item),
resolves anchors on the graph first ("right after the doorbell": the doorbell, then what follows),
picks ordinals by time ("the second person"), widens a moment that has nothing to the nearest such
events, and when nothing matches says what the graph does have nearby. Aggregates — distinct
tracks, first/last appearance, time visible, most at once — are computed by the graph's queries
(``graph.py``; no SQL here), never guessed. Context evidence for summaries and the VLM comes from those
queries and from vector similarity of the question to every event's text (``array_cosine_similarity``).

    retriever = Retriever(graph.cursor(), embed=models.embed)
    result = retriever.retrieve(video_id, "how many people walk by after 0:30?")
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from . import zero_shot
from .events import Event, fmt_time
from .graph import EventGraph, Match, Span

from .planner import (  # noqa: F401 - re-exported: the plan is part of retrieval's interface
    COCO_LABELS,
    EMBED_CACHE,
    HIGH_VOICE_RX,
    LOW_VOICE_RX,
    OBJECT_SYNONYMS,
    QueryPlan,
    TIME_RE,
    Vocabulary,
    anchor_labels,
    speech_act_cues,
    graph_sound_labels,
    parse_clock,
    plan_question,
    word_forms,
)

ANCHOR_VOICE_SCAN = 200  # lines read to find an anchor said in one voice ("after the woman spoke")
# a person, named by a pronoun, coming into view
ARRIVAL_RX = re.compile(
    r"\b(?:he|she|they|someone|somebody|anyone|the (?:man|woman|guy|visitor|person))\b.*\b(?:came in|comes in|come in|arrived?|arrives|"
    r"entered|enters|walked in|walks in|showed up|shows up|appeared|appears|turned up|turns up|left|leaves|walked out|walks out)\b"
)
LEAVE_RX = re.compile(
    r"\b(leaves?|left|leaving|exits?|exited|disappears?|disappeared|goes away|gone|stops?|stopped|ends?|ended|finishes|finished|"
    r"is over|out of (?:view|frame|sight))\b"
)
ANCHOR_FILLER = {
    "the",
    "someone",
    "somebody",
    "person",
    "man",
    "woman",
    "he",
    "she",
    "they",
    "first",
    "second",
    "last",
    "says",
    "said",
    "his",
    "her",
    "their",
    "its",
    "this",
    "that",
    "has",
    "have",
    "had",
    "was",
    "were",
    "is",
    "are",
    "been",
    "finish",
    "finishes",
    "ends",
    "stops",
    "done",
    "over",
    "speaking",
    "talking",
    "up",
    "off",
    "out",
    # "after he spoke for the second time", "before she talked again": which time, not words said
    "for",
    "who",
    "third",
    "final",
    "next",
    "time",
    "again",
}
ANCHOR_EDGES = {
    "end": "end",
    "the end": "end",
    "finish": "end",
    "ending": "end",
    "start": "start",
    "the start": "start",
    "beginning": "start",
    "the beginning": "start",
    "outset": "start",
}


REPLY_WITHIN_S = 8.0  # a reply starts within this long after the question ends
UTTERANCE_GAP_S = 1.0  # one speaker's segments this close together are one thing said


def _utterances(speech: list[Evidence]) -> list[Evidence]:
    """Consecutive segments of one speaker less than ``UTTERANCE_GAP_S`` apart, merged (a question ends one)."""
    out: list[Evidence] = []
    for e in sorted(speech, key=lambda e: e.t_start):
        last = out[-1] if out else None
        if (
            last is not None
            and e.t_start - last.t_end < UTTERANCE_GAP_S
            and last.attrs.get("speaker") == e.attrs.get("speaker")
            and not last.text.rstrip().endswith("?")
        ):
            merged = Evidence(**{**last.__dict__, "event_ids": [*last.event_ids, *e.event_ids], "why": list(last.why), "attrs": dict(last.attrs)})
            merged.t_end, merged.text = max(last.t_end, e.t_end), f"{last.text.rstrip()} {e.text.lstrip()}"
            out[-1] = merged
        else:
            out.append(e)
    return out


SOUND_RUN_GAP_S = 6.0  # sounds of one kind this close together are one stretch of it (a phone's rings)


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

    @classmethod
    def from_event(cls, e: Event, attrs: bool = True) -> Evidence:
        """An event as an evidence item (of its own; ``score`` and ``why`` say later why it was picked)."""
        return cls(
            e.id,
            e.kind,
            e.label,
            e.t_start,
            e.t_end,
            e.confidence,
            e.text,
            e.track_id,
            best_t=e.attrs.get("best_t"),
            event_ids=[e.id],
            attrs=dict(e.attrs) if attrs else {},
        )

    @classmethod
    def from_look(cls, m, phrase: str, space: str) -> Evidence:
        """A moment a zero-shot search accepted (``zero_shot.Moment``): kind ``look``, its similarity and probability."""
        seen = "looks" if space == "image_text" else "sounds"
        text = f'{seen} like "{phrase}" (similarity {m.sim:.2f}, {m.probability:.0%} against other captions)'
        attrs = {"space": space, "similarity": m.sim, "probability": m.probability, "phrase": phrase}
        eid = m.event_id or f"look-{m.t_start:.2f}"
        return cls(eid, "look", phrase, m.t_start, m.t_end, m.probability, text, m.track_id, m.probability, [f"{space}:{m.sim:.2f}"], m.t_start, [eid], attrs)

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
    anchor_end_event: Evidence | None = None  # the second anchor of "between the bang and the shout", where found
    has_video: bool = True  # the file has a picture (an audio file has none)
    has_audio: bool = True
    speaker_names: dict[str, str] = field(default_factory=dict)  # "speaker 2" -> "Maria", from the lines where they name themselves

    @property
    def partial(self) -> bool:
        return self.windows_done < self.windows_total


# a speaker naming themselves: "This is Maria", "my name is Paul", "I'm Sheila", "Paul here", "Control speaking"
SUMMARY_EVIDENCE = 24  # items a whole-video summary draws on (a question about one thing needs fewer)
SELF_NAMING_RX = re.compile(
    r"\b(?:[Tt]his is|[Mm]y name is|[Mm]y name's|I'm|I am|[Ii]t's)\s+([A-Z][a-z]+)\b|\b([A-Z][a-z]+)\s+(?:here|speaking)\b[,.!]|\b([A-Z][a-z]+) (?:on duty|reporting(?: in)?)\b"
    r"|^([A-Z][a-z]+) to [A-Z][a-z]+[,.!]"  # a radio call: "Control to Paul, ..." is Control speaking
)
SELF_NAMING_LIKE = ("%this is %", "%name is %", "%name's %", "%i'm %", "%i am %", "%it's %", "% here%", "% speaking%", "% on duty%", "% reporting%", "% to %")
NOT_NAMES = frozenset(
    "the a an just so not going sure sorry fine good okay ok here there that this it well very really afraid glad happy calling "
    "nothing everything everyone someone hello hi yes no please thanks thank attention".split()
)


def left_out(e: Evidence, plan: QueryPlan, vocab: Vocabulary) -> bool:
    """Whether an event is what the question leaves out ("apart from the phone": its ringing; "besides the people")."""
    if e.kind == "object":
        return e.label in plan.without_objects
    if e.kind == "sound":
        return e.label in plan.without_sounds or e.label in graph_sound_labels(plan.without_sounds, vocab.sounds)
    return False


class VideoNotFound(LookupError):
    pass


_VOCAB_CACHE: dict[tuple[str, int, int], Vocabulary] = {}


class Retriever:
    MATCH_ROWS = 400

    def __init__(self, graph: EventGraph, embed: Callable[[list[str]], np.ndarray] | None = None, max_evidence: int = 12):
        self.graph = graph if isinstance(graph, EventGraph) else EventGraph.over(graph)  # or an open DuckDB connection
        self.embed = embed
        self.max_evidence = max_evidence

    # -- the graph's own vocabulary ---------------------------------------------------------
    def vocabulary(self, video_id: str) -> Vocabulary:
        """Distinct object classes, sound names and on-screen texts of a video (cached per ingest state)."""
        key = (video_id, *self.graph.ingest_state(video_id))
        if key in _VOCAB_CACHE:
            return _VOCAB_CACHE[key]
        vocab = Vocabulary()
        for kind, label in self.graph.kind_labels(video_id, ("object", "sound", "text", "speech")):
            if kind == "object":
                vocab.objects.add(label)
            elif kind == "sound":
                vocab.sounds.add(label)
            elif kind == "text":
                vocab.texts.add(label)
            else:
                vocab.has_speech = True
        if vocab.has_speech:
            for e in self.graph.find_events(video_id, [Match(kinds=("speech",))], order=None, limit=20000):
                vocab.spoken.update(re.findall(r"[a-z][a-z'\-]{2,}", (e.text or "").lower()))
        if len(_VOCAB_CACHE) > 256:
            _VOCAB_CACHE.clear()
        _VOCAB_CACHE[key] = vocab
        return vocab

    def plan(self, video_id: str, question: str, duration_s: float | None = None) -> QueryPlan:
        if duration_s is None:
            duration_s = self.graph.duration(video_id) or 0.0
        return plan_question(question, duration_s, self.vocabulary(video_id), self.embed)

    # -- retrieval -------------------------------------------------------------------------
    def retrieve(self, video_id: str, question: str, plan: QueryPlan | None = None, max_evidence: int | None = None) -> RetrievalResult:
        v = self.graph.video(video_id)
        if v is None:
            raise VideoNotFound(f"unknown video id {video_id!r}")
        duration = float(v["duration_s"] or 0.0)
        vocab = self.vocabulary(video_id)
        plan = plan or plan_question(question, duration, vocab, self.embed)
        if plan.sound_labels:
            plan.graph_sound_labels = graph_sound_labels(plan.sound_labels, vocab.sounds) or list(plan.graph_sound_labels)
        if plan.speaker_name and not plan.speaker:  # "what did Paul say?": the voice that calls itself Paul, where one does
            label = next((lab for lab, name in self.speaker_names(video_id).items() if lab and name.lower() == plan.speaker_name), "")
            if label:
                plan.speaker = label
                plan.keywords = [k for k in plan.keywords if k not in (plan.speaker_name, "room", "desk")]  # "the control room says"
                plan.unknown = [u for u in plan.unknown if u != plan.speaker_name]
        limit = max_evidence or self.max_evidence
        if plan.intent == "summary" and plan.time_range is None and plan.point is None and not max_evidence:
            limit = max(limit, SUMMARY_EVIDENCE)  # "a timeline of the night, one line per event": the account needs its events
        windows_done = len(self.graph.done_windows(video_id))
        anchor, anchor_missing, second = None, False, None
        if plan.anchor:
            anchor = self._anchor(video_id, plan.anchor, plan)
            anchor_missing = anchor is None
            if anchor is not None and plan.time_range is None:
                ends = "end" in anchor.why
                if plan.anchor_side == "during" and ends:
                    plan.anchor_side = "after"  # "when the phone stops ringing": what follows its end
                if plan.within_s is not None:  # "within a minute of the bang": that far from it, on the side asked
                    reach = plan.within_s
                    start = anchor.t_end if ends or plan.anchor_side == "after" else anchor.t_start
                    plan.time_range = {
                        "after": (start, start + reach),
                        "before": (max(0.0, anchor.t_start - reach), anchor.t_start),
                    }.get(plan.anchor_side, (max(0.0, anchor.t_start - reach), anchor.t_end + reach))
                    plan.starts_after = plan.anchor_side == "after"
                elif plan.anchor_side == "during":
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
        span = Span(lo, hi, starts_within=plan.starts_after)

        matches, total = self._matches(video_id, plan, span, anchor)
        if (
            plan.gap
            and anchor is not None
            and anchor.kind == "sound"
            and plan.anchor_side == "after"
            and matches
            and "end" not in anchor.why
            and not re.search(r"\b(?:first|second|third|last|final|next)\b", plan.anchor)
        ):
            # "how long after the bang did the alarm start?": the bang just before the alarm, where there are several
            first = min(matches, key=lambda e: e.t_start)
            again = self.graph.find_events(
                video_id, [Match(kinds=(anchor.kind,), labels=(anchor.label,))], after=anchor.t_start + 0.01, order="t_start", limit=50
            )
            again = [e for e in again if e.id != first.event_id and e.t_start < first.t_start - 0.25]
            if again:
                anchor = Evidence.from_event(again[-1])
                anchor.why = ["anchor"]
        if plan.without:  # "apart from the phone, what sounds were there?"
            kept = [e for e in matches if not left_out(e, plan, vocab)]
            matches, total = kept, total - (len(matches) - len(kept))
        widened = False
        if not matches and plan.point is not None and plan.scope == "absolute":
            # nothing at the moment asked about: the nearest such things within two minutes, closest first
            wl, wh = max(0.0, plan.point - 120), plan.point + 120
            near, _ = self._matches(video_id, plan, Span(wl, wh), anchor)
            near.sort(key=lambda e: min(abs(e.t_start - plan.point), abs(e.t_end - plan.point)))
            if near:
                matches, total, widened = sorted(near[:3], key=lambda e: e.t_start), min(len(near), 3), True
        evidence = self._evidence(video_id, question, plan, span, limit)
        # zero-shot: a thing to see or hear that no label or word covers, found by the image-text / audio-text model
        uncovered = plan.intent in ("when", "yesno", "seen", "heard", "count") and (bool(plan.unknown) or not matches)
        space, moments = zero_shot.question_moments(self.graph, self.embed, video_id, question, plan.lanes, uncovered, span)
        looked = [Evidence.from_look(m, zero_shot.phrase_of(question), space) for m in moments]
        evidence += looked
        if looked and not matches:
            matches, total = sorted(looked, key=lambda e: e.t_start), len(looked)
        nearby = [] if matches else self._nearby(video_id, plan, span)
        facts = self._object_facts(video_id, plan, span)
        sound_facts = self.graph.label_counts(video_id, "sound", span)
        speech_count = self.graph.count_events(video_id, "speech", span)
        pool = {e.event_id: e for e in evidence}
        for e in matches:
            pool.setdefault(e.event_id, e)
        frames = key_frames(list(pool.values()))
        return RetrievalResult(
            video_id,
            v["name"],
            duration,
            plan,
            evidence,
            facts,
            sound_facts,
            speech_count,
            plan.time_range,
            windows_done,
            int(v["n_windows"] or 0),
            frames,
            anchor,
            matches,
            total,
            nearby,
            widened,
            anchor_missing,
            vocab,
            second,
            bool(v["has_video"]) if v["has_video"] is not None else True,
            bool(v["has_audio"]) if v["has_audio"] is not None else True,
            self.speaker_names(video_id) if (plan.who or plan.voice_asked or plan.voice or plan.speaker_name) else {},
        )

    def speaker_names(self, video_id: str) -> dict[str, str]:
        """Each speaker's name where they say it ("This is Maria", "I'm Sheila", "Paul here"): speaker label -> name
        ("" for lines without a speaker label, when only one name is said that way)."""
        said: dict[str, set[str]] = {}
        for e in self.graph.find_events(video_id, [Match(kinds=("speech",), text_like=SELF_NAMING_LIKE)]):
            for m in SELF_NAMING_RX.finditer(e.text or ""):
                name = next(g for g in m.groups() if g)
                if name.lower() not in NOT_NAMES:
                    said.setdefault(str(e.attrs.get("speaker") or ""), set()).add(name)
        # a voice that gives two names was told apart wrongly (two people as one): it gets neither
        found = {label: next(iter(names)) for label, names in said.items() if len(names) == 1}
        if "" in found and len(said) > 1:
            del found[""]
        return found

    def _lane_where(self, plan: QueryPlan) -> list[tuple[str, Match]]:
        """(lane, condition on events) for each lane the plan asks about."""
        out: list[tuple[str, Match]] = []
        lanes = plan.lanes or []
        if "object" in lanes or plan.object_labels:
            if plan.object_labels:
                out.append(("object", Match(kinds=("object",), labels=tuple(plan.object_labels))))
            elif plan.unknown and plan.intent in ("yesno", "when", "count", "duration", "colour"):
                # asked about a thing by a name no lane knows: only a label that contains the word answers it
                words = tuple(_word_patterns(plan.unknown[:3]))
                out.append(("object", Match(kinds=("object",), label_like=words, never=not words)))
            else:
                out.append(("object", Match(kinds=("object",))))
        if "sound" in lanes or plan.sound_labels:
            labels = plan.graph_sound_labels if plan.sound_labels else []
            if plan.sound_labels and not labels:
                out.append(("sound", Match(never=True)))  # asked for a sound this graph never heard
            elif labels:
                out.append(("sound", Match(kinds=("sound",), labels=tuple(labels))))
            else:
                out.append(("sound", Match(kinds=("sound",))))
        if "speech" in lanes:
            words = _word_patterns(plan.keywords) if plan.intent in ("when", "count", "yesno", "said", "duration") else []
            out.append(("speech", Match(kinds=("speech",), text_like=tuple(words))))
        if "text" in lanes:
            out.append(("text", Match(kinds=("text",), label_or_text_like=tuple(_word_patterns(plan.keywords)))))
        if "alert" in lanes:
            out.append(("alert", Match(kinds=("alert",))))
        if "scene_cut" in lanes:
            out.append(("scene_cut", Match(kinds=("scene_cut",))))
        if "motion" in lanes:
            out.append(("motion", Match(kinds=("motion", "object"))))
        return out

    def _matches(self, video_id: str, plan: QueryPlan, span: Span, anchor: Evidence | None) -> tuple[list[Evidence], int]:
        lanes = self._lane_where(plan)
        if not lanes:
            if plan.intent not in ("summary", "seen", "heard") and plan.scope == "none":
                return [], 0
            where = [Match(not_kinds=("scene",))]
        else:
            where = [m for _, m in lanes]
        found = self.graph.find_events(video_id, where, span, limit=self.MATCH_ROWS)
        cut = len(found) >= self.MATCH_ROWS
        if cut:  # a long video: the first rows and the last ones, so first/last/final are right; the total by the graph
            seen = {e.id for e in found}
            found += [e for e in reversed(self.graph.find_events(video_id, where, span, order="t_end desc", limit=60)) if e.id not in seen]
            full = self.graph.count_items(video_id, where, span)
        items = [
            Evidence.from_event(e)
            for e in found
            if anchor is None
            or (
                e.id != anchor.event_id
                # the anchor sound going on ("after the ringing": not its next ring); a reply to a line is what follows it
                and not (
                    plan.anchor_side == "after" and e.kind != "speech" and e.label == anchor.label and e.kind == anchor.kind and e.t_start < anchor.t_end + 2
                )
            )
        ]
        items = self._merge_tracks(items)
        if plan.speaker == "main":  # "the lecturer": the voice with the most lines (in the voice asked, where one is)
            lines = [e for e in items if e.kind == "speech" and e.attrs.get("speaker") and (not plan.voice or e.attrs.get("voice") in (None, plan.voice))]
            counts = Counter(e.attrs["speaker"] for e in lines).most_common()
            plan.speaker = counts[0][0] if counts and (len(counts) == 1 or counts[0][1] > counts[1][1]) else "*"
        if plan.speaker and plan.speaker != "*":
            items = [e for e in items if e.kind != "speech" or e.attrs.get("speaker") == plan.speaker]
        if plan.voice and any(e.attrs.get("voice") for e in items if e.kind == "speech"):
            # "what did the woman say the second time?": the lines in that voice (told by its pitch), before ordinals
            items = [e for e in items if e.kind != "speech" or e.attrs.get("voice") == plan.voice]
        if plan.exclude:
            items = [e for e in items if not set(e.event_ids) & set(plan.exclude)]
        if plan.questions:  # "the first question a student asked": the lines that ask something, where any does
            asking = [e for e in items if e.kind == "speech" and _asks(e.text)]
            items = asking or items
        if plan.colours and not (plan.intent == "yesno" and plan.ordinal is not None):
            coloured = [e for e in items if e.kind != "object" or e.has_colour(plan.colours)]
            items = coloured if any(e.colours for e in items) else items  # no colours recorded: the colour cannot narrow it
        if "speech" in [lane for lane, _ in lanes] and plan.intent == "said" and plan.keywords and not any(e.kind == "speech" for e in items):
            # "what did they say about trains?" with no word match: the speech nearest in meaning
            items += [e for e in self._similar_speech(video_id, plan, span) if anchor is None or e.event_id != anchor.event_id]
            items.sort(key=lambda e: e.t_start)
        if plan.intent == "text" and "text" in [lane for lane, _ in lanes] and plan.keywords and not any(e.kind == "text" for e in items):
            # "what does the sign say about parking?" where no text has the words: every text then, marked as such
            for e in self.graph.find_events(video_id, [Match(kinds=("text",))], span, limit=12):
                ev = Evidence.from_event(e)
                ev.why.append("any text")
                items.append(ev)
            items.sort(key=lambda e: e.t_start)
        if plan.intent in ("said", "yesno", "when") and not plan.questions and plan.ordinal is None and plan.keywords:
            items = self._with_replies(video_id, items)
        total = max(len(items), full) if cut else len(items)
        if plan.ordinal is not None and items and (plan.intent not in ("count", "summary") or (plan.intent == "summary" and plan.scope == "ordinal")):
            pool = items if plan.intent != "summary" else [e for e in items if e.kind not in ("motion", "scene")] or items
            kinds = [k for k in ("speech", "object", "sound", "text") if any(e.kind == k for e in items)]
            if len(kinds) > 1 and "speech" in (plan.lanes or []):
                pool = [e for e in items if e.kind == "speech"]
            if pool and all(e.kind == "speech" for e in pool):
                merged = _utterances(pool)  # "the second thing said": one sentence split by a breath is one thing said
                pool = merged if plan.ordinal <= len(merged) else pool  # unless that leaves too few (a call transcribed in abutting pieces)
            n = plan.ordinal
            if n == -1 or (n > 0 and n <= len(pool)):
                items, total = [pool[-1] if n == -1 else pool[n - 1]], 1
            else:
                items, total = [], 0
        return items, total

    def _with_replies(self, video_id: str, items: list[Evidence]) -> list[Evidence]:
        """A line that asks something brings its reply: "where are the batteries?" is answered by what is said after
        "where can I find the batteries?", not by the question itself. At most two questions are followed."""
        asked = [e for e in items if e.kind == "speech" and e.text.rstrip().endswith("?")][:2]
        have = {e.event_id for e in items}
        for q in asked:
            nxt = self.graph.find_events(video_id, [Match(kinds=("speech",))], Span(q.t_end - 0.2, q.t_end + REPLY_WITHIN_S, starts_within=True), limit=2)
            reply = next((e for e in nxt if e.id != q.event_id and e.t_start >= q.t_start + 0.1), None)
            if reply is not None and reply.id not in have:
                ev = Evidence.from_event(reply)
                ev.attrs["reply_to"] = q.event_id
                ev.why.append("reply")
                items.append(ev)
                have.add(reply.id)
        return sorted(items, key=lambda e: e.t_start)

    def _similar_speech(self, video_id: str, plan: QueryPlan, span: Span) -> list[Evidence]:
        if self.embed is None:
            return []
        try:
            qv = EMBED_CACHE.get(self.embed, [plan.question])[0].astype(np.float32).tolist()
            found = self.graph.similar_events(video_id, qv, span, kind="speech", limit=3)
        except Exception:  # noqa: BLE001
            return []
        return [Evidence.from_event(e) for e, sim in found if sim is not None and sim > 0.25]

    def _nearby(self, video_id: str, plan: QueryPlan, span: Span) -> list[Evidence]:
        """What the graph does have: the nearest things of the asked lanes outside the asked time, else the strongest
        few of other kinds inside it."""
        out: list[Evidence] = []
        lanes = [m for _, m in self._lane_where(plan) if not m.never]
        if lanes and plan.time_range is not None:
            out += [Evidence.from_event(e) for e in self.graph.nearest_outside(video_id, lanes, span.lo, span.hi, limit=2)]
        if not out:
            out += [Evidence.from_event(e) for e in self.graph.strongest_per_kind(video_id, ("object", "sound", "speech", "text", "alert"), span, limit=4)]
        return sorted(out, key=lambda e: e.t_start)

    def _evidence(self, video_id: str, question: str, plan: QueryPlan, span: Span, limit: int) -> list[Evidence]:
        """Ranked context: label and word matches, vector similarity, and the timeline of the range."""
        scores: dict[str, tuple[float, list[str]]] = {}

        def bump(event_id: str, amount: float, reason: str) -> None:
            s, why = scores.get(event_id, (0.0, []))
            scores[event_id] = (s + amount, why + [reason])

        labels = plan.object_labels + (plan.graph_sound_labels if plan.sound_labels else [])
        if labels:
            for e in self.graph.find_events(video_id, [Match(labels=tuple(labels))], span, limit=200):
                bump(e.id, 1.0, "label")
        for kw in _word_patterns(plan.keywords[:6]):
            for e in self.graph.find_events(video_id, [Match(label_or_text_like=(kw,))], span, order=None, limit=50):
                bump(e.id, 0.8, f"word:{kw.strip('%')}")
        lanes = set(plan.lanes)
        for lane, kind in (("speech", "speech"), ("alert", "alert"), ("text", "text")):
            if lane in lanes:
                for e in self.graph.find_events(video_id, [Match(kinds=(kind,))], span, limit=40):
                    bump(e.id, 0.3, kind)
        if "sound" in lanes and not plan.sound_labels:
            for e in self.graph.find_events(video_id, [Match(kinds=("sound",))], span, order="confidence desc", limit=40):
                bump(e.id, 0.3, "sound")
        if self.embed is not None:
            try:
                qv = EMBED_CACHE.get(self.embed, [plan.question])[0].astype(np.float32).tolist()
                for e, sim in self.graph.similar_events(video_id, qv, span, limit=24):
                    if sim is not None and sim > 0.2:
                        bump(e.id, float(sim), f"similar:{sim:.2f}")
            except Exception:  # noqa: BLE001 - no embedder: retrieval goes on with the graph's queries only
                pass
        if plan.time_range is not None or plan.intent == "summary" or len(scores) < 3:
            # the timeline itself: spread over the range so a summary sees every part of it
            for event_id in self.graph.timeline_ids(video_id, span, per_window_kind=2, limit=60):
                bump(event_id, 0.15, "timeline")
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
        tries: list[Match] = []
        named = [g for g in glabels if re.search(rf"\b{re.escape(g)}", phrase)]  # "the bang": a bang before a knock it also accepts
        kin = any(g != x and (x in g or g in x) for g in glabels for x in named)  # "ringing" and "telephone ringing" are one sound
        exact = named if named and not kin else [g for g in glabels if g in sounds]
        if exact and len(exact) < len(glabels):  # "after the knocking": a knock before a bang that a knock also accepts
            tries.append(Match(kinds=("sound",), labels=tuple(exact)))
        if glabels:
            tries.append(Match(kinds=("sound",), labels=tuple(glabels)))
        if not objects and ARRIVAL_RX.search(phrase):  # "when he came in", "after she arrived": a person appearing
            objects = ["person"]
        if re.search(r"\b(cut|scene change|new scene|scene changes|transition)\b", phrase):
            tries.append(Match(kinds=("scene_cut",)))
        if objects:
            tries.append(Match(kinds=("object",), labels=tuple(objects)))
        said = re.search(
            r"\b(?:says?|said|saying|mentions?|mentioned|speaks?|spoke|talks?|talking|asks?|asked|asking|tells?|told|telling|utters?|"
            r"speech|announcement|voice|words)\b(?: (?:about|the word|the|that|of|for|if|whether))? ?(.*)$",
            phrase,
        )
        words = [w for w in re.findall(r"[a-z][a-z'\-]{2,}", (said.group(1) if said else phrase).lower()) if w not in ANCHOR_FILLER]
        # "after control asked ...": a speaker named by a word a line of theirs carries, not a thing seen
        named = (
            [w for w in re.findall(r"[a-z][a-z'\-]{2,}", phrase[: said.start()].lower()) if w not in ANCHOR_FILLER and w not in OBJECT_SYNONYMS] if said else []
        )
        if said and not words and not named:
            tries.insert(0, Match(kinds=("speech",)))
            objects = []
        elif said:  # "after the man asked about batteries", "after control asked who ...": the words, before anyone seen
            anything = not words  # "after the first thing was said": any line when no line has the word
            if words:  # a line named by its words is that line or nothing: not the person who would have said it
                tries = [t for t in tries if "object" not in t.kinds]
            words = named + [w for w in words if w not in named]
            tries[:0] = [Match(kinds=("speech",), text_like=(f"%{w}%",)) for w in words[:3]] + ([Match(kinds=("speech",))] if anything else [])
        acts = speech_act_cues(phrase)
        if acts:  # "before she introduces herself", "when she picked up": the words that do it
            tries.insert(0, Match(kinds=("speech",), text_like=tuple(_word_patterns(acts))))
        for w in words[:3]:
            tries.append(Match(kinds=("speech", "text"), text_like=(f"%{w}%",)))
            tries.append(Match(kinds=("text", "alert"), label_like=(f"%{w}%",)))
        if not tries:
            return None
        # "after the woman spoke", "before he mentioned the bike": the lines of that voice (told by its pitch), where told
        high, low = bool(HIGH_VOICE_RX.search(phrase)), bool(LOW_VOICE_RX.search(phrase))
        voice = ("high" if high else "low") if high != low else ""
        for cond in tries:
            by_voice = bool(voice) and "speech" in cond.kinds
            limit = ANCHOR_VOICE_SCAN if by_voice else max(nth, 1)
            found = self.graph.find_events(video_id, [cond], after=t0, order="t_start desc" if nth == -1 else "t_start", limit=limit)
            if by_voice and any(e.attrs.get("voice") for e in found):
                found = [e for e in found if e.kind != "speech" or e.attrs.get("voice") == voice]
            if found:
                e = Evidence.from_event(found[min(len(found), max(nth, 1)) - 1])
                e.why = ["anchor"]
                if e.kind == "object" and e.track_id is not None:  # the whole track, not one window's segment of it
                    e.t_start, e.t_end = self.graph.track_span(video_id, e.track_id)
                if LEAVE_RX.search(phrase):
                    e.why = ["anchor", "end"]  # "after the person leaves": the moment it ends
                    last_start = e.t_start
                    while e.kind == "sound":  # "after the phone stopped ringing": the end of its rings, not of the first
                        more = self.graph.find_events(video_id, [cond], after=last_start, order="t_start", limit=1)
                        if not more or more[0].t_start > e.t_end + SOUND_RUN_GAP_S:
                            break
                        last_start, e.t_end = more[0].t_start, max(e.t_end, more[0].t_end)
                        e.event_ids.append(more[0].id)
                        e.attrs.pop("pattern", None)  # the first one's "2 rings" is not the stretch's
                return e
        return None

    def _load(self, video_id: str, scores: dict[str, tuple[float, list[str]]]) -> list[Evidence]:
        out = []
        for event in self.graph.events_by_id(video_id, list(scores)):
            s, why = scores[event.id]
            e = Evidence.from_event(event)
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
                        if k in LATEST_ATTRS and val is not None:
                            m.attrs[k] = val  # the track's path so far: its latest segment knows where it went overall
                        else:
                            m.attrs.setdefault(k, val)
                    if e.confidence > m.confidence:
                        m.confidence, m.best_t = e.confidence, e.best_t
            else:
                out.append(e)
        return out

    def _object_facts(self, video_id: str, plan: QueryPlan, span: Span) -> dict[str, LabelFacts]:
        labels = list(plan.object_labels)
        at_once = self.graph.most_at_once(video_id, labels, span.lo, span.hi)
        return {
            r["label"]: LabelFacts(
                r["label"],
                int(r["tracks"]),
                float(r["first_t"]),
                float(r["last_t"]),
                float(r["visible_s"] or 0.0),
                int(at_once.get(r["label"], 1) or 1),
                r["first_event"],
                r["last_event"],
            )
            for r in self.graph.object_label_facts(video_id, labels, span)
        }


# object attributes a later segment of the same track knows better (its path is longer)
LATEST_ATTRS = ("appearance_motion", "appearance_direction", "end_center")


def key_frames(evidence: list[Evidence], limit: int = 8) -> list[tuple[float, str]]:
    """The moments to show a VLM: the best-scored evidence's best frames, at least 2 s apart, in time order."""
    frames: list[tuple[float, str]] = []
    for e in sorted(evidence, key=lambda x: -x.score):
        t = e.best_t if e.best_t is not None else (e.t_start + e.t_end) / 2
        if all(abs(t - f[0]) > 2.0 for f in frames):
            frames.append((round(t, 3), e.event_id))
        if len(frames) >= limit:
            break
    return sorted(frames)


def _asks(text: str) -> bool:
    """Whether a line asks something: a question mark, or the word order of a question.

    >>> _asks("Can we bring a calculator"), _asks("Where is the exit?"), _asks("Please wait one minute.")
    (True, True, False)
    """
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip().lower()):  # "Good evening. Is Matthew in?": the second one asks
        if sentence.endswith("?") or re.match(
            r"(?:excuse me,? |sorry,? |so,? |and,? )?(?:can|could|will|would|do|does|did|is|are|was|were|shall|should|may|what|where|when|who|why|how|which)\b",
            sentence,
        ):
            return True
    return False


def _word_patterns(words: list[str]) -> list[str]:
    """ILIKE patterns for spoken/written words: each word and its singular ("cards" → %card%)."""
    out: list[str] = []
    for w in words:
        w = w.strip().lower()
        if len(w) < 3:
            continue
        stem = w[:-1] if w.endswith("s") and len(w) > 4 and not w.endswith("ss") else w
        if " " not in w and len(w) >= 6 and w.endswith("ing"):
            stem = w[:-3]  # "towing" is written "TOW", "parking" "PARK"
        elif " " not in w and len(w) >= 5 and w.endswith("ed"):
            stem = w[:-1] if w[:-1].endswith("e") and not w.endswith("eed") else w[:-2]  # "moved" -> "move", "parked" -> "park"
        pat = f"%{stem}%"
        if pat not in out:
            out.append(pat)
        if " " not in w:  # "bring" is said "brought", "fall" "fell"; "three" is written "3" (after a space: not inside "300")
            for f in word_forms(w)[1:]:
                form = f"% {f}%" if f.isdigit() else f"%{f}%"
                if (len(f) >= 3 or f.isdigit()) and stem not in f and form not in out:
                    out.append(form)
    return out
