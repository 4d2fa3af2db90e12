"""Asking: a question becomes a streamed, cited answer, over real Redis.

Channels (message models in ``orchestrator/messages.py``, versioned JSON, ``"v": 1``):

- ``tokens:{session}``  from the answer worker: ``Start``, many ``Token``, any ``Notice`` (e.g. the VLM is
  down, falling back), then one of ``Done`` (answer, citations, engine, timings), ``Cancelled``, ``Error``.
- ``inbox:{session}``  to the worker: ``Cancel`` stops the answer at once (the upstream VLM request is
  closed); ``Ask`` asks a follow-up.

Sessions keep their turns in Redis (``history:{session}``), so follow-ups ("what happened after
that?", "and the second person?") resolve against what was said before. With a VLM, each turn also keeps the
timeline text and frame times it was sent, so a follow-up resends the earlier turns unchanged and the
server's prefix cache (SGLang's radix cache) skips their prefill (see ``orchestrator/answer.py``). Sessions never see
each other's history or tokens.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import asdict
from typing import Callable

import redis

from .answer import Answer, AnswerRequest, Cancelled, ExtractiveEngine, Turn, VLMEngine, citations_for
from .graph import EventGraph
from .messages import Cancel, Done, Error, Message, Notice, Start, Token, decode, encode
from .messages import Cancelled as CancelledMessage
from .planner import REPLY_RX, question_parts
from .retrieval import QueryPlan, Retriever, plan_question
from .templates import Templates, template_evidence_retriever

log = logging.getLogger(__name__)
HISTORY_TURNS = 20
HISTORY_TTL_S = 7 * 24 * 3600
SESSION_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def tokens_channel(session: str) -> str:
    return f"tokens:{session}"


def inbox_channel(session: str) -> str:
    return f"inbox:{session}"


def new_session_id() -> str:
    return uuid.uuid4().hex[:16]


def check_session(session: str) -> str:
    if not SESSION_RE.match(session or ""):
        raise ValueError("a session id is 1-64 letters, digits, '-' or '_'")
    return session


class ConversationStore:
    def __init__(self, client: redis.Redis):
        self.client = client

    def key(self, session: str) -> str:
        return f"history:{check_session(session)}"

    def turns(self, session: str) -> list[Turn]:
        try:
            raw = self.client.lrange(self.key(session), -HISTORY_TURNS, -1)
        except redis.RedisError:
            return []
        return [Turn(**json.loads(r)) for r in raw]

    def append(self, session: str, turn: Turn) -> None:
        try:
            pipe = self.client.pipeline()
            pipe.rpush(self.key(session), json.dumps(asdict(turn)))
            pipe.ltrim(self.key(session), -HISTORY_TURNS, -1)
            pipe.expire(self.key(session), HISTORY_TTL_S)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not save the conversation turn: %s", exc)

    def clear(self, session: str) -> None:
        self.client.delete(self.key(session))


FOLLOW_AFTER = re.compile(r"\b(after that|after this|after it|afterwards|afterward|next|then what|what happened then|and then|later on|later|after then)\b")
FOLLOW_BEFORE = re.compile(r"\b(before that|before this|before then|before it|earlier|prior to that|previously)\b")
FOLLOW_THEN = re.compile(
    r"\b(then|(?<!is )(?<!are )(?<!was )(?<!were )(?<!any )there|at that (?:moment|point|time)|at the same time|meanwhile|during that|while that)\b"
)
FOLLOW_ORDINAL = re.compile(
    r"\b(?:the |that )?(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|last|final|other|next) (?:one|ones|of them|time)\b|"
    r"^(?:and |what about |how about )?the (first|second|third|fourth|fifth|last|other)\b"
)
PRONOUN = re.compile(r"\b(he|she|they|him|her|them|it|its|his|their|that one|this one)\b")


def resolve_followup(question: str, history: list[Turn], video_id: str, con, duration_s: float, retriever: Retriever | None = None) -> QueryPlan:
    """Plan for ``question``, with references to earlier turns ("and before that?", "what did he say then?",
    "show me the second one") filled in from the previous turn's plan and answer."""
    plan = retriever.plan(video_id, question, duration_s) if retriever is not None else plan_question(question, duration_s)
    last = next((t for t in reversed(history) if t.video_id == video_id), None)
    if last is None:
        return plan
    prev = QueryPlan.from_dict(last.plan) if last.plan else None
    q = " ".join(question.lower().split())
    cited = last.citations or []
    own_entities = bool(plan.object_labels or plan.sound_labels or plan.keywords or plan.anchor)
    short = len(q.split()) <= 6

    def inherit(intent: bool = True) -> None:
        if prev is None:
            if last.object_labels and not plan.object_labels:
                plan.object_labels = list(last.object_labels)
            return
        plan.object_labels, plan.sound_labels, plan.graph_sound_labels = list(prev.object_labels), list(prev.sound_labels), list(prev.graph_sound_labels)
        plan.keywords, plan.colours = list(prev.keywords), list(prev.colours)
        plan.lanes = sorted(set(prev.lanes) | set(plan.lanes)) if plan.intent not in ("summary",) else list(prev.lanes)
        if intent and (plan.intent == "summary" or short):
            plan.intent = prev.intent if prev.intent not in ("count",) else "when"
            plan.intents = [plan.intent] + [i for i in prev.intents if i != plan.intent]

    if FOLLOW_AFTER.search(q) and plan.time_range is None and not plan.anchor and cited:
        plan.time_range = (max(c["t_end"] for c in cited), duration_s)
        plan.time_phrase, plan.starts_after, plan.scope, plan.followup = "after that", True, "relative", "after"
        if not own_entities and short and prev is not None and prev.intent not in ("summary",) and (prev.object_labels or prev.sound_labels or prev.keywords):
            inherit()
        elif plan.intent not in ("count", "said", "heard", "when", "seen", "yesno"):
            plan.intent, plan.intents = "summary", ["summary"]
    elif FOLLOW_BEFORE.search(q) and plan.time_range is None and not plan.anchor and cited:
        plan.time_range = (0.0, min(c["t_start"] for c in cited))
        plan.time_phrase, plan.scope, plan.followup = "before that", "relative", "before"
        if not own_entities and short and prev is not None and (prev.object_labels or prev.sound_labels or prev.keywords):
            inherit()
        elif plan.intent not in ("count", "said", "heard", "when", "seen", "yesno"):
            plan.intent, plan.intents = "summary", ["summary"]
    m = FOLLOW_ORDINAL.search(q)
    if (
        m
        and prev is not None
        and not (plan.object_labels or plan.sound_labels)
        or (m and plan.object_labels and prev is not None and set(plan.object_labels) <= set(prev.object_labels))
    ):
        which = m.group(1) or m.group(2)
        ordinal = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "last": -1, "final": -1}.get(
            which
        )
        inherit()
        if plan.intent in ("count", "summary", "yesno"):
            plan.intent = "when"
            plan.intents = ["when"] + plan.intents
        if which == "other":
            shown = {x.get("event_id") for x in last.matches}
            ordinal = None
            plan.followup = "other"
            plan.exclude = sorted(x for x in shown if x)
        elif which == "next" and last.matches:
            plan.time_range = (max(x["t_start"] for x in last.matches) + 0.01, duration_s)
            plan.starts_after = True
            ordinal = 1
        plan.ordinal = ordinal
        plan.scope = "ordinal"
        plan.time_range = plan.time_range if which == "next" else prev.time_range
        plan.followup = plan.followup or "ordinal"
    elif not plan.time_range and not plan.anchor and FOLLOW_THEN.search(q) and not FOLLOW_AFTER.search(q) and cited:
        # "what did he say then?": around the moments the last answer cited
        lo, hi = min(c["t_start"] for c in cited), max(c["t_end"] for c in cited)
        plan.time_range = (max(0.0, lo - 5.0), min(duration_s, hi + 5.0) if duration_s else hi + 5.0)
        plan.time_phrase, plan.scope, plan.followup = "at that moment", "relative", "then"
    if not plan.object_labels and PRONOUN.search(q) and plan.followup == "" and (prev.object_labels if prev else last.object_labels):
        if plan.intent not in ("said", "heard", "text"):
            plan.object_labels = list(prev.object_labels if prev else last.object_labels)
            if "object" not in plan.lanes:
                plan.lanes.append("object")
    return plan


