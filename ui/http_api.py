"""The HTTP API beside the page, served by the same server (Gradio's FastAPI app): ``/api/v1/...`` for scripts and an
OpenAI-compatible ``/v1/chat/completions`` (and ``/v1/models``) where ``model`` names a video id or ``library``.

The routes are handed to Gradio's app when it is created (``launch(app_kwargs=api_app_kwargs(...))``), so they bind
where the page binds and are matched before the page's own routes. They are protected by the page's users (``--auth``,
``VDET_AUTH``, ``--users-file``): HTTP basic auth, a bearer token ``USER:PASSWORD`` (what an OpenAI client sends as its
``api_key``) or the page's own login cookie; each user sees only their own videos, as on the page. Bad input is a 422
or 404 whose message says what is wrong and what to do. OpenAPI docs: ``/api/docs`` (schema ``/api/openapi.json``).

    curl -s http://127.0.0.1:7860/api/v1/videos
    curl -N -X POST http://127.0.0.1:7860/api/v1/videos/VIDEO_ID/ask -H 'content-type: application/json' \\
         -d '{"question": "When does the first car appear?", "stream": true}'
"""

from __future__ import annotations

import base64
import logging
import hashlib
import json
import os
import secrets
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import fastapi_offline
import redis
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent, format_sse_event
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from orchestrator.ask import check_session, inbox_channel, new_session_id, tokens_channel
from orchestrator.events import EVENT_KINDS, fmt_time
from orchestrator.export import export_moments
from orchestrator.graph import Span
from orchestrator.library import LibraryAsk, LibraryError, search
from orchestrator.media import MediaError
from orchestrator.messages import Cancel, Citation, decode, encode
from orchestrator.templates import Templates

from .app import parse_clock
from .library import UploadError

API = "/api/v1"
DOCS_STATIC = "/api/docs/static"
log = logging.getLogger(__name__)
LIBRARY = "library"  # the model name of library-wide questions on /v1/chat/completions


class ApiError(Exception):
    """A request that cannot be served as sent: an HTTP status and one line saying what is wrong and what to do."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


# -- the models of requests and answers --------------------------------------------------------------------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VideoInfo(BaseModel):
    video_id: str
    name: str
    duration_s: float | None
    status: str = Field(description="ingesting | done | error (as the library lists it)")
    windows_done: int
    windows: int | None
    created_at: str | None = None


class VideoStatus(VideoInfo):
    """A video with its ingest's progress in this app."""

    job: str | None = Field(None, description="queued | copying | ingesting | done | error while this app ingests it; None otherwise")
    transfer: float | None = Field(None, description="0..1 of the copy into the library")
    t_end: float | None = Field(None, description="how far (s) the finished windows reach")
    eta_s: float | None = Field(None, description="seconds left, measured on this ingest's windows (after two)")
    error: str | None = None


class UploadResult(BaseModel):
    video_id: str
    name: str
    new: bool = Field(description="False when the same content was already in the library")
    status: VideoStatus | None
    progress_url: str = Field(description="the server-sent events of this video's ingest")


class EventOut(BaseModel):
    id: str
    kind: str
    label: str
    t_start: float
    t_end: float
    time: str = Field(description="t_start as [mm:ss]")
    confidence: float
    text: str
    track_id: int | None = None


class CitationOut(Citation):
    time: str = Field(description="t_start as mm:ss (hh:mm:ss past an hour)")
    kind: str | None = None
    label: str | None = None
    text: str | None = None
    video_id: str | None = None
    video_name: str | None = None


class AnswerOut(BaseModel):
    answer: str
    citations: list[CitationOut]
    engine: str
    notice: str = ""
    session: str = Field(description="pass it back to ask a follow-up")
    video_id: str
    total_ms: float | None = None


class AskBody(Strict):
    question: str = Field(min_length=1, max_length=2000, examples=["When does the first car appear?"])
    session: str | None = Field(None, description="the session of an earlier answer, for a follow-up; empty starts a new one")
    stream: bool = Field(False, description="server-sent events: start, token..., notice, then done (the answer with its citations)")


class TemplateBody(Strict):
    session: str | None = None
    stream: bool = False


