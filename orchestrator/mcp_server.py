"""The library as tools for agents: an MCP server on stdio (``python -m orchestrator mcp``), built on the official
``mcp`` SDK. Tools: ``videos``, ``events``, ``search``, ``ask`` (one video, or the whole library) and ``export``.

Each call is answered by the app when one holds the home (through its HTTP API, found through the home's writer
record, signing in with the first pair of ``VDET_AUTH``), else from the home's database opened read-only for that
call only (so an app or ingest can start at any time). Without the app the question embedder is Triton's, at
``$TRITON_URL`` or started on the first call that needs it; if it cannot be had, answers go on by words alone.

An agent's configuration (Claude Desktop, VS Code, any MCP client)::

    {"command": ".venv/bin/python", "args": ["-m", "orchestrator", "mcp", "--home", "/data/vd-home"]}
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from .app_client import AppApi, app_url
from .events import EVENT_KINDS, fmt_time

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Video Detective: questions about long videos, answered with cited moments. List the videos with `videos`; "
    "ask about one with `ask` (video_id) or about all of them (video_id 'library'); find moments with `search`; "
    "read a video's events with `events`; cut cited moments into one MP4 with `export`. Times are seconds from the "
    "start of each video; citations are [mm:ss]."
)


class Library:
    """What the tools read: the running app's API when an app holds the home, else the home's graph, read-only."""

    def __init__(self, home: Path):
        self.home = home
        self._embed = None
        self._embed_closer = None
        self._embed_tried = False
        self._lock = threading.Lock()

    # -- where an answer comes from ---------------------------------------------------------------------------------
    def app(self) -> AppApi | None:
        url = app_url(self.home)
        return AppApi(self.home, url) if url else None

    def graph(self):
        from .homelock import open_read_only  # noqa: PLC0415

        return open_read_only(self.home, "try again when it is done", missing_advice=", or start the app")

    def embed(self):
        """The question embedder (Triton's), started once on first use; None when it cannot be had."""
        with self._lock:
            if not self._embed_tried:
                self._embed_tried = True
                try:
                    from .services import question_embedder  # noqa: PLC0415

                    self._embed, self._embed_closer = question_embedder(True)
                except Exception as exc:  # noqa: BLE001 - answers go on by words alone
                    log.warning("no question embedder (%s); answering by words alone", exc)
            return self._embed

    def close(self) -> None:
        if self._embed_closer is not None:
            self._embed_closer()

    # -- the tools' work --------------------------------------------------------------------------------------------
    def videos(self) -> list[dict]:
        app = self.app()
        if app is not None:
            return app.videos()
        with self.graph() as g:
            return [
                {
                    "video_id": v["video_id"],
                    "name": v["name"],
                    "duration_s": v["duration_s"],
                    "status": v["status"],
                    "windows_done": v["windows_done"],
                    "windows": v["n_windows"],
                }
                for v in g.videos()
            ]

    def events(self, video_id: str, kind: str | None, label: str | None, t_from: float | None, t_to: float | None, text: str | None, limit: int) -> list[dict]:
        if kind and kind not in EVENT_KINDS:
            raise LookupError(f"unknown kind {kind!r}: one of {', '.join(EVENT_KINDS)}")
        app = self.app()
        if app is not None:
            rows = app.events(video_id, kind, label, None if t_from is None else str(t_from), None if t_to is None else str(t_to), text)
            return rows[:limit]
        with self.graph() as g:
            if g.video(video_id) is None:
                raise LookupError(f"unknown video id {video_id!r}: the `videos` tool lists them")
            out = []
            for e in g.read_events(video_id, kind):
                if label and label.lower() not in e.label.lower():
                    continue
                if t_from is not None and e.t_end < t_from or t_to is not None and e.t_start > t_to:
                    continue
                if text and text.lower() not in f"{e.label} {e.text}".lower():
                    continue
                out.append(
                    {
                        "id": e.id,
                        "kind": e.kind,
                        "label": e.label,
                        "t_start": e.t_start,
                        "t_end": e.t_end,
                        "time": fmt_time(e.t_start),
                        "confidence": round(e.confidence, 4),
                        "text": e.text,
                        "track_id": e.track_id,
                    }
                )
                if len(out) >= limit:
                    break
            return out

    def search(self, query: str, kinds: list[str], labels: list[str], videos: list[str] | None, limit: int) -> list[dict]:
        bad = [k for k in kinds if k not in EVENT_KINDS]
        if bad:
            raise LookupError(f"unknown kind {bad[0]!r}: one of {', '.join(EVENT_KINDS)}")
        app = self.app()
        if app is not None:
            return app.search(query, kinds, labels, videos, limit)
        from .library import search  # noqa: PLC0415

        embed = self.embed() if (query or "").strip() else None
        with self.graph() as g:
            moments = search(g, query, videos=videos, kinds=tuple(kinds), labels=tuple(labels), embed=embed, limit=limit)
        return [{**m.to_dict(), "time": fmt_time(m.t_start)} for m in moments]

    def ask(self, question: str, video_id: str, videos: list[str] | None, session: str) -> dict:
        question = " ".join((question or "").split())
        if not question:
            raise LookupError("ask a question, e.g. 'When does the first car appear?'")
        app = self.app()
        if app is not None:
            if video_id == "library":
                return app.ask_library(question, videos)
            return app.ask(video_id, question, session)
        from .library import LibraryAsk  # noqa: PLC0415

        embed = self.embed()
        with self.graph() as g:
            if video_id != "library" and g.video(video_id) is None:
                raise LookupError(f"unknown video id {video_id!r}: the `videos` tool lists them, or ask 'library'")
            answer = LibraryAsk(g, embed=embed).ask(question, videos=videos if video_id == "library" else [video_id])
        doc = answer.to_dict()
        for c in doc["citations"]:
            c["time"] = fmt_time(c["t_start"])
        return {"answer": doc["answer"], "citations": doc["citations"], "engine": doc["engine"], "searched": doc["searched"]}

    def export(self, video_id: str, spans: list[list[float]], out: str | None, pad_s: float) -> dict:
        if not spans:
            raise LookupError("give spans to cut: [[start, end], ...] in seconds, e.g. the t_start and t_end of an answer's citations")
        clean: list[tuple[float, float]] = []
        for s in spans:
            if len(s) != 2 or float(s[1]) < float(s[0]) or float(s[0]) < 0:
                raise LookupError(f"span {s} is not [start, end] in seconds with 0 <= start <= end")
            clean.append((float(s[0]), float(s[1])))
        dest = Path(out).expanduser() if out else Path(tempfile.gettempdir()) / f"vdet-{video_id}-{int(time.time())}.mp4"
        if dest.suffix.lower() != ".mp4":
            raise LookupError(f"out must name an .mp4 file; got {dest.name!r}")
        app = self.app()
        if app is not None:
            app.export(video_id, clean, dest, pad_s)
        else:
            from .export import export_moments  # noqa: PLC0415

            with self.graph() as g:
                v = g.video(video_id)
            if v is None:
                raise LookupError(f"unknown video id {video_id!r}: the `videos` tool lists them")
            copies = [c for c in sorted((self.home / "uploads").glob(f"{video_id}.*")) if not c.name.endswith(".part")]
            source = copies[0] if copies else Path(v["path"])
            if not source.is_file():
                raise LookupError(f"the file of {v['name']} is gone (it was at {v['path']}); put it back to export from it")
            dest.parent.mkdir(parents=True, exist_ok=True)
            export_moments(source, clean, dest, pad_s=pad_s)
        return {"file": str(dest), "bytes": dest.stat().st_size, "moments": len(clean)}


def build_server(home: Path) -> tuple[MCPServer, Library]:
    lib = Library(home)
    server = MCPServer("video-detective", instructions=INSTRUCTIONS)

    def run(fn, *args) -> Any:
        try:
            return fn(*args)
        except LookupError as exc:  # unknown video, a busy home, bad input: the agent reads one line
            raise ToolError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - a failure below is one line too, never a traceback
            log.exception("tool failed")
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ToolError(f"{type(exc).__name__}: {first}") from None

    @server.tool(description="The videos of the library: id, name, duration (s), ingest status and windows done.")
    def videos() -> list[dict]:
        return run(lib.videos)

    @server.tool(description=f"A video's events in time order, filtered by kind ({', '.join(EVENT_KINDS)}), label, time range (seconds) and text.")
    def events(
        video_id: str,
        kind: str | None = None,
        label: str | None = None,
        t_from: float | None = None,
        t_to: float | None = None,
        text: str | None = None,
        limit: int = 200,
    ) -> list[dict]:
        return run(lib.events, video_id, kind, label, t_from, t_to, text, limit)

    @server.tool(
        description="Search the library's moments by free text (transcripts, on-screen text, labels, colours, scene descriptions), "
        "optionally by kind, label and videos (ids or file names); ranked across videos."
    )
    def search(query: str, kinds: list[str] | None = None, labels: list[str] | None = None, videos: list[str] | None = None, limit: int = 20) -> list[dict]:
        return run(lib.search, query, kinds or [], labels or [], videos, limit)

    @server.tool(
        description="Ask a question about one video (video_id) or the whole library (video_id 'library', optionally only `videos`). "
        "The answer cites moments as [mm:ss]; its citations give t_start/t_end (s) and event ids. Pass `session` back for a follow-up."
    )
    def ask(question: str, video_id: str = "library", videos: list[str] | None = None, session: str = "") -> dict:
        return run(lib.ask, question, video_id, videos, session)

    @server.tool(description="Cut moments of a video ([start, end] spans in seconds, e.g. an answer's citations) into one MP4; returns its path.")
    def export(video_id: str, spans: list[list[float]], out: str | None = None, pad_s: float = 1.0) -> dict:
        return run(lib.export, video_id, spans, out, pad_s)

    return server, lib


def serve(home: Path) -> int:
    """Serve the tools on stdio until the client closes the stream."""
    server, lib = build_server(home)
    try:
        server.run("stdio")
    finally:
        lib.close()
    return 0
