"""The Gradio page: upload or pick a video, watch ingest, explore the timeline and events, and chat
with answers whose citations seek the player."""

from __future__ import annotations

import html
import re
import threading
import time
from pathlib import Path
from urllib.parse import quote

import gradio as gr
from gradio.data_classes import FileData
import pandas as pd
import redis

from orchestrator.ask import AskService, inbox_channel, new_session_id, tokens_channel
from orchestrator.config import IngestConfig
from orchestrator.events import EVENT_KINDS, Event, fmt_time, plural
from orchestrator.export import CitedMoment, ExportResult, export_cited, what_event
from orchestrator.media import MediaError, decoder_choice
from orchestrator.messages import Cancel, decode, encode
from orchestrator.model_clients import TritonModels
from orchestrator.templates import Templates

from orchestrator.settings import SettingsError, get_settings

from .library import Library, UploadError
from .overview import FACT_KEYS, MAX_SUGGESTIONS, knowledge, suggested_questions
from .thumbnails import Thumbnails
from .timeline import timeline_figure

CITE = re.compile(r"\[(?:(\d{1,2}):)?(\d{1,2}):(\d{2})\]")
TABLE_COLUMNS = ["frame", "when", "kind", "label", "text", "conf"]
TABLE_WIDTHS = ["11%", "14%", "9%", "14%", "45%", "7%"]
TABLE_TYPES = ["html", "str", "str", "str", "str", "str"]
CLOCK = re.compile(r"^\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)\s*s?\s*$")


def parse_clock(text) -> float | None:
    """A time typed in a filter: seconds ("90", "90.5"), mm:ss ("1:30") or hh:mm:ss; empty or unreadable is None."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else float(text)
    m = CLOCK.match(str(text))
    if not m:
        return None
    a, b, sec = m.groups()
    h, mi = (int(a), int(b)) if b is not None else (0, int(a or 0))
    return h * 3600 + mi * 60 + float(sec)


CSS = """
#progress .vd-bar { width: 100%; height: 10px; background: #e9ecef; border-radius: 5px; overflow: hidden; }
#progress .vd-bar > div { height: 100%; background: #1c7ed6; transition: width .5s; }
#progress .vd-text { font-size: 0.9em; color: #495057; margin-top: 4px; }
#chat a[href^="#t="] { font-family: ui-monospace, monospace; text-decoration: none; background: #e7f5ff; padding: 0 3px; border-radius: 3px; }
#notice { font-size: 0.85em; color: #868e96; }
#chat .vd-typing { display: inline-block; margin-left: 2px; color: #1c7ed6; letter-spacing: 1px; animation: vd-blink 1s steps(2, start) infinite; }
#library input { text-overflow: ellipsis; padding-right: 2.2em; }  /* a long entry ends in "…", not under the arrow */
#timeline .js-plotly-plot { position: relative; }
#timeline .vd-playhead { position: absolute; width: 2px; margin-left: -1px; background: #e03131; pointer-events: none; z-index: 5; }
#events img.vd-thumb { display: block; width: 100%; max-width: 96px; height: auto; border-radius: 3px; }
#timeline .vd-hovercard { position: absolute; z-index: 6; pointer-events: none; background: #fff; border: 1px solid #ced4da; border-radius: 4px;
  padding: 2px; box-shadow: 0 2px 6px rgba(0,0,0,.25); }
#timeline .vd-hovercard img { display: block; width: 160px; height: auto; border-radius: 2px; }
#transcript .vd-head, #knows .vd-head { font-weight: 600; font-size: 0.9em; color: #495057; }
#transcript .vd-transcript { position: relative; max-height: 9.5em; overflow-y: auto; border: 1px solid #e9ecef; border-radius: 4px; padding: 2px 0;
  scroll-behavior: smooth; }