class AskService:
    """Answers questions for sessions: retrieval → engine → tokens on Redis; cancel via the inbox."""

    def __init__(
        self,
        con_factory: Callable[[], object],
        redis_client: redis.Redis,
        embed: Callable | None = None,
        vlm: VLMEngine | None = None,
        video_path: Callable[[str], str | None] | None = None,
        llm=None,
    ):
        self.con_factory = con_factory
        self.llm = llm if llm is not None else tool_planner_from_env()  # plans with the graph tools (LLM_BASE_URL)
        self.redis = redis_client
        self.embed = embed
        self.extractive = ExtractiveEngine()
        self.vlm = vlm
        self.store = ConversationStore(redis_client)
        self.video_path = video_path

    @property
    def engine_name(self) -> str:
        if self.llm:
            return f"llm-tools ({self.llm.base_url})"
        return f"vlm ({self.vlm.base_url})" if self.vlm else "extractive"

    def _publish(self, session: str, message: Message) -> None:
        try:
            self.redis.publish(tokens_channel(session), encode(message))
        except redis.RedisError as exc:
            # Redis is down: the answer is still returned to the caller; warn once per answer, not per token
            if message.type in ("start", "done", "error", "cancelled"):
                log.warning("could not publish %s on %s: %s", message.type, tokens_channel(session), exc)

    def _listen_for_cancel(self, session: str, cancel: threading.Event, stop: threading.Event, ready: threading.Event, on_cancel: Callable[[], None]) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(inbox_channel(session))
            ready.set()
            while not stop.is_set() and not cancel.is_set():
                msg = pubsub.get_message(timeout=0.05)
                if msg and msg["type"] == "message":
                    try:
                        if isinstance(decode(inbox_channel(session), msg["data"]), Cancel):
                            cancel.set()
                            on_cancel()
                    except ValueError:  # not a message of this channel (pydantic's ValidationError is one)
                        continue
        except redis.RedisError:
            ready.set()
        finally:
            try:
                pubsub.close()
            except redis.RedisError:
                pass

    def ask(
        self, session: str, video_id: str, question: str, template: str | None = None, turn: int | None = None, cancel: threading.Event | None = None
    ) -> Answer:
        """Answer one question, streaming on ``tokens:{session}``; returns the final answer."""
        check_session(session)
        started = time.perf_counter()
        question = _clean_question(question)
        history = self.store.turns(session)
        turn = turn if turn is not None else len(history)
        cancel = cancel or threading.Event()
        stop, ready = threading.Event(), threading.Event()
        emit_lock = threading.Lock()
        state = {"text": "", "closed": False}

        def emit(message: Message) -> None:
            with emit_lock:
                if not state["closed"]:
                    self._publish(session, message)

        def on_cancel() -> None:
            # the user sees the stop at once; the engine and the upstream request wind down behind it
            with emit_lock:
                if not state["closed"]:
                    state["closed"] = True
                    self._publish(session, CancelledMessage(turn=turn, answer=state["text"]))

        listener = threading.Thread(target=self._listen_for_cancel, args=(session, cancel, stop, ready, on_cancel), daemon=True)
        listener.start()
        ready.wait(2.0)
        con = self.con_factory()
        try:
            request = self._request(con, video_id, question, template, history)
            retrieval_ms = (time.perf_counter() - started) * 1000
            engines = [e for e in (self.llm if not template else None, self.vlm, self.extractive) if e is not None]
            partial = False  # a model's partial answer is above the fallback's
            text, engine_used, notice, ttft = "", self.extractive.name, "", None
            if request.retrieval.partial:
                notice = f"still ingesting: answered from {request.retrieval.windows_done} of {request.retrieval.windows_total} windows"
            emit(Start(turn=turn, question=question, engine=engines[0].name))
            for engine in engines:
                try:
                    for chunk in engine.stream(request, cancel):
                        if ttft is None:
                            ttft = (time.perf_counter() - started) * 1000
                        text += chunk
                        state["text"] = text
                        emit(Token(turn=turn, text=chunk))
                    engine_used = engine.name
                    break
                except Cancelled:
                    on_cancel()
                    return Answer(text, citations_for(text, request.retrieval), engine.name, template, "cancelled")
                except Exception as exc:  # noqa: BLE001 - a failing VLM falls back to the extractive engine
                    if engine is self.extractive:
                        raise
                    reason = _vlm_error(exc)
                    who = "the VLM" if engine is self.vlm else "the language model"
                    nxt = "the VLM" if engine is self.llm and self.vlm else "the extractive engine"
                    notice = f"{who} at {engine.base_url} {reason}; answered by {nxt}" + (" instead" if not text else f" ({who}'s partial answer is above)")
                    partial = partial or bool(text)
                    request.citations = None
                    emit(Notice(turn=turn, text=notice))
                    if text:
                        sep = "\n\n---\n\n"
                        text += sep
                        emit(Token(turn=turn, text=sep))
            if request.citations is not None and engine_used in (self.extractive.name, "llm-tools") and not partial:
                citations = list(request.citations)
            else:
                citations = citations_for(text, request.retrieval, getattr(request.report, "evidence", None))
            total = (time.perf_counter() - started) * 1000
            usage = request.usage if engine_used == VLMEngine.name else {}
            answer = Answer(
                text,
                citations,
                engine_used,
                template,
                notice,
                round(ttft or total, 1),
                round(total, 1),
                round(retrieval_ms, 1),
                usage.get("cached_tokens"),
                usage.get("prompt_tokens"),
            )
            if cancel.is_set():
                on_cancel()
                return Answer(text, citations, engine_used, template, "cancelled")
            done_message = Done(
                turn=turn,
                answer=text,
                citations=[asdict(c) for c in citations],
                engine=engine_used,
                notice=notice,
                ttft_ms=round(ttft or total, 1),
                total_ms=round(total, 1),
                retrieval_ms=round(retrieval_ms, 1),
                cached_tokens=answer.cached_tokens,
            )
            with emit_lock:
                if not state["closed"]:
                    state["closed"] = True
                    self._publish(session, done_message)
            self.store.append(session, turn_of(request, text, citations, video_id))
            return answer
        except Exception as exc:
            emit(Error(turn=turn, error=str(exc)[:300]))
            raise
        finally:
            stop.set()
            con.close()  # con_factory hands out a graph cursor (or a DuckDB cursor) per question

    def _request(self, con, video_id: str, question: str, template: str | None, history: list[Turn]) -> AnswerRequest:
        graph = con if isinstance(con, EventGraph) else EventGraph.over(con)
        retriever = Retriever(graph, embed=self.embed)
        if template:
            report = Templates(graph).build(template, video_id)
            retrieval = template_evidence_retriever(retriever, video_id, report)
            return AnswerRequest(question or report.title, retrieval, history, template, report)
        duration = graph.duration(video_id)
        if duration is None:
            raise LookupError(f"unknown video id {video_id!r}")
        # a model engine gets the question whole; the extractive one answers each thing it asks in turn
        return question_request(retriever, con, video_id, question, history, duration, split=self.llm is None and self.vlm is None)


