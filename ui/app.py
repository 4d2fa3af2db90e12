"""The Gradio page: upload or pick a video, watch ingest, explore the timeline and events, and chat
with answers whose citations seek the player."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import gradio as gr
import pandas as pd
import redis

from orchestrator.ask import AskService, inbox_channel, new_session_id, tokens_channel
from orchestrator.config import IngestConfig
from orchestrator.events import EVENT_KINDS, fmt_time, plural
from orchestrator.export import export_moments
from orchestrator.media import MediaError, decoder_choice
from orchestrator.model_clients import TritonModels
from orchestrator.templates import Templates

from .library import Library, UploadError
from .timeline import timeline_figure

CITE = re.compile(r"\[(?:(\d{1,2}):)?(\d{1,2}):(\d{2})\]")
TABLE_COLUMNS = ["start", "end", "kind", "label", "text", "confidence", "t"]

CSS = """
#progress .vd-bar { width: 100%; height: 10px; background: #e9ecef; border-radius: 5px; overflow: hidden; }
#progress .vd-bar > div { height: 100%; background: #1c7ed6; transition: width .5s; }
#progress .vd-text { font-size: 0.9em; color: #495057; margin-top: 4px; }
#chat a[href^="#t="] { font-family: ui-monospace, monospace; text-decoration: none; background: #e7f5ff; padding: 0 3px; border-radius: 3px; }
#notice { font-size: 0.85em; color: #868e96; }
"""

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
  setInterval(() => {
    document.querySelectorAll('#timeline .js-plotly-plot').forEach((p) => {
      if (p.vdBound || !p.on) return;
      p.vdBound = true;
      p.on('plotly_click', (d) => { const pt = d.points && d.points[0]; if (pt) window.vdSeek(pt.customdata ? pt.customdata[0] : pt.base); });
    });
  }, 500);
}
"""


def linkify(text: str, citations: list[dict] | None = None) -> str:
    """Every [mm:ss] becomes a link that seeks the player (exact graph time when cited)."""
    exact = {int(c["t_start"]): c["t_start"] for c in citations or []}

    def repl(m: re.Match) -> str:
        t = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
        return f"[\\[{m.group(0)[1:-1]}\\]](#t={exact.get(t, t)})"

    return CITE.sub(repl, text)


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
            return f"<div class='vd-text' style='color:#c92a2a'>Ingest stopped: {job.error}. Upload the file again to resume from the last finished window.</div>"
        if v is None:
            return "<div class='vd-text'>Unknown video.</div>"
        done, total = v["windows_done"], max(v["n_windows"] or 1, 1)
        if v["status"] == "done" or done >= total:
            return (f"<div class='vd-bar'><div style='width:100%'></div></div><div class='vd-text'>{v['name']}: ingested, "
                    f"{plural(total, 'window')}, {fmt_time(v['duration_s'] or 0)}</div>")
        eta = f" — about {job.eta_s:.0f} s left" if job and job.eta_s else ""
        covered = min(done * (v["duration_s"] or 0) / total, v["duration_s"] or 0)
        return (f"<div class='vd-bar'><div style='width:{100 * done / total:.0f}%'></div></div><div class='vd-text'>{v['name']}: ingesting "
                f"window {done} of {total} ({fmt_time(covered)} of {fmt_time(v['duration_s'] or 0)}){eta}. "
                "Questions are answered from the windows done so far.</div>")

    def events(self, video_id: str | None) -> list[dict]:
        if not video_id:
            return []
        cur = self.library.cursor()
        try:
            rows = cur.execute("SELECT id, kind, label, t_start, t_end, confidence, text FROM events WHERE video_id = ? ORDER BY t_start, id",
                               [video_id]).fetchall()
        finally:
            cur.close()
        return [dict(zip(("id", "kind", "label", "t_start", "t_end", "confidence", "text"), r)) for r in rows]

    def table(self, video_id, kind="all", label="", t_from=None, t_to=None, search="") -> pd.DataFrame:
        rows = []
        for e in self.events(video_id):
            if kind and kind != "all" and e["kind"] != kind:
                continue
            if label and label.lower() not in e["label"].lower():
                continue
            if t_from not in (None, "") and e["t_end"] < float(t_from):
                continue
            if t_to not in (None, "") and e["t_start"] > float(t_to):
                continue
            if search and search.lower() not in f"{e['label']} {e['text'] or ''}".lower():
                continue
            rows.append([fmt_time(e["t_start"]), fmt_time(e["t_end"]), e["kind"], e["label"], e["text"] or "", round(e["confidence"], 2), e["t_start"]])
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)

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
            where = f"Ray ({os.environ.get('RAY_ADDRESS') or 'local cluster'})" if config.executor == "ray" else "this machine"
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
        lines.append(f"| database ({self.library.db_path}) | {len(vids)} video{'' if len(vids) == 1 else 's'}, "
                     f"{n_win} window{'' if n_win == 1 else 's'} ingested |")
        return "\n".join(lines)

    # -- chat ------------------------------------------------------------------------------
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
        history = history + [{"role": "assistant", "content": "…"}]
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
                msg = json.loads(m["data"])
                kind = msg["type"]
                if kind == "start":
                    notice = f"answering with the {msg['engine']} engine"
                elif kind == "token":
                    text += msg["text"]
                    if time.monotonic() - last_yield > 0.05:
                        history[-1]["content"] = linkify(text)
                        last_yield = time.monotonic()
                        yield history, notice
                elif kind == "notice":
                    notice = msg["text"]
                elif kind == "done":
                    finished = True
                    history[-1]["content"] = linkify(msg["answer"], msg["citations"])
                    info = f"{msg['engine']} engine · first token {msg['ttft_ms']:.0f} ms · {msg['total_ms']:.0f} ms · {len(msg['citations'])} cited moment{'' if len(msg['citations']) == 1 else 's'}"
                    yield history, (msg["notice"] + " · " if msg.get("notice") else "") + info
                    return
                elif kind == "cancelled":
                    finished = True
                    history[-1]["content"] = linkify(msg.get("answer") or text) + "\n\n*(stopped)*"
                    yield history, "stopped"
                    return
                elif kind == "error":
                    finished = True
                    history[-1]["content"] = f"Sorry, that failed: {msg['error']}"
                    yield history, ""
                    return
        finally:
            if not finished:  # the page went away or Stop was pressed: stop the worker too
                try:
                    self.redis.publish(inbox_channel(session), json.dumps({"v": 1, "type": "cancel"}))
                except redis.RedisError:
                    pass
            sub.close()