#transcript .vd-line { display: block; padding: 1px 6px; color: inherit; text-decoration: none; line-height: 1.45; }
#transcript .vd-line:hover, #transcript .vd-line:focus { background: #f1f3f5; }
#transcript .vd-line.vd-now { background: #e7f5ff; border-left: 3px solid #1c7ed6; padding-left: 3px; }
#transcript .vd-when { font-family: ui-monospace, monospace; color: #1c7ed6; }
#transcript .vd-empty { font-size: 0.85em; color: #868e96; }
#knows { align-items: center; gap: 6px; flex-wrap: wrap; }
#knows > #knows-head { flex: 0 0 auto !important; min-width: 0 !important; width: auto !important; padding: 0 4px 0 0; }
#transcript, #transcript .vd-transcript, #transcript .vd-line { text-align: left !important; }
#suggest { gap: 6px; flex-wrap: wrap; }
#suggest button, #knows button { flex: 0 1 auto; white-space: normal; }
#chat a[href^="#t="]:focus-visible, #transcript .vd-line:focus-visible { outline: 2px solid #1c7ed6; outline-offset: 1px; }
@media (max-width: 640px) {  /* a phone: the frame, time, label and text are what matter */
  #events thead th:nth-child(3), #events thead th:nth-child(6), #events .virtual-row > .body-cell:nth-child(3),
  #events .virtual-row > .body-cell:nth-child(6), #events .sizing-body td:nth-child(3), #events .sizing-body td:nth-child(6) { display: none; }
  #events .cell-wrap { font-size: 0.85em; }
  #events img.vd-thumb { max-width: 64px; }
  #events thead th:nth-child(1), #events .virtual-row > .body-cell:nth-child(1) { width: 72px !important; min-width: 72px !important; flex: 0 0 72px !important; }
  #events thead th:nth-child(2), #events .virtual-row > .body-cell:nth-child(2) { width: 64px !important; min-width: 64px !important; flex: 0 0 64px !important; }
  #events thead th:nth-child(4), #events .virtual-row > .body-cell:nth-child(4) { width: 72px !important; min-width: 72px !important; flex: 0 0 72px !important; }
  #events thead th:nth-child(5), #events .virtual-row > .body-cell:nth-child(5) { width: auto !important; flex: 1 1 auto !important; }
  #chat { height: 340px !important; max-height: 340px !important; }  /* the question box within reach of the thumb */
}
@keyframes vd-blink { to { visibility: hidden; } }
"""
TYPING = "<span class='vd-typing' title='writing…'>●●●</span>"  # shown after the words streamed so far

JS = """
() => {
  window.vdSeek = (t) => {
    const v = document.querySelector('#player video');
    if (!v) return;
    const go = () => { v.currentTime = t; v.play().catch(() => {}); };
    if (v.readyState >= 1) go(); else v.addEventListener('loadedmetadata', go, { once: true });
    v.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  };
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a');
    if (!a) return;
    const m = (a.getAttribute('href') || '').match(/#t=([0-9.]+)/);
    if (!m) return;
    ev.preventDefault(); ev.stopPropagation();
    window.vdSeek(parseFloat(m[1]));
  }, true);
  // the playhead: a vertical line on the timeline at the player's current time (after a seek, a citation
  // click, or while playing), placed from the plot's own axis so it stays right when the figure is redrawn
  const playhead = () => {
    const v = document.querySelector('#player video');
    document.querySelectorAll('#timeline .js-plotly-plot').forEach((p) => {
      let line = p.querySelector(':scope > .vd-playhead');
      const fl = p._fullLayout;
      if (!v || !v.currentSrc || v.readyState < 1 || !fl || !fl.xaxis || !fl.xaxis.l2p) { if (line) line.style.display = 'none'; return; }
      if (!line) {
        line = document.createElement('div');
        line.className = 'vd-playhead';
        line.setAttribute('aria-hidden', 'true');
        p.appendChild(line);
      }
      const t = v.currentTime, range = fl.xaxis.range;
      const inside = t >= Math.min(range[0], range[1]) && t <= Math.max(range[0], range[1]);
      line.style.display = inside ? 'block' : 'none';
      line.style.left = (fl._size.l + fl.xaxis.l2p(t)) + 'px';
      line.style.top = fl._size.t + 'px';
      line.style.height = fl._size.h + 'px';
      line.dataset.t = t.toFixed(2);
    });
  };
  // the transcript follows the player: the line being said is marked, and the box scrolls to the last line begun
  const follow = () => {
    const v = document.querySelector('#player video'), box = document.querySelector('#transcript .vd-transcript');
    if (!v || !box) return;
    const t = v.currentTime;
    let last = null;
    box.querySelectorAll('.vd-line').forEach((l) => {
      const t0 = parseFloat(l.dataset.t0), t1 = Math.max(parseFloat(l.dataset.t1), t0 + 0.5);
      l.classList.toggle('vd-now', t >= t0 && t < t1);
      if (t >= t0 - 0.05) last = l;
    });
    const target = last || box.querySelector('.vd-line');
    if (target && box.dataset.at !== target.dataset.t0) {
      box.dataset.at = target.dataset.t0;
      box.scrollTop = Math.max(0, target.offsetTop - box.clientHeight / 3);
    }
  };
  window.vdFollow = follow;
  // the key frame of the event under the pointer, beside the timeline's own hover label
  const hovercard = (p, d) => {
    const pt = d && d.points && d.points[0], url = pt && pt.customdata && pt.customdata[2];
    let card = p.querySelector(':scope > .vd-hovercard');
    if (!url) { if (card) card.style.display = 'none'; return; }
    if (!card) {
      card = document.createElement('div');
      card.className = 'vd-hovercard';
      card.innerHTML = '<img alt="">';
      p.appendChild(card);
    }
    const img = card.querySelector('img');
    if (img.getAttribute('src') !== url) img.setAttribute('src', url);
    img.alt = 'key frame at ' + (pt.customdata[0] || 0).toFixed(1) + ' s';
    const box = p.getBoundingClientRect(), x = (d.event ? d.event.clientX : box.left) - box.left;
    const w = 166, left = x + 16 + w > box.width ? x - 16 - w : x + 16;
    card.style.left = Math.max(0, left) + 'px';
    card.style.top = '4px';
    card.style.display = 'block';
  };
  // Esc stops the answer being written (Stop is enabled only then)
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    const stop = document.querySelector('#stop');
    if (stop && !stop.disabled) { ev.preventDefault(); stop.click(); }
  });
  window.vdPlayhead = playhead;
  ['timeupdate', 'seeked', 'loadedmetadata'].forEach((e) => document.addEventListener(e, (ev) => {
    if (ev.target && ev.target.closest && ev.target.closest('#player')) { playhead(); follow(); }
  }, true));
  setInterval(() => {
    document.querySelectorAll('#timeline .js-plotly-plot').forEach((p) => {
      if (p.vdBound || !p.on) return;
      p.vdBound = true;
      p.on('plotly_click', (d) => { const pt = d.points && d.points[0]; if (pt) window.vdSeek(pt.customdata ? pt.customdata[0] : pt.base); });
      p.on('plotly_afterplot', playhead);
      p.on('plotly_hover', (d) => hovercard(p, d));
      p.on('plotly_unhover', () => { const c = p.querySelector(':scope > .vd-hovercard'); if (c) c.style.display = 'none'; });
    });
    playhead();
    follow();
  }, 500);
}
"""


def fmt_duration(seconds: float) -> str:
    """A time left as a person says it: 40 s, 2 min 5 s, 1 h 3 min."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def linkify(text: str, citations: list[dict] | None = None) -> str:
    """Every [mm:ss] becomes a link that seeks the player (exact graph time when cited)."""
    exact = {round(c["t_start"]): c["t_start"] for c in citations or []}  # the text rounds to the nearest second

    def repl(m: re.Match) -> str:
        t = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
        return f"[\\[{m.group(0)[1:-1]}\\]](#t={exact.get(t, t)})"

    return CITE.sub(repl, text)