class ExportBody(Strict):
    session: str | None = Field(None, description="cut the moments the session's last answer about this video cites")
    spans: list[tuple[float, float]] | None = Field(None, description="or these [start, end] pairs (seconds)", examples=[[[4.0, 9.5], [30, 41]]])
    pad_s: float = Field(1.0, ge=0, le=30, description="seconds added before and after each moment")


class MomentOut(BaseModel):
    video_id: str
    video_name: str
    t_start: float
    t_end: float
    time: str
    event_id: str
    kind: str
    label: str
    snippet: str
    score: float
    why: list[str]


class LibraryAskBody(Strict):
    question: str = Field(min_length=1, max_length=2000, examples=["which videos have a dog?"])
    videos: list[str] | None = Field(None, description="ids or file names to ask; all of yours when empty")


class LibraryAnswerOut(BaseModel):
    answer: str
    citations: list[CitationOut]
    engine: str
    searched: int = Field(description="how many videos were asked")
    videos: list[dict]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send name, tool_calls ...

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens ... are accepted and have no effect

    model: str = Field(description='a video id (GET /v1/models), a video\'s file name when only one has it, or "library"')
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


# -- the routes ---------------------------------------------------------------------------------------------------------------
def check_credentials(users: dict[str, str] | None) -> Callable[[Request], str | None]:
    """The dependency that says who is asking: None without authentication, else the user (401 when nobody is)."""

    def who(request: Request) -> str | None:
        if not users:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        pair = ""
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(value.strip()).decode()
            except ValueError:
                pair = ""
        elif scheme.lower() == "bearer":
            pair = value.strip()
        user, _, password = pair.partition(":")
        if user in users and secrets.compare_digest(users[user].encode(), password.encode()):
            return user
        tokens = getattr(request.app, "tokens", {})  # the page's login cookie (Gradio's), for a browser already logged in
        for name, token in request.cookies.items():
            if name.startswith("access-token") and tokens.get(token) in users:
                return tokens[token]
        raise ApiError(401, "sign in: send HTTP basic auth (curl -u USER:PASSWORD) or the header 'Authorization: Bearer USER:PASSWORD'", "authentication_error")

    return who