def build_ui(state: AppState) -> gr.Blocks:
    with gr.Blocks(title="Video Detective") as demo:
        session = gr.State(new_session_id)
        current = gr.State(None)
        seen = gr.State("")  # what the page last drew: "<video>:<windows done>"
        gr.Markdown("## Video Detective\nAsk what happened, and when. Every cited moment is a link that seeks the player.")
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    upload = gr.File(label="Upload a video", file_count="single", file_types=["video", "audio"], elem_id="upload", height=110)
                    with gr.Column():
                        picker = gr.Dropdown(label="Library", choices=state.choices(), value=None, elem_id="library", interactive=True,
                                             allow_custom_value=True)
                        progress = gr.HTML(state.progress_html(None), elem_id="progress")
                upload_msg = gr.Markdown("", elem_id="upload-msg")
                player = gr.Video(label="Player", elem_id="player", interactive=False, height=360)
                timeline = gr.Plot(label="Timeline (click an event to seek)", elem_id="timeline")
            with gr.Column(scale=2):
                chat = gr.Chatbot(label="Chat", elem_id="chat", height=480, buttons=["copy"])
                question = gr.Textbox(label="Ask about this video", placeholder="How many people appear? What was said after 1:00? What happened after the alarm?",
                                      elem_id="question", lines=1, max_lines=4, submit_btn=False)
                with gr.Row():
                    send = gr.Button("Ask", variant="primary", elem_id="send")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
                    clear = gr.Button("New chat", elem_id="clear")
                with gr.Row():
                    tpl_buttons = {name: gr.Button(name.capitalize(), size="sm", elem_id=f"tpl-{name}") for name in Templates.NAMES}
                notice = gr.Markdown("", elem_id="notice")
                with gr.Row():
                    export_btn = gr.Button("Export cited moments", size="sm", elem_id="export")
                    export_file = gr.File(label="Highlight clip", elem_id="export-file", interactive=False, visible=False)
        with gr.Accordion("Events", open=False, elem_id="events-panel"):
            with gr.Row():
                f_kind = gr.Dropdown(["all", *EVENT_KINDS], value="all", label="Kind")
                f_label = gr.Textbox(label="Label contains")
                f_from = gr.Number(label="From (s)", value=None)
                f_to = gr.Number(label="To (s)", value=None)
                f_search = gr.Textbox(label="Search text")
            table = gr.Dataframe(value=pd.DataFrame(columns=TABLE_COLUMNS), interactive=False, wrap=True, elem_id="events", max_height=360)
        with gr.Accordion("Status", open=False, elem_id="status-panel") as status_panel:
            status = gr.Markdown(elem_id="status")
            refresh = gr.Button("Refresh", size="sm")
        seek_t = gr.Number(visible=False, elem_id="seek")
        timer = gr.Timer(1.0)

        def select(video_id, _session, request: gr.Request):
            if video_id and not state.library.may_see(video_id, state.owner(request)):
                video_id = None
            if not video_id:
                return None, None, None, state.table(None), [], state.progress_html(None), ""
            v = state.library.video(video_id)
            path = state.library.media_path(video_id)
            events = state.events(video_id)
            fig = timeline_figure(events, (v or {}).get("duration_s") or 0)
            return (video_id, path, fig, state.table(video_id), [], state.progress_html(video_id), f"{video_id}:{(v or {}).get('windows_done', 0)}")

        picker.change(select, [picker, session], [current, player, timeline, table, chat, progress, seen])

        def on_upload(file, request: gr.Request):
            owner = state.owner(request)
            if file is None:
                return gr.update(), "", gr.update()
            original = getattr(file, "orig_name", None) or Path(file if isinstance(file, str) else file.name).name
            path = file if isinstance(file, str) else file.name
            try:
                video_id, new = state.library.add_upload(path, original, owner=owner)
            except UploadError as exc:
                return gr.update(), f"**Upload refused.** {exc}", None
            msg = "Added to the library; ingest has started." if new else "This video is already in the library (same content); showing it."
            return gr.update(choices=state.choices(owner), value=video_id), msg, None  # the drop zone is ready for the next file

        upload.upload(on_upload, [upload], [picker, upload_msg, upload])

        def tick(video_id, last, request: gr.Request):
            choices = gr.update(choices=state.choices(state.owner(request))) if state.library.jobs else gr.update()
            if not video_id:
                return gr.update(), gr.update(), gr.update(), last, choices
            v = state.library.video(video_id)
            key = f"{video_id}:{(v or {}).get('windows_done', 0)}:{(v or {}).get('status')}"
            html = state.progress_html(video_id)
            if key == last:
                return html, gr.update(), gr.update(), last, gr.update()
            events = state.events(video_id)
            return html, timeline_figure(events, (v or {}).get("duration_s") or 0), state.table(video_id), key, choices

        timer.tick(tick, [current, seen], [progress, timeline, table, seen, picker])

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

        ask_events = [
            send.click(ask, [question, chat, session, current], [chat, question, notice]),
            question.submit(ask, [question, chat, session, current], [chat, question, notice]),
        ]
        for name, button in tpl_buttons.items():
            ask_events.append(button.click(template(name), [chat, session, current], [chat, notice]))

        def do_stop(sess):
            try:
                state.redis.publish(inbox_channel(sess), json.dumps({"v": 1, "type": "cancel"}))
            except redis.RedisError:
                pass
            return "stopped"

        # Stop goes through the bus: the worker stops and publishes "cancelled", and the streaming handler
        # ends normally with the partial answer (cancelling the Gradio event instead flags its outputs as errors)
        stop.click(do_stop, [session], [notice])

        def new_chat(sess):
            state.ask_service.store.clear(sess)
            return [], ""

        clear.click(new_chat, [session], [chat, notice])

        def export(sess, video_id, request: gr.Request):
            if not state.library.may_see(video_id, state.owner(request)):
                return gr.update(visible=False), "Pick a video first."
            turns = [t for t in state.ask_service.store.turns(sess) if t.video_id == video_id and t.citations]
            if not turns:
                return gr.update(visible=False), "Ask a question first: the export cuts the moments the last answer cites."
            spans = [(c["t_start"], c["t_end"]) for c in turns[-1].citations]
            source = state.library.media_path(video_id)
            if not source:
                return gr.update(visible=False), "The video file is no longer in the library."
            out = state.library.home / "exports" / f"{video_id}-{sess}-{len(turns)}.mp4"
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                export_moments(source, spans, out)
            except MediaError as exc:
                return gr.update(visible=False), f"Export failed: {exc}"
            return gr.update(value=str(out), visible=True), f"Exported {len(spans)} cited moment{'s' if len(spans) != 1 else ''} into one clip."

        export_btn.click(export, [session, current], [export_file, notice])

        filters = [current, f_kind, f_label, f_from, f_to, f_search]
        for comp in (f_kind, f_label, f_from, f_to, f_search):
            comp.change(lambda *a: state.table(*a), filters, [table])

        def row_selected(df: pd.DataFrame, evt: gr.SelectData):
            try:
                return float(df.iloc[evt.index[0]]["t"])
            except (IndexError, KeyError, TypeError, ValueError):
                return gr.update()

        table.select(row_selected, [table], [seek_t])
        seek_t.change(None, [seek_t], None, js="(t) => { if (t !== null && window.vdSeek) window.vdSeek(t); return []; }")
        refresh.click(state.status_md, None, [status])
        status_panel.expand(state.status_md, None, [status])  # opened: show the state now, not the page load's
        def on_load(request: gr.Request):
            return gr.update(choices=state.choices(state.owner(request))), state.status_md()

        demo.load(on_load, None, [picker, status])
    return demo