LINK_TARGET = re.compile(r"\]\(#t=([0-9.]+)\)")


def cited_links(markdown: str) -> list[float]:
    """The distinct moments an answer's links seek to, in order: what its footer counts."""
    seen: dict[float, None] = {}
    for m in LINK_TARGET.finditer(markdown):
        seen.setdefault(float(m.group(1)), None)
    return list(seen)


def settings_md() -> str:
    """The effective configuration as the status panel shows it (as ``python -m orchestrator config``)."""
    try:
        settings = get_settings()
    except SettingsError as exc:
        return f"**Configuration**: {exc}"
    head = f"**Configuration** (file: `{settings.config_file}`)" if settings.config_file else "**Configuration** (no config file)"
    lines = [head, "", "| setting | value | from |", "|---|---|---|"]
    for row in settings.rows():
        value = row["value"]
        shown = (", ".join(value) if isinstance(value, list) else "" if value is None else str(value)).replace("|", "\\|")
        lines.append(f"| `{row['env']}` | {shown} | {row['origin']} |")
    return "\n".join(lines)


class AppState:
    """What the page's handlers share: the library, the ask service, the clients."""

    def __init__(self, library: Library, triton_url: str, vlm=None, per_user: bool = False):
        self.library = library
        self.per_user = per_user  # with authentication: each user sees only their own uploads
        self.triton_url = triton_url
        self.local = threading.local()
        self.redis = library.redis
        self.vlm = vlm
        if vlm is not None:
            vlm.video_path = lambda vid: (library.video(vid) or {}).get("path")
        self.ask_service = AskService(library.cursor, self.redis, embed=self.embed, vlm=vlm)
        self.thumbs = Thumbnails(library.home / "thumbs")

    def models(self) -> TritonModels:
        if not hasattr(self.local, "models"):
            self.local.models = TritonModels(self.triton_url)
        return self.local.models

    def embed(self, texts):
        return self.models().embed(texts)

    # -- library ---------------------------------------------------------------------------
    def owner(self, request: gr.Request | None) -> str | None:
        return getattr(request, "username", None) if self.per_user else None

    def choices(self, owner: str | None = None) -> list[tuple[str, str]]:
        out = []
        for v in self.library.videos(owner):
            when = v["created_at"].strftime("%Y-%m-%d %H:%M") if v["created_at"] else ""
            status = v["status"] if v["status"] != "ingesting" else f"ingesting {v['windows_done']}/{v['n_windows']}"
            out.append((f"{v['name']} · {fmt_time(v['duration_s'] or 0)} · {status} · {when}", v["video_id"]))
        return out

    def progress_html(self, video_id: str | None) -> str:
        if not video_id:
            return "<div class='vd-text'>Upload a video or pick one from the library.</div>"
        v = self.library.video(video_id)
        job = self.library.job(video_id)
        if job and job.status in ("copying", "queued") and (v is None or v["windows_done"] == 0):
            pct = 100 * job.transfer
            label = "copying into the library" if job.status == "copying" else "queued for ingest"
            return f"<div class='vd-bar'><div style='width:{pct:.0f}%'></div></div><div class='vd-text'>{job.name}: {label} ({pct:.0f}%)</div>"
        if job and job.status == "error":
            return (
                f"<div class='vd-text' style='color:#c92a2a'>Ingest stopped: {job.error}. Upload the file again to resume from the last finished window.</div>"
            )
        if v is None:
            return "<div class='vd-text'>Unknown video.</div>"
        done, total = v["windows_done"], max(v["n_windows"] or 1, 1)
        gone = self.library.missing_file(video_id)
        gone_note = (
            (
                f" <b>The video file is gone</b> (it was at {html.escape(gone)}): the player cannot show it; the timeline, "
                "events and answers still work. Put the file back or upload it again to watch it."
            )
            if gone
            else ""
        )
        if v["status"] == "done" or done >= total:
            return (
                f"<div class='vd-bar'><div style='width:100%'></div></div><div class='vd-text'>{v['name']}: ingested, "
                f"{plural(total, 'window')}, {fmt_time(v['duration_s'] or 0)}.{gone_note}</div>"
            )
        if job is None or job.status not in ("queued", "ingesting"):
            # nothing in this app is ingesting it: an earlier run stopped (an error, or it was killed), never "running"
            why = f": {html.escape(v['error'])}" if v.get("error") else ""
            return (
                f"<div class='vd-bar'><div style='width:{100 * done / total:.0f}%'></div></div><div class='vd-text' style='color:#c92a2a'>"
                f"{v['name']}: ingest stopped at window {min(done + 1, total)} of {total}{why}. Questions are answered from the "
                f"{plural(done, 'window')} done. Upload the file again to resume from there.{gone_note}</div>"
            )
        if job.status == "queued":
            return (
                f"<div class='vd-bar'><div style='width:{100 * done / total:.0f}%'></div></div><div class='vd-text'>{v['name']}: "
                f"queued to resume at window {min(done + 1, total)} of {total}. Questions are answered from the windows done so far.</div>"
            )
        left = job.time_left() if job else None
        if left is None:
            eta = " — estimating the time left"
        elif left < 1:
            eta = " — almost done"
        else:
            eta = f" — about {fmt_duration(left)} left"
        covered = min(done * (v["duration_s"] or 0) / total, v["duration_s"] or 0)
        # windows count from 1 for people: the first line names the window being worked on
        return (
            f"<div class='vd-bar'><div style='width:{100 * done / total:.0f}%'></div></div><div class='vd-text'>{v['name']}: ingesting "
            f"window {min(done + 1, total)} of {total} ({fmt_time(covered)} of {fmt_time(v['duration_s'] or 0)} done){eta}. "
            "Questions are answered from the windows done so far.</div>"
        )

    def events(self, video_id: str | None) -> list[Event]:
        if not video_id:
            return []
        with self.library.cursor() as graph:
            return graph.read_events(video_id)

    def filtered_events(self, video_id, kind="all", label="", t_from=None, t_to=None, search="") -> list[Event]:
        """The events the table shows. An empty, zero or unreadable "To" means to the end, and a "To" before
        "From" is read as no upper bound rather than as an empty range. A label filter with commas ("car, truck")
        matches any of its parts."""
        labels = [part.strip().lower() for part in (label or "").split(",") if part.strip()]
        lo = parse_clock(t_from) or 0.0
        hi = parse_clock(t_to) or 0.0
        if hi <= 0 or hi < lo:
            hi = float("inf")
        out = []
        for e in self.events(video_id):
            if kind and kind != "all" and e.kind != kind:
                continue
            if labels and not any(part in e.label.lower() for part in labels):
                continue
            if e.t_end < lo or e.t_start > hi:
                continue
            if search and search.strip().lower() not in f"{e.label} {e.text}".lower():
                continue
            out.append(e)
        return out

    def table(self, video_id, kind="all", label="", t_from=None, t_to=None, search="") -> pd.DataFrame:
        return self.table_view(video_id, kind, label, t_from, t_to, search)[0]

    def table_view(self, video_id, kind="all", label="", t_from=None, t_to=None, search="") -> tuple[pd.DataFrame, list[float]]:
        """The table and, row for row, the exact start time a row click seeks to."""
        events = self.filtered_events(video_id, kind, label, t_from, t_to, search)
        rows = [[self.thumb_html(video_id, e), f"{fmt_time(e.t_start)}–{fmt_time(e.t_end)}", e.kind, e.label, e.text, f"{e.confidence:.2f}"] for e in events]
        return pd.DataFrame(rows, columns=TABLE_COLUMNS), [e.t_start for e in events]

    def thumb_url(self, video_id: str | None, event: Event) -> str:
        """Where the page fetches an event's key-frame thumbnail; empty until it is made."""
        path = self.thumbs.path(video_id, event) if video_id else None
        return f"/gradio_api/file={quote(str(path))}" if path else ""

    def thumb_html(self, video_id: str | None, event: Event) -> str:
        url = self.thumb_url(video_id, event)
        if not url:
            return ""
        return f"<img class='vd-thumb' src='{url}' alt='key frame of {html.escape(event.label, quote=True)} at {fmt_time(event.t_start)}' loading='lazy'>"

    def transcript_html(self, events: list[Event]) -> str:
        """The speech, line by line; each line seeks the player and the page marks (and scrolls to) the one playing."""
        speech = sorted((e for e in events if e.kind == "speech"), key=lambda e: e.t_start)
        if not speech:
            return "<div class='vd-head'>Transcript</div><div class='vd-empty'>Nothing said yet.</div>" if events else ""
        lines = "".join(
            f"<a class='vd-line' href='#t={e.t_start}' data-t0='{e.t_start}' data-t1='{e.t_end}'><span class='vd-when'>[{fmt_time(e.t_start)}]</span> "
            f"{html.escape(e.text)}</a>"
            for e in speech
        )
        return f"<div class='vd-head'>Transcript</div><div class='vd-transcript' aria-label='Transcript'>{lines}</div>"

    def status_md(self) -> str:
        lines = ["| part | state |", "|---|---|"]
        try:
            ready = self.models().ready()
            lines.append(f"| Triton ({self.triton_url}) | " + ", ".join(f"{m} {'ready' if ok else 'NOT ready'}" for m, ok in ready.items()) + " |")
            if ready.get("detector"):
                params = self.models().parameters("detector")
                engine = f", network in `{params['engine_model']}`" if params.get("engine_model") else ""
                lines.append(f"| detector | {params.get('head', 'centernet')}{engine}, score ≥ {params.get('score_threshold', '?')} |")
        except Exception as exc:  # noqa: BLE001
            lines.append(f"| Triton ({self.triton_url}) | unreachable: {exc} |")
        lines.append(f"| answer engine | {self.ask_service.engine_name} |")
        try:
            config = IngestConfig()
            where = f"Ray ({get_settings().ray_address or 'local cluster'})" if config.executor == "ray" else "this machine"
            lines.append(f"| ingest | windows of {config.window_s:g} s analysed on {where}; decoder {decoder_choice()} |")
        except ValueError as exc:  # a bad VDET_EXECUTOR / VDET_DECODER: say which
            lines.append(f"| ingest | misconfigured: {exc} |")
        try:
            self.redis.ping()
            lines.append(f"| Redis ({self.library.services.bus.url.split('@')[-1]}) | up |")
        except redis.RedisError as exc:
            lines.append(f"| Redis | down: {exc} |")
        vids = self.library.videos()
        n_win = sum(v["windows_done"] for v in vids)
        lines.append(
            f"| database ({self.library.db_path}) | {len(vids)} video{'' if len(vids) == 1 else 's'}, {n_win} window{'' if n_win == 1 else 's'} ingested |"
        )
        return "\n".join(lines) + "\n\n" + settings_md()

    def export(self, session: str, video_id: str) -> tuple[ExportResult | None, str]:
        """Cut the moments the session's last answer about ``video_id`` cites into a short clip named after the video and
        the question, a chapter and a caption per moment: (the export or None, message). The export is path-like (its file)."""
        turns = [t for t in self.ask_service.store.turns(session) if t.video_id == video_id and t.citations]
        if not turns:
            return None, "Ask a question first: the export cuts the moments the last answer cites."
        turn = turns[-1]
        source = self.library.media_path(video_id)
        if not source:
            return None, "The video file is no longer in the library: upload it again to export from it."
        by_id = {e.id: e for e in self.events(video_id)}
        cited = [
            CitedMoment(c["t_start"], c["t_end"], c["event_id"], what_event(by_id[c["event_id"]]) if c["event_id"] in by_id else "") for c in turn.citations
        ]
        title = re.match(r"\*\*(.+?)\*\*", turn.answer or "")  # a report's title, when the turn was a template
        question = turn.question or (title.group(1).split(" — ")[0] if title else "")  # "Highlights and story — clip.mp4": its kind
        v = self.library.video(video_id)
        try:
            result = export_cited(source, cited, self.library.home / "exports" / session, video_name=(v or {}).get("name"), question=question)
        except MediaError as exc:
            return None, f"Export failed: {exc}"
        return result, result.message

    def answer_data(self, video_id: str, answer, session: str) -> dict:
        """An answer as data for scripts: the text, its citations with what each one is, the engine."""
        by_id = {e.id: e for e in self.events(video_id)}
        citations = []
        for c in answer.citations:
            e = by_id.get(c.event_id)
            citations.append(
                {
                    "t_start": c.t_start,
                    "t_end": c.t_end,
                    "time": fmt_time(round(c.t_start)),
                    "event_id": c.event_id,
                    "kind": e.kind if e else None,
                    "label": e.label if e else None,
                    "text": e.text if e else None,
                }
            )
        return {
            "answer": answer.text,
            "citations": citations,
            "engine": answer.engine,
            "notice": answer.notice,
            "session": session,
            "video_id": video_id,
            "total_ms": answer.total_ms,
        }

    # -- chat ------------------------------------------------------------------------------
    def claim_session(self, session: str, owner: str | None) -> bool:
        """With several users a chat session belongs to the user who started it; False for another user's
        session (so nobody reads or continues someone else's chat). Without authentication every session is open."""
        if owner is None:
            return True
        key = f"session_owner:{session}"
        try:
            self.redis.set(key, owner, nx=True, ex=30 * 86400)
            holder = self.redis.get(key)
        except redis.RedisError:
            return False
        return holder is None or holder.decode() == owner

    def ask_stream(self, session: str, video_id: str, question: str, template: str | None, history: list[dict]):
        """Yields (history, notice) while tokens arrive on ``tokens:{session}``."""
        sub = self.redis.pubsub(ignore_subscribe_messages=True)
        sub.subscribe(tokens_channel(session))
        result: dict = {}

        def work():
            try:
                self.ask_service.ask(session, video_id, question, template=template)
            except Exception as exc:  # noqa: BLE001 - the page shows it
                result["error"] = str(exc)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        text, notice, finished = "", "", False
        history = history + [{"role": "assistant", "content": TYPING}]
        yield history, "thinking…"
        try:
            deadline = time.monotonic() + 180
            last_yield = 0.0
            while time.monotonic() < deadline:
                m = sub.get_message(timeout=0.05)
                if m is None:
                    if not worker.is_alive() and "error" in result:
                        history[-1]["content"] = f"Sorry, that failed: {result['error']}"
                        finished = True
                        yield history, ""
                        return
                    continue
                try:
                    msg = decode(tokens_channel(session), m["data"])
                except ValueError:  # not one of the answer stream's messages
                    continue
                kind = msg.type
                if kind == "start":
                    notice = f"answering with the {msg.engine} engine"
                elif kind == "token":
                    text += msg.text
                    if time.monotonic() - last_yield > 0.05:
                        history[-1]["content"] = linkify(text) + " " + TYPING
                        last_yield = time.monotonic()
                        yield history, notice
                elif kind == "notice":
                    notice = msg.text
                    yield history, notice
                elif kind == "done":
                    finished = True
                    history[-1]["content"] = linkify(msg.answer, [c.model_dump() for c in msg.citations])
                    n = len(cited_links(history[-1]["content"]))  # what the reader can click, counted once per moment
                    info = f"{msg.engine} engine · first token {msg.ttft_ms:.0f} ms · {msg.total_ms:.0f} ms · {plural(n, 'cited moment')}"
                    yield history, (msg.notice + " · " if msg.notice else "") + info
                    return
                elif kind == "cancelled":
                    finished = True
                    history[-1]["content"] = linkify(msg.answer or text) + "\n\n*(stopped)*"
                    yield history, "stopped"
                    return
                elif kind == "error":
                    finished = True
                    history[-1]["content"] = f"Sorry, that failed: {msg.error}"
                    yield history, ""
                    return
        finally:
            if not finished:  # the page went away or Stop was pressed: stop the worker too
                try:
                    self.redis.publish(inbox_channel(session), encode(Cancel()))
                except redis.RedisError:
                    pass
            sub.close()