def build_router(state, users: dict[str, str] | None) -> APIRouter:
    """Every route of the API over the app's state (``ui.app.AppState``)."""
    router = APIRouter()
    who = check_credentials(users)
    library = state.library

    def owner(user: str | None) -> str | None:
        return user if state.per_user else None

    def video_or_404(video_id: str, user: str | None) -> dict:
        mine = library.may_see(video_id, owner(user))
        v = library.video(video_id) if mine else None
        job = library.job(video_id) if mine and v is None else None
        if job is not None:  # uploaded, not yet begun: the library row comes with the ingest's first step
            v = {"video_id": video_id, "name": job.name, "duration_s": job.duration_s or None, "status": job.status, "windows_done": job.done}
            v |= {"n_windows": job.windows or None, "created_at": None, "error": job.error or None}
        if v is None:
            raise ApiError(404, f"unknown video id {video_id!r}: GET {API}/videos lists yours", "not_found_error")
        return v

    def status_of(v: dict) -> VideoStatus:
        job = library.job(v["video_id"])
        return VideoStatus(
            **info(v).model_dump(),
            job=job.status if job else None,
            transfer=job.transfer if job else None,
            t_end=job.t_end if job else None,
            eta_s=job.time_left() if job else None,
            error=(job.error if job and job.status == "error" else None) or v.get("error") or None,
        )

    def visible_video(video_id: str, user: str | None = Depends(who)) -> dict:
        return video_or_404(video_id, user)  # a dependency: said before a stream's first byte

    def session_for(session: str | None, user: str | None) -> str:
        if not session:
            session = new_session_id()
        try:
            check_session(session)
        except ValueError as exc:
            raise ApiError(422, f"{exc}; leave the session out to start a new one") from None
        if not state.claim_session(session, owner(user)):
            raise ApiError(404, f"unknown session {session!r}: leave it out to start a new one", "not_found_error")
        return session

    @router.get(f"{API}/videos", response_model=list[VideoInfo], tags=["videos"], summary="The library: your videos, newest first")
    def videos(user: str | None = Depends(who)):
        return [info(v) for v in library.videos(owner(user))]

    @router.post(f"{API}/videos", response_model=UploadResult, tags=["videos"], summary="Upload a video (multipart field 'file'); its ingest starts at once")
    def upload(file: UploadFile = File(description="the video or audio file"), name: str | None = Form(None), user: str | None = Depends(who)):
        original = name or file.filename or "video"
        limit = library.max_upload_bytes
        fd, tmp = tempfile.mkstemp(prefix=".api-", suffix=".part", dir=library.uploads)  # .part files are swept at start
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := file.file.read(8 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise ApiError(
                            413, f"{original}: over the {limit / 2**20:.0f} MB upload limit; trim or compress the video, or raise --max-upload-mb", "too_large"
                        )
                    out.write(chunk)
            try:
                video_id, new = library.add_upload(tmp, original, owner=owner(user))
            except UploadError as exc:
                raise ApiError(422, str(exc).replace(Path(tmp).name, original)) from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        v = video_or_404(video_id, user)
        return UploadResult(video_id=video_id, name=v["name"], new=new, status=status_of(v), progress_url=f"{API}/videos/{video_id}/progress")

    @router.get(f"{API}/videos/{{video_id}}", response_model=VideoStatus, tags=["videos"], summary="One video and its ingest's progress")
    def video(video_id: str, user: str | None = Depends(who)):
        return status_of(video_or_404(video_id, user))

    @router.get(
        f"{API}/videos/{{video_id}}/progress",
        response_class=EventSourceResponse,
        tags=["videos"],
        summary="Ingest progress as server-sent events ('progress', then one 'done', 'error' or 'stopped')",
    )
    def progress(video_id: str, user: str | None = Depends(who), _v: dict = Depends(visible_video)) -> Iterator[ServerSentEvent]:
        deadline = time.monotonic() + 6 * 3600
        last = None
        while time.monotonic() < deadline:
            try:
                v = video_or_404(video_id, user)
            except ApiError as exc:  # removed meanwhile
                yield ServerSentEvent(event="error", data={"video_id": video_id, "error": exc.message})
                return
            status = status_of(v).model_dump()
            job = library.job(video_id)
            end = (
                "done"
                if v["status"] == "done"
                else "error"
                if (job and job.status == "error") or v["status"] == "error"
                else "stopped"
                if job is None or job.status not in ("queued", "copying", "ingesting")
                else None
            )
            if status != last:
                last = status
                yield ServerSentEvent(event="progress", data=status)
            if end:
                yield ServerSentEvent(event=end, data=status)
                return
            time.sleep(0.5)

    @router.get(f"{API}/videos/{{video_id}}/events", response_model=list[EventOut], tags=["events"], summary="A video's events, filtered")
    def events(
        video_id: str,
        kind: str | None = Query(None, description=f"one of {', '.join(EVENT_KINDS)}"),
        label: str | None = Query(None, description="label contains"),
        t_from: str | None = Query(None, alias="from", description="seconds or mm:ss"),
        t_to: str | None = Query(None, alias="to", description="seconds or mm:ss; empty: to the end"),
        text: str | None = Query(None, description="label or text contains"),
        user: str | None = Depends(who),
    ):
        video_or_404(video_id, user)
        if kind and kind not in (*EVENT_KINDS, "all"):
            raise ApiError(422, f"unknown kind {kind!r}: one of {', '.join(EVENT_KINDS)}")
        for flag, value in (("from", t_from), ("to", t_to)):
            if value and parse_clock(value) is None:
                raise ApiError(422, f"{flag}={value!r} is not a time: give seconds (90) or mm:ss (1:30)")
        rows = state.filtered_events(video_id, kind or "all", label or "", t_from or "", t_to or "", text or "")
        return [event_out(e) for e in rows]

    def answer_out(video_id: str, answer, session: str) -> AnswerOut:
        return AnswerOut(**state.answer_data(video_id, answer, session))

    def stream_answer(session: str, video_id: str, question: str, template: str | None) -> StreamingResponse:
        """The answer as server-sent events: the bus's start, token, notice (and cancelled or error) messages as they come,
        then 'done' with the answer and its citations. A client that goes away cancels the answer through the inbox."""
        sub = state.redis.pubsub(ignore_subscribe_messages=True)
        sub.subscribe(tokens_channel(session))
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["answer"] = state.ask_service.ask(session, video_id, question, template=template)
            except Exception as exc:  # noqa: BLE001 - sent as the stream's error event
                result["error"] = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__

        def events() -> Iterator[str]:
            worker = threading.Thread(target=work, name=f"api-ask-{session}", daemon=True)
            worker.start()
            finished = False
            try:
                for msg in _bus_messages(sub, session, worker):
                    if msg.type == "done":
                        break
                    yield format_sse_event(event=msg.type, data_str=msg.model_dump_json(exclude_none=True)).decode()
                    if msg.type in ("cancelled", "error"):
                        finished = True
                        return
                worker.join(timeout=60)
                finished = True
                if "answer" in result:
                    yield format_sse_event(event="done", data_str=answer_out(video_id, result["answer"], session).model_dump_json()).decode()
                else:
                    yield format_sse_event(event="error", data_str=json.dumps({"error": result.get("error", "the answer did not finish")})).decode()
            finally:
                if not finished:  # the client went away: stop the worker too
                    try:
                        state.redis.publish(inbox_channel(session), encode(Cancel()))
                    except redis.RedisError:
                        pass
                sub.close()

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    ask_responses = {
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "the answer (JSON), or its events with stream=true"}
    }

    @router.post(f"{API}/videos/{{video_id}}/ask", response_model=AnswerOut, responses=ask_responses, tags=["ask"], summary="Ask about a video")
    def ask(video_id: str, body: AskBody, user: str | None = Depends(who)):
        video_or_404(video_id, user)
        if not body.question.strip():
            raise ApiError(422, 'the question is empty: send {"question": "When does the first car appear?"}')
        session = session_for(body.session, user)
        if body.stream:
            return stream_answer(session, video_id, body.question, None)
        return answer_out(video_id, state.ask_service.ask(session, video_id, body.question), session)

    @router.get(f"{API}/templates", response_model=list[str], tags=["ask"], summary="The report templates")
    def templates(user: str | None = Depends(who)):
        return list(Templates.NAMES)

    @router.post(
        f"{API}/videos/{{video_id}}/templates/{{name}}", response_model=AnswerOut, responses=ask_responses, tags=["ask"], summary="Run a report template"
    )
    def template(video_id: str, name: str, body: TemplateBody | None = None, user: str | None = Depends(who)):
        body = body or TemplateBody()
        video_or_404(video_id, user)
        if name not in Templates.NAMES:
            raise ApiError(404, f"unknown template {name!r}: one of {', '.join(Templates.NAMES)} (GET {API}/templates)", "not_found_error")
        session = session_for(body.session, user)
        if body.stream:
            return stream_answer(session, video_id, "", name)
        return answer_out(video_id, state.ask_service.ask(session, video_id, "", template=name), session)

    @router.post(
        f"{API}/videos/{{video_id}}/export",
        response_class=FileResponse,
        responses={200: {"content": {"video/mp4": {}}, "description": "one MP4 of the moments"}},
        tags=["export"],
        summary="Cut moments into one clip: the session's last cited moments, or the spans given",
    )
    def export(video_id: str, body: ExportBody, user: str | None = Depends(who)):
        video_or_404(video_id, user)
        if body.spans:
            bad = [s for s in body.spans if s[1] < s[0] or s[0] < 0]
            if bad:
                raise ApiError(422, f"span {list(bad[0])} is not [start, end] in seconds with start <= end")
            source = library.media_path(video_id)
            if not source:
                raise ApiError(404, "the video file is no longer in the library: upload it again to export from it", "not_found_error")
            out = library.home / "exports" / f"{video_id}-{uuid.uuid4().hex[:10]}.mp4"
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                export_moments(source, list(body.spans), out, pad_s=body.pad_s)
            except MediaError as exc:
                raise ApiError(422, f"export failed: {exc}") from None
        elif body.session:
            out, message = state.export(session_for(body.session, user), video_id)
            if out is None:
                raise ApiError(422, message)
        else:
            raise ApiError(422, 'say what to export: {"session": "..."} (the last answer\'s moments) or {"spans": [[4, 9.5]]}')
        return FileResponse(out, media_type="video/mp4", filename=f"{video_id}-moments.mp4")

    def visible_ids(user: str | None, wanted: list[str] | None) -> list[str]:
        """The videos a library request may read: those named (by id or file name) among the user's, else all of the user's."""
        mine = library.videos(owner(user))
        wanted = [w.strip() for w in wanted or [] if w and w.strip()]
        if not wanted:
            if not mine:
                raise ApiError(404, f"your library is empty: upload a video first (POST {API}/videos)", "not_found_error")
            return [v["video_id"] for v in mine]
        by_key = {v["video_id"]: v["video_id"] for v in mine} | {str(v["name"]).lower(): v["video_id"] for v in mine}
        missing = [w for w in wanted if w not in by_key and w.lower() not in by_key]
        if missing:
            raise ApiError(404, f"unknown video {', '.join(repr(m) for m in missing)}: GET {API}/videos lists yours", "not_found_error")
        return list(dict.fromkeys(by_key.get(w, by_key.get(w.lower())) for w in wanted))

    @router.get(f"{API}/search", response_model=list[MomentOut], tags=["library"], summary="Search the library's moments")
    def library_search(
        q: str = Query("", description="free text over transcripts, on-screen text, labels, attributes and scene descriptions"),
        kind: list[str] = Query([], description=f"one of {', '.join(EVENT_KINDS)}; repeat for several"),
        label: list[str] = Query([], description="an exact label (person, car, speech ...); repeat for several"),
        videos: str | None = Query(None, description="ids or file names, comma-separated (default: all of yours)"),
        t_from: str | None = Query(None, alias="from", description="seconds or mm:ss into each video"),
        t_to: str | None = Query(None, alias="to", description="seconds or mm:ss into each video"),
        semantic: bool = Query(True, description="also rank by meaning (the embedder on Triton)"),
        limit: int = Query(20, ge=1, le=200),
        user: str | None = Depends(who),
    ):
        bad = [k for k in kind if k not in EVENT_KINDS]
        if bad:
            raise ApiError(422, f"unknown kind {bad[0]!r}: one of {', '.join(EVENT_KINDS)}")
        span = None
        if t_from or t_to:
            lo, hi = parse_clock(t_from) if t_from else 0.0, parse_clock(t_to) if t_to else 1e12
            if lo is None or hi is None:
                raise ApiError(422, f"from={t_from!r} / to={t_to!r}: give seconds (90) or mm:ss (1:30)")
            span = Span(lo, hi)
        ids = visible_ids(user, videos.split(",") if videos else None)
        with library.cursor() as graph:
            try:
                moments = search(graph, q, videos=ids, kinds=tuple(kind), labels=tuple(label), span=span, embed=state.embed if semantic else None, limit=limit)
            except LibraryError as exc:
                raise ApiError(422, str(exc).replace("--kind, --label, a time range", "kind=, label=, from=/to=")) from None
        return [MomentOut(**m.to_dict(), time=fmt_time(m.t_start)) for m in moments]

    def library_answer(question: str, ids: list[str]) -> LibraryAnswerOut:
        with library.cursor() as graph:
            try:
                a = LibraryAsk(graph, embed=state.embed).ask(question, videos=ids)
            except LibraryError as exc:
                raise ApiError(422, str(exc)) from None
        by_video: dict[str, dict] = {}
        cites = []
        for c in a.citations:
            if c.video_id not in by_video:
                with library.cursor() as g:
                    by_video[c.video_id] = {e.id: e for e in g.read_events(c.video_id)}
            e = by_video[c.video_id].get(c.event_id)
            cites.append(
                CitationOut(
                    t_start=c.t_start,
                    t_end=c.t_end,
                    event_id=c.event_id,
                    time=fmt_time(c.t_start),
                    kind=e.kind if e else None,
                    label=e.label if e else None,
                    text=e.text if e else None,
                    video_id=c.video_id,
                    video_name=c.video_name,
                )
            )
        d = a.to_dict()
        return LibraryAnswerOut(answer=a.text, citations=cites, engine=a.engine, searched=a.searched, videos=d["videos"])

    @router.post(f"{API}/library/ask", response_model=LibraryAnswerOut, tags=["library"], summary="Ask the whole library (or the videos named)")
    def library_ask(body: LibraryAskBody, user: str | None = Depends(who)):
        if not body.question.strip():
            raise ApiError(422, 'the question is empty: send {"question": "which videos have a dog?"}')
        return library_answer(body.question, visible_ids(user, body.videos))

    @router.get(f"{API}/status", tags=["status"], summary="Triton's models, the answer engine, Redis and the database")
    def status(user: str | None = Depends(who)) -> dict:
        try:
            ready = state.models().ready()
        except Exception as exc:  # noqa: BLE001 - the status says what is down
            ready = {"error": str(exc)[:200]}
        try:
            redis_up = bool(state.redis.ping())
        except redis.RedisError:
            redis_up = False
        vids = library.videos(owner(user))
        return {
            "triton": {"url": state.triton_url, "models": ready},
            "answer_engine": state.ask_service.engine_name,
            "redis": "up" if redis_up else "down",
            "videos": len(vids),
            "windows_done": sum(v["windows_done"] for v in vids),
        }

    # -- OpenAI-compatible ------------------------------------------------------------------------------------------------
    @router.get("/v1/models", tags=["openai"], summary="The models: one per video (its id) and 'library'")
    def models(user: str | None = Depends(who)) -> dict:
        vids = library.videos(owner(user))
        data = [{"id": LIBRARY, "object": "model", "created": 0, "owned_by": "video-detective", "name": "every video of the library"}]
        for v in vids:
            created = int(v["created_at"].timestamp()) if v.get("created_at") else 0
            data.append({"id": v["video_id"], "object": "model", "created": created, "owned_by": "video-detective", "name": v["name"]})
        return {"object": "list", "data": data}

    def _video_model(model: str, who_owns: str | None) -> str:
        """The video a chat's ``model`` names: its id, or its file name when one visible video has that name."""
        if library.may_see(model, who_owns) and library.video(model) is not None:
            return model
        named = [v["video_id"] for v in library.videos(who_owns) if v["name"].casefold() == model.strip().casefold()]
        if len(named) == 1:
            return named[0]
        if named:
            raise ApiError(400, f"{len(named)} videos are named {model!r}: use one of their ids as model ({', '.join(named)})", "invalid_request_error")
        raise ApiError(404, f"unknown model {model!r}: use a video id or file name from GET /v1/models, or 'library'", "not_found_error")

    @router.post("/v1/chat/completions", tags=["openai"], summary="OpenAI-compatible chat: model is a video id (or file name) or 'library'")
    def chat(body: ChatRequest, user: str | None = Depends(who)):
        question = _last_question(body.messages)
        created, cid = int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.model == LIBRARY:
            a = library_answer(question, visible_ids(user, None))
            text, citations, session = a.answer, a.citations, None
        else:
            body.model = _video_model(body.model, owner(user))
            key = _history_key(owner(user), body.model, body.messages[:-1])
            session = _remembered_session(state.redis, key) or new_session_id()
            session = session_for(session, user)
            if body.stream:
                return _chat_stream(state, body.model, session, question, cid, created, owner(user), body.messages, answer_out)
            out = answer_out(body.model, state.ask_service.ask(session, body.model, question), session)
            text, citations = out.answer, out.citations
            _remember_session(state.redis, _history_key(owner(user), body.model, [*body.messages, ChatMessage(role="assistant", content=text)]), session)
        cites = [c.model_dump(exclude_none=True) for c in citations]
        if body.stream:  # the library's answer is composed whole: sent in chunks of words

            def chunks() -> Iterator[str]:
                yield _chunk(cid, created, body.model, {"role": "assistant", "content": ""})
                for piece in _words(text):
                    yield _chunk(cid, created, body.model, {"content": piece})
                yield _chunk(cid, created, body.model, {}, finish="stop", citations=cites)
                yield "data: [DONE]\n\n"

            return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": cites,
            "session": session,
        }

    return router