PART_PERSON_RX = re.compile(r"\b(?:he|she|they|him|her|them|it)\b")
# "..., and what was the answer?", "and the reply?": the line said next, after the moment the first part cites
PART_REPLY_RX = re.compile(
    r"^(?:and )?(?:what (?:was|is|were|did) )?(?:the |her |his |their )?(?:answer|reply|response|responses|answers)(?: to (?:it|that|this))?\??$"
)


def question_request(retriever: Retriever, con, video_id: str, question: str, history: list[Turn], duration: float, split: bool = True) -> AnswerRequest:
    """What answers ``question``: its plan (follow-ups resolved against ``history``) and retrieval. A question that asks
    several things ("when does the phone ring, and who answers?") gets one request per part, each later part read as a
    follow-up of the one before ("who answers" the phone), composed by the extractive engine into one answer."""
    parts = question_parts(question) if split else [question]
    requests: list[AnswerRequest] = []
    turns = list(history)
    for part in parts:
        plan = resolve_followup(part, turns, video_id, con, duration, retriever)
        if requests and requests[-1].citations and PART_REPLY_RX.match(part.lower().strip()):
            plan.time_range, plan.starts_after = (max(c.t_end for c in requests[-1].citations), duration), True
            plan.time_phrase, plan.scope, plan.followup, plan.ordinal = "after it", "relative", "reply", 1
            plan.intent, plan.intents, plan.lanes, plan.keywords, plan.unknown = "said", ["said"], ["speech"], [], []
        elif requests and requests[-1].citations and plan.time_range is None and not plan.anchor and PART_PERSON_RX.search(part.lower()):
            # "who answered the courier, and what did she tell him?": what that person said then; "and who answers it?": after
            cited = requests[-1].citations
            if REPLY_RX.search(part.lower()):
                plan.time_range, plan.starts_after = (max(c.t_end for c in cited), duration), True
            else:
                lo, hi = min(c.t_start for c in cited), max(c.t_end for c in cited)
                plan.time_range = (lo + 0.05, max(lo + 0.1, hi - 0.05))  # the cited moment, not the lines touching it
            plan.time_phrase, plan.scope, plan.followup = "then", "relative", "part"
        requests.append(AnswerRequest(part, retriever.retrieve(video_id, part, plan=plan), list(turns), retriever=retriever))
        if len(parts) > 1:
            text = ExtractiveEngine().compose(requests[-1])
            turns.append(turn_of(requests[-1], text, requests[-1].citations or [], video_id))
    if len(requests) == 1:
        requests[0].question = question
        return requests[0]
    return AnswerRequest(question, requests[0].retrieval, history, retriever=retriever, parts=requests)