PRIVATE = {"api_visibility": "private"}  # the page's own events: not part of the API


def add_api(state: AppState) -> None:
    """The page's API for scripts (``gradio_client``): named endpoints that take a video id and return data.
    Everything else the page does is private to it."""

    def visible(video_id: str, request: gr.Request | None) -> str:
        if not video_id or not state.library.may_see(video_id, state.owner(request)) or state.library.video(video_id) is None:
            raise gr.Error(f"unknown video id {video_id!r}: list the library with /videos")
        return video_id

    def own_session(session: str, request: gr.Request | None) -> str:
        session = session or new_session_id()
        if not state.claim_session(session, state.owner(request)):
            raise gr.Error(f"unknown session {session!r}: start a new one by leaving the session empty")
        return session

    def videos(request: gr.Request) -> list[dict]:
        """The library: each video's id, name, duration (s), status and windows ingested."""
        return [
            {
                "video_id": v["video_id"],
                "name": v["name"],
                "duration_s": v["duration_s"],
                "status": v["status"],
                "windows_done": v["windows_done"],
                "windows": v["n_windows"],
            }
            for v in state.library.videos(state.owner(request))
        ]

    def ask(video_id: str, question: str, session: str = "", request: gr.Request = None) -> dict:
        """Ask about a video. Returns {answer, citations: [{t_start, t_end, time, event_id, kind, label, text}], engine,
        notice, session}; pass the returned session back to ask a follow-up."""
        visible(video_id, request)
        if not (question or "").strip():
            raise gr.Error("ask a question")
        session = own_session(session, request)
        return state.answer_data(video_id, state.ask_service.ask(session, video_id, question), session)

    def template(video_id: str, name: str, session: str = "", request: gr.Request = None) -> dict:
        """Run a report template (comprehensive, safety, performance, pattern, creative); same result as /ask."""
        visible(video_id, request)
        if name not in Templates.NAMES:
            raise gr.Error(f"unknown template {name!r}; one of {', '.join(Templates.NAMES)}")
        session = own_session(session, request)
        return state.answer_data(video_id, state.ask_service.ask(session, video_id, "", template=name), session)

    def events(video_id: str, kind: str = "all", label: str = "", t_from: str = "", t_to: str = "", search: str = "", request: gr.Request = None) -> list[dict]:
        """A video's events, filtered as the page's table is (times in seconds or mm:ss; an empty "to" is the end)."""
        visible(video_id, request)
        return [
            {k: getattr(e, k) for k in ("id", "kind", "label", "t_start", "t_end", "confidence", "text")}
            for e in state.filtered_events(video_id, kind, label, t_from, t_to, search)
        ]

    def export(video_id: str, session: str, request: gr.Request = None) -> dict:
        """Cut the moments the session's last answer cites into a short clip. Returns {file (downloaded by gradio_client),
        subtitles (the captions, .srt), name, duration_s, moments: [{t_start, t_end, clip_start, clip_end, title, cited}],
        cited, kept, message}."""
        visible(video_id, request)
        result, message = state.export(own_session(session, request), video_id)
        if result is None:
            raise gr.Error(message)
        return {"file": FileData(path=str(result.file)).model_dump(), "subtitles": FileData(path=str(result.subtitles)).model_dump(), **result.to_dict()}

    def status() -> str:
        """Triton's models, the answer engine, ingest, Redis and the database, as a Markdown table."""
        return state.status_md()

    for fn in (videos, ask, template, events, export, status):
        gr.api(fn, api_name=fn.__name__, concurrency_limit=4)