def info(v: dict) -> VideoInfo:
    created = v.get("created_at")
    return VideoInfo(
        video_id=v["video_id"],
        name=v["name"],
        duration_s=v["duration_s"],
        status=v["status"],
        windows_done=v["windows_done"],
        windows=v["n_windows"],
        created_at=created.isoformat() if created else None,
    )


def event_out(e) -> EventOut:
    return EventOut(
        id=e.id,
        kind=e.kind,
        label=e.label,
        t_start=e.t_start,
        t_end=e.t_end,
        time=fmt_time(e.t_start),
        confidence=round(e.confidence, 4),
        text=e.text,
        track_id=e.track_id,
    )


# -- OpenAI chat helpers --------------------------------------------------------------------------------------------------
def _content(m: ChatMessage) -> str:
    if isinstance(m.content, list):  # content parts: the text ones
        return " ".join(str(p.get("text", "")) for p in m.content if isinstance(p, dict) and p.get("type") in (None, "text"))
    return m.content or ""


def _last_question(messages: list[ChatMessage]) -> str:
    if messages[-1].role != "user":
        raise ApiError(422, f"the last message is from {messages[-1].role!r}: end messages with the user's question", "invalid_request_error")
    question = " ".join(_content(messages[-1]).split())
    if not question:
        raise ApiError(422, "the last user message is empty: put the question in its content", "invalid_request_error")
    return question