def turn_of(request: AnswerRequest, text: str, citations: list, video_id: str) -> Turn:
    """The session's record of one answered question: what follow-ups resolve against."""
    plan = request.retrieval.plan
    track_ids = sorted({e.track_id for e in request.retrieval.evidence if e.track_id is not None and e.kind == "object"})
    matches = [
        {"event_id": e.event_id, "kind": e.kind, "label": e.label, "t_start": e.t_start, "t_end": e.t_end, "track_id": e.track_id}
        for e in request.retrieval.matches[:50]
    ]
    return Turn(
        request.question,
        text,
        video_id,
        [asdict(c) for c in citations],
        plan.object_labels,
        plan.sound_labels,
        track_ids,
        list(plan.time_range) if plan.time_range else None,
        request.prompt,
        request.frame_times,
        plan.to_dict(),
        matches,
    )


def tool_planner_from_env():
    """The tool-planning engine when ``LLM_BASE_URL`` names an OpenAI-compatible server, else None."""
    from .settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    if not settings.llm_base_url:
        return None
    from .graph_tools import ToolPlannerEngine  # noqa: PLC0415

    return ToolPlannerEngine(settings.llm_base_url, model=settings.llm_model, api_key=settings.llm_api_key, timeout_s=settings.llm_timeout_s)


def _clean_question(question: str, limit: int = 2000) -> str:
    """Printable text only, bounded length: control characters never reach SQL or a prompt."""
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in (question or ""))
    return " ".join(text.split())[:limit]


def _vlm_error(exc: Exception) -> str:
    name = type(exc).__name__
    if "Timeout" in name:
        return "did not answer in time"
    if "Connection" in name:
        return "cannot be reached"
    status = getattr(exc, "status_code", None)
    return f"returned an error ({status})" if status else f"failed ({name})"