def build_ui(state: AppState) -> gr.Blocks:
    with gr.Blocks(title="Video Detective") as demo:
        add_api(state)  # first, so its endpoints keep their names
        session = gr.State(None)  # set on load (a callable default would add a public endpoint)
        current = gr.State(None)
        seen = gr.State("")  # what the page last drew: "<video>:<windows done>"
        started = gr.State(None)  # the video whose "ingest has started" message is showing, until it finishes
        gr.Markdown("## Video Detective\nAsk what happened, and when. Every cited moment is a link that seeks the player.")
        # -- the library search (ui/search_panel.py): its box, filters and results; wired below, once the picker exists
        from .search_panel import SearchPanel  # noqa: PLC0415 - search_panel uses this module's parse_clock and PRIVATE

        library_search = SearchPanel(state)
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    upload = gr.File(label="Upload a video", file_count="single", file_types=["video", "audio"], elem_id="upload", height=110)
                    with gr.Column():
                        picker = gr.Dropdown(label="Library", choices=state.choices(), value=None, elem_id="library", interactive=True, allow_custom_value=True)
                        progress = gr.HTML(state.progress_html(None), elem_id="progress")
                upload_msg = gr.Markdown("", elem_id="upload-msg")
                with gr.Row(elem_id="knows", visible=False) as knows_row:  # what the graph holds, each a filter of the events table
                    gr.HTML("<span class='vd-head'>What it knows:</span>", elem_id="knows-head")
                    fact_buttons = {key: gr.Button(key, size="sm", elem_id=f"know-{key}", visible=False, min_width=0, scale=0) for key in FACT_KEYS}
                player = gr.Video(label="Player", elem_id="player", interactive=False, height=360)
                timeline = gr.Plot(label="Timeline (click an event to seek)", elem_id="timeline")
                transcript = gr.HTML("", elem_id="transcript")
            with gr.Column(scale=2):
                chat = gr.Chatbot(label="Chat", elem_id="chat", height=480, buttons=["copy"])
                with gr.Row(elem_id="suggest", visible=False) as suggest_row:  # questions this video's graph can answer, one click each
                    suggest_buttons = [
                        gr.Button("", size="sm", elem_id=f"suggest-{i}", elem_classes=["vd-suggest"], visible=False, min_width=0, scale=0)
                        for i in range(MAX_SUGGESTIONS)
                    ]
                question = gr.Textbox(
                    label="Ask about this video",
                    placeholder="How many people appear? What was said after 1:00? What happened after the alarm?",
                    elem_id="question",
                    lines=1,
                    max_lines=4,
                    submit_btn=False,
                )
                with gr.Row():
                    send = gr.Button("Ask", variant="primary", elem_id="send")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop", interactive=False)  # enabled only while an answer runs
                    clear = gr.Button("New chat", elem_id="clear")
                with gr.Row():
                    tpl_buttons = {name: gr.Button(name.capitalize(), size="sm", elem_id=f"tpl-{name}") for name in Templates.NAMES}
                notice = gr.Markdown("", elem_id="notice")
                with gr.Row():
                    export_btn = gr.Button("Export cited moments", size="sm", elem_id="export")
                    export_file = gr.File(label="Highlight clip", elem_id="export-file", interactive=False, visible=False)
        with gr.Accordion("Events", open=False, elem_id="events-panel") as events_panel:
            with gr.Row():
                f_kind = gr.Dropdown(["all", *EVENT_KINDS], value="all", label="Kind", elem_id="f-kind")
                f_label = gr.Textbox(label="Label contains", elem_id="f-label")
                f_from = gr.Textbox(label="From", placeholder="start (1:30 or 90)", elem_id="f-from", max_lines=1)
                f_to = gr.Textbox(label="To", placeholder="end (empty: to the end)", elem_id="f-to", max_lines=1)
                f_search = gr.Textbox(label="Search text", elem_id="f-search")
            table = gr.Dataframe(
                value=pd.DataFrame(columns=TABLE_COLUMNS),
                interactive=False,
                wrap=True,
                elem_id="events",
                max_height=360,
                column_widths=TABLE_WIDTHS,
                datatype=TABLE_TYPES,
            )
            table_ts = gr.State([])  # the exact start time of each row shown
        with gr.Accordion("Status", open=False, elem_id="status-panel") as status_panel:
            status = gr.Markdown(elem_id="status")
            refresh = gr.Button("Refresh", size="sm")
        seek_t = gr.Number(visible=False, elem_id="seek")
        timer = gr.Timer(1.0)

        filter_inputs = [f_kind, f_label, f_from, f_to, f_search]
        overview_outputs = [knows_row, *fact_buttons.values(), suggest_row, *suggest_buttons, transcript]
        unchanged_overview = [gr.update()] * len(overview_outputs)

        def overview(video_id: str | None, events: list[Event]) -> list:
            """The summary, the suggested questions and the transcript of what the graph holds now; the missing
            thumbnails are queued (the table and the timeline show them as they are made)."""
            if not video_id:
                return [gr.update(visible=False)] * (len(overview_outputs) - 1) + [""]
            state.thumbs.request(video_id, state.library.media_path(video_id), events)
            facts = {f.key: f for f in knowledge(events)}
            questions = suggested_questions(events)
            return [
                gr.update(visible=bool(facts)),
                *(gr.update(value=facts[k].text, visible=True) if k in facts else gr.update(visible=False) for k in FACT_KEYS),
                gr.update(visible=bool(questions)),
                *(gr.update(value=questions[i], visible=True) if i < len(questions) else gr.update(visible=False) for i in range(MAX_SUGGESTIONS)),
                state.transcript_html(events),
            ]

        def figure(video_id: str, events: list[Event], duration_s: float):
            return timeline_figure(events, duration_s, thumb=lambda e: state.thumb_url(video_id, e))

        def select(video_id, _session, kind, label, t_from, t_to, search, request: gr.Request):
            filter_values = (kind, label, t_from, t_to, search)
            if video_id and not state.library.may_see(video_id, state.owner(request)):
                video_id = None
            if not video_id:
                return (None, None, None, *state.table_view(None), [], state.progress_html(None), "", *overview(None, []))
            v = state.library.video(video_id)
            path = state.library.media_path(video_id)
            state.library.serve(path, demo.allowed_paths)  # a file ingested from outside the home is served too
            events = state.events(video_id)
            parts = overview(video_id, events)
            return (
                video_id,
                path,
                figure(video_id, events, (v or {}).get("duration_s") or 0),
                *state.table_view(video_id, *filter_values),
                [],
                state.progress_html(video_id),
                f"{video_id}:{(v or {}).get('windows_done', 0)}",
                *parts,
            )

        picker.change(
            select,
            [picker, session, *filter_inputs],
            [current, player, timeline, table, table_ts, chat, progress, seen, *overview_outputs],
            show_progress="hidden",
            **PRIVATE,
        )

        def on_upload(file, request: gr.Request):
            owner = state.owner(request)
            if file is None:
                return gr.update(), "", gr.update(), None
            original = getattr(file, "orig_name", None) or Path(file if isinstance(file, str) else file.name).name
            path = file if isinstance(file, str) else file.name
            try:
                video_id, new = state.library.add_upload(path, original, owner=owner)
            except UploadError as exc:
                return gr.update(), f"**Upload refused.** {exc}", None, None
            if not new:
                return gr.update(choices=state.choices(owner), value=video_id), "This video is already in the library (same content); showing it.", None, None
            # the drop zone is ready for the next file; the message is replaced when this ingest ends
            return gr.update(choices=state.choices(owner), value=video_id), "Added to the library; ingest has started.", None, video_id

        upload.upload(on_upload, [upload], [picker, upload_msg, upload, started], show_progress="minimal", **PRIVATE)

        def ingest_message(video_id: str | None):
            """What replaces "ingest has started" once that ingest ended: (message, video still to watch)."""
            if not video_id:
                return gr.update(), None
            job = state.library.job(video_id)
            v = state.library.video(video_id)
            if job and job.status == "error":
                return f"**Ingest stopped:** {job.error}", None
            if v and v["status"] == "done":
                took = f" in {fmt_duration(time.time() - job.started)}" if job and getattr(job, "started", None) else ""
                return (
                    f"**{v['name']}** is in the library: {plural(v['n_windows'] or 0, 'window')} ingested{took}, "
                    f"{plural(len(state.events(video_id)), 'event')}. Ask away."
                ), None
            return gr.update(), video_id

        def tick(video_id, last, watching, kind, label, t_from, t_to, search, request: gr.Request):
            filter_values = (kind, label, t_from, t_to, search)
            message = ingest_message(watching)
            choices = gr.update(choices=state.choices(state.owner(request))) if state.library.jobs else gr.update()
            if not video_id:
                return gr.update(), gr.update(), gr.update(), gr.update(), last, choices, *message, *unchanged_overview
            v = state.library.video(video_id)
            # redrawn when a window finishes, the status changes or more thumbnails are made
            key = f"{video_id}:{(v or {}).get('windows_done', 0)}:{(v or {}).get('status')}:{state.thumbs.version(video_id)}"
            html = state.progress_html(video_id)
            if key == last:
                return html, gr.update(), gr.update(), gr.update(), last, gr.update(), *message, *unchanged_overview
            events = state.events(video_id)
            return (
                html,
                figure(video_id, events, (v or {}).get("duration_s") or 0),
                *state.table_view(video_id, *filter_values),
                key,
                choices,
                *message,
                *overview(video_id, events),
            )  # the table keeps the user's filters as windows arrive

        timer.tick(
            tick,
            [current, seen, started, *filter_inputs],
            [progress, timeline, table, table_ts, seen, picker, upload_msg, started, *overview_outputs],
            show_progress="hidden",
            **PRIVATE,
        )

        def ask(q, history, sess, video_id, request: gr.Request):
            q = (q or "").strip()
            if not state.library.may_see(video_id, state.owner(request)):
                yield history + [{"role": "assistant", "content": "Upload a video or pick one from the library first."}], "", ""
                return
            if not q:
                yield history, "", "Type a question first."
                return
            history = history + [{"role": "user", "content": q}]
            cleared = False
            for h, n in state.ask_stream(sess, video_id, q, None, history):
                # clear the box once: the user may already be typing the next question
                yield h, (gr.update() if cleared else ""), n
                cleared = True

        def template(name):
            def run(history, sess, video_id, request: gr.Request):
                if not state.library.may_see(video_id, state.owner(request)):
                    yield history + [{"role": "assistant", "content": "Upload a video or pick one from the library first."}], ""
                    return
                history = history + [{"role": "user", "content": f"{name.capitalize()} analysis"}]
                yield from state.ask_stream(sess, video_id, "", name, history)

            return run

        def running(on: bool):
            return lambda: gr.update(interactive=on)

        def chained(trigger, fn, inputs, outputs):
            """Stop is enabled while ``fn`` streams and disabled after it, however it ends."""
            return (
                trigger(running(True), None, [stop], queue=False, show_progress="hidden", **PRIVATE)
                .then(fn, inputs, outputs, show_progress="hidden", **PRIVATE)
                .then(running(False), None, [stop], queue=False, show_progress="hidden", **PRIVATE)
            )

        chained(send.click, ask, [question, chat, session, current], [chat, question, notice])
        chained(question.submit, ask, [question, chat, session, current], [chat, question, notice])

        def ask_suggested(q, history, sess, video_id, request: gr.Request):
            """A suggested question, asked as if typed; what the user is typing in the box stays."""
            for h, _, n in ask(q, history, sess, video_id, request):
                yield h, gr.update(), n

        for button in suggest_buttons:
            chained(button.click, ask_suggested, [button, chat, session, current], [chat, question, notice])
        for name, button in tpl_buttons.items():
            chained(button.click, template(name), [chat, session, current], [chat, notice])

        def do_stop(sess):
            try:
                state.redis.publish(inbox_channel(sess), encode(Cancel()))
            except redis.RedisError:
                pass
            return "stopped"

        # Stop goes through the bus: the worker stops and publishes "cancelled", and the streaming handler
        # ends normally with the partial answer (cancelling the Gradio event instead flags its outputs as errors)
        stop.click(do_stop, [session], [notice], **PRIVATE)

        def new_chat(sess):
            state.ask_service.store.clear(sess)
            return [], ""

        clear.click(new_chat, [session], [chat, notice], **PRIVATE)

        def export(sess, video_id, request: gr.Request):
            if not state.library.may_see(video_id, state.owner(request)):
                return gr.update(visible=False), "Pick a video first."
            out, message = state.export(sess, video_id)
            return (gr.update(value=str(out), visible=True) if out else gr.update(visible=False)), message

        export_btn.click(export, [session, current], [export_file, notice], **PRIVATE)

        for comp in filter_inputs:
            comp.change(lambda *a: state.table_view(*a), [current, *filter_inputs], [table, table_ts], show_progress="hidden", **PRIVATE)

        def row_selected(ts: list, evt: gr.SelectData):
            try:
                return float(ts[evt.index[0]])
            except (IndexError, KeyError, TypeError, ValueError):
                return gr.update()

        table.select(row_selected, [table_ts], [seek_t], **PRIVATE)

        def open_fact(key: str):
            def run(video_id, request: gr.Request):
                fact = None
                if state.library.may_see(video_id, state.owner(request)):
                    fact = next((f for f in knowledge(state.events(video_id)) if f.key == key), None)
                if fact is None:
                    return [gr.update()] * 8
                return (gr.update(open=True), fact.kind, fact.label, "", "", "", *state.table_view(video_id, fact.kind, fact.label))

            return run

        for key, button in fact_buttons.items():
            button.click(open_fact(key), [current], [events_panel, *filter_inputs, table, table_ts], show_progress="hidden", **PRIVATE).then(
                None, None, None, js="() => { const p = document.querySelector('#events-panel'); if (p) p.scrollIntoView({block: 'start'}); }", **PRIVATE
            )
        seek_t.change(None, [seek_t], None, js="(t) => { if (t !== null && window.vdSeek) window.vdSeek(t); return []; }", **PRIVATE)
        refresh.click(state.status_md, None, [status], **PRIVATE)
        status_panel.expand(state.status_md, None, [status], **PRIVATE)  # opened: show the state now, not the page load's

        def on_load(request: gr.Request):
            """A first visit lands on something to watch: the newest ready video of the library is opened."""
            session_id = new_session_id()
            owner = state.owner(request)
            state.claim_session(session_id, owner)
            videos = state.library.videos(owner)
            first = next((v["video_id"] for v in videos if v["status"] == "done"), None) or next((v["video_id"] for v in videos if v["windows_done"]), None)
            return gr.update(choices=state.choices(owner), value=first), state.status_md(), session_id

        demo.load(on_load, None, [picker, status, session], **PRIVATE)
        library_search.wire(demo, picker, current)  # a moment clicked opens its video at its time (the picker's own selection)
    return demo