def _history_key(owner: str | None, model: str, messages: list[ChatMessage]) -> str:
    """A conversation as OpenAI clients resend it (every message so far) names the session that holds its turns."""
    turns = [(m.role, " ".join(_content(m).split())) for m in messages if m.role in ("user", "assistant")]
    digest = hashlib.sha256(json.dumps([owner, model, turns]).encode()).hexdigest()[:32]
    return f"chat_history:{digest}"


def _remembered_session(client, key: str) -> str | None:
    try:
        got = client.get(key)
    except redis.RedisError:
        return None
    return got.decode() if got else None


def _remember_session(client, key: str, session: str) -> None:
    try:
        client.set(key, session, ex=7 * 86400)
    except redis.RedisError:
        pass


def _words(text: str) -> Iterator[str]:
    word = ""
    for ch in text:
        word += ch
        if ch.isspace():
            yield word
            word = ""
    if word:
        yield word


def _bus_messages(sub, session: str, worker: threading.Thread, timeout_s: float = 600.0) -> Iterator:
    """The answer stream's messages on ``tokens:{session}`` as they come (those that do not fit a model skipped),
    until the answer worker has finished and nothing is left, or ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        m = sub.get_message(timeout=0.1)
        if m is None:
            if not worker.is_alive():
                return
            continue
        try:
            yield decode(tokens_channel(session), m["data"])
        except ValueError:
            continue


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None, **extra) -> str:
    doc = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }
    return f"data: {json.dumps(doc)}\n\n"


def _chat_stream(state, video_id, session, question, cid, created, owner, messages, answer_out) -> StreamingResponse:
    """A video's answer as OpenAI chunks, the tokens as the answer worker publishes them on ``tokens:{session}``; the
    last chunk carries the citations (and the session)."""
    sub = state.redis.pubsub(ignore_subscribe_messages=True)
    sub.subscribe(tokens_channel(session))
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["answer"] = state.ask_service.ask(session, video_id, question)
        except Exception as exc:  # noqa: BLE001 - sent as the stream's error
            result["error"] = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__

    def chunks() -> Iterator[str]:
        worker = threading.Thread(target=work, name=f"chat-{session}", daemon=True)
        worker.start()
        finished = False
        text = ""
        try:
            yield _chunk(cid, created, video_id, {"role": "assistant", "content": ""})
            for msg in _bus_messages(sub, session, worker):
                if msg.type == "token":
                    text += msg.text
                    yield _chunk(cid, created, video_id, {"content": msg.text})
                elif msg.type in ("done", "cancelled", "error"):
                    break
            worker.join(timeout=60)
            finished = True
            if "answer" not in result:
                err = {"message": result.get("error", "the answer did not finish"), "type": "server_error"}
                yield f"data: {json.dumps({'error': err})}\n\n"
                return
            out = answer_out(video_id, result["answer"], session)
            if out.answer.startswith(text) and len(out.answer) > len(text):  # what the stream did not carry (a fallback's text)
                yield _chunk(cid, created, video_id, {"content": out.answer[len(text) :]})
            _remember_session(state.redis, _history_key(owner, video_id, [*messages, ChatMessage(role="assistant", content=out.answer)]), session)
            cites = [c.model_dump(exclude_none=True) for c in out.citations]
            yield _chunk(cid, created, video_id, {}, finish="stop", citations=cites, session=session)
            yield "data: [DONE]\n\n"
        finally:
            if not finished:
                try:
                    state.redis.publish(inbox_channel(session), encode(Cancel()))
                except redis.RedisError:
                    pass
            sub.close()

    return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


# -- errors and wiring ----------------------------------------------------------------------------------------------------
def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/v1/"))


def _error_response(request: Request, status: int, message: str, kind: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="Video Detective"'} if status == 401 else None
    if request.url.path.startswith("/v1/"):  # OpenAI's error shape, which its clients read
        body = {"error": {"message": message, "type": kind, "param": None, "code": status}}
    else:
        body = {"detail": message}
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return _error_response(request, exc.status, exc.message, exc.kind)


async def _unexpected(request: Request, exc: Exception):
    """What no route expected (Triton gone, a full disk ...): one line, and the details in the app's log."""
    if not _is_api(request):
        return PlainTextResponse("Internal Server Error", status_code=500)
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, LookupError):
        return _error_response(request, 404, first, "not_found_error")
    return _error_response(request, 500, f"the server failed: {first}; the app's log has the details", "server_error")


EXAMPLES = {
    "/ask": '{"question": "When does the first car appear?"}',
    "/library/ask": '{"question": "which videos have a dog?"}',
    "/export": '{"spans": [[4, 9.5]]} or {"session": "..."}',
    "/chat/completions": '{"model": "VIDEO_ID", "messages": [{"role": "user", "content": "What happens?"}]}',
}


async def _validation_error(request: Request, exc: RequestValidationError):
    """A request the models refuse: each field, what is wrong with it, and what the body should look like."""
    if not _is_api(request):
        return await request_validation_exception_handler(request, exc)
    parts = []
    for err in exc.errors()[:4]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        msg = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            msg = "the body is not valid JSON"
        elif err.get("type") == "extra_forbidden":
            msg = "is not a field of this request"
        parts.append(f"{where}: {msg}")
    example = next((v for k, v in EXAMPLES.items() if request.url.path.endswith(k)), None)
    message = "; ".join(parts) + (f"; send JSON like {example}" if example else "")
    return _error_response(request, 422, message, "invalid_request_error")


async def _http_error(request: Request, exc: StarletteHTTPException):
    if not _is_api(request):
        return await http_exception_handler(request, exc)
    if exc.status_code == 404:
        return _error_response(request, 404, f"no endpoint {request.method} {request.url.path}: /api/docs lists them", "not_found_error")
    if exc.status_code == 405:
        return _error_response(
            request, 405, f"{request.method} is not allowed on {request.url.path}: /api/docs says which methods are", "invalid_request_error"
        )
    return _error_response(request, exc.status_code, str(exc.detail), "invalid_request_error")


def api_app_kwargs(state, auth: list[tuple[str, str]] | None) -> dict:
    """What ``Blocks.launch(app_kwargs=...)`` needs for the API to be served by the page's own FastAPI app: its routes
    (first, so they are matched before the page's), their error handlers and the docs at /api/docs."""
    router = build_router(state, dict(auth) if auth else None)
    schema: dict = {}

    def openapi() -> dict:
        if not schema:
            schema.update(
                jsonable_encoder(
                    get_openapi(
                        title="Video Detective API",
                        version="1",
                        description="Ask questions about long videos and get answers that cite the moments. "
                        "Authenticate as on the page: HTTP basic auth or 'Authorization: Bearer USER:PASSWORD'.",
                        routes=router.routes,
                    )
                )
            )
        return schema

    @router.get("/api/openapi.json", include_in_schema=False)
    def openapi_json():
        return JSONResponse(openapi())

    @router.get("/api/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="Video Detective API",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
        )

    # Swagger UI's own files from the fastapi-offline package: the docs work on a machine without internet
    static = Mount(DOCS_STATIC, app=StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="api-docs-static")
    return {
        "routes": [*router.routes, static],
        "exception_handlers": {ApiError: _api_error, RequestValidationError: _validation_error, StarletteHTTPException: _http_error, Exception: _unexpected},
    }


__all__ = ["API", "ApiError", "AnswerOut", "api_app_kwargs", "build_router"]
