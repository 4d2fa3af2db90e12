"""The page's library search: one box over every video the user may see (``orchestrator.library.search``), with
filters by kind, label, video and time range, and ranked moments shown with a key-frame thumbnail, the video's
name, the time, the kind and label and a snippet. Clicking a moment opens its video in the player at that time.

Words are matched without any model server; "by meaning too" embeds the query with the app's Triton embedder
(and falls back to words, saying so, when Triton does not answer). Thumbnails are the events table's (the same
files, made by the same background thread): the list is drawn at once with placeholders, and drawn again as
its thumbnails are made.

Opening a moment reuses the chat's citations' mechanism (``window.vdSeek``): the click records where to seek,
the server switches the library picker to the moment's video when it is another one (the page's own video
selection then loads it), and the seek happens once the player has loaded that video.
"""

from __future__ import annotations

import html
import json
import logging
import math
import time
from typing import Callable
from urllib.parse import quote

import gradio as gr

from orchestrator.events import EVENT_KINDS, fmt_time, plural
from orchestrator.graph import Span
from orchestrator.library import LibraryError, search

from .app import PRIVATE, parse_clock
from .thumbnails import key_time

log = logging.getLogger(__name__)
LIMIT = 24  # moments shown per search
END_S = 1e12  # "to the end" of any video
THUMB_WAIT_S = 60.0  # the list stops redrawing for thumbnails after this long
EMPTY_QUERY = (
    "Type words to search for (something said, or written on screen, or a label such as *person* or *car*), or choose a filter (kind, label, video, time)."
)


class SearchInputError(ValueError):
    """A search the page cannot run as typed; the message says what to type instead."""


def parse_range(t_from: str | None, t_to: str | None) -> Span | None:
    """The time range typed into From and To (seconds or mm:ss; an empty or zero To is the end), or None for none.

    >>> parse_range("1:30", "")
    Span(lo=90.0, hi=1000000000000.0, starts_within=False, end_open=False)
    >>> parse_range("", "") is None
    True
    """
    a, b = str(t_from or "").strip(), str(t_to or "").strip()
    if not a and not b:
        return None
    lo = parse_clock(a) if a else 0.0
    if lo is None:
        raise SearchInputError(f"From {a!r} is not a time: type seconds (90) or mm:ss (1:30).")
    hi = parse_clock(b) if b else END_S
    if hi is None:
        raise SearchInputError(f"To {b!r} is not a time: type seconds (90) or mm:ss (1:30), or leave it empty for the end.")
    if hi == 0:
        hi = END_S
    if hi < lo:
        raise SearchInputError(f"To ({fmt_time(hi)}) is before From ({fmt_time(lo)}): give a range that ends after it starts.")
    return Span(lo, hi)


def parse_labels(text: str | None) -> tuple[str, ...]:
    """The labels typed (comma-separated), each as typed and in lower case: a text event's label is its own words.

    >>> parse_labels(" Person, car ,, EXIT")
    ('Person', 'person', 'car', 'EXIT', 'exit')
    """
    out: list[str] = []
    for part in str(text or "").split(","):
        part = " ".join(part.split())
        for form in (part, part.lower()):
            if form and form not in out:
                out.append(form)
    return tuple(out)


def describe_filters(kind: str | None, labels: tuple[str, ...], span: Span | None, n_videos: int | None) -> str:
    """The filters in words, for the summary line: 'speech, label person, 01:00–02:00, in 2 videos'.

    >>> describe_filters("speech", ("Person", "person"), Span(60, 120), 2)
    'speech, label person, 01:00–02:00, in 2 videos'
    >>> describe_filters("all", (), Span(30, 1e12), None)
    'from 00:30'
    """
    parts = []
    if kind and kind != "all":
        parts.append(kind)
    shown = list(dict.fromkeys(label.lower() for label in labels))
    if shown:
        parts.append(f"label {' or '.join(shown)}")
    if span is not None:
        parts.append(f"from {fmt_time(span.lo)}" if span.hi >= END_S else f"{fmt_time(span.lo)}–{fmt_time(span.hi)}")
    if n_videos:
        parts.append(f"in {plural(n_videos, 'video')}")
    return ", ".join(parts)


def card_html(row: dict, thumb_url: str) -> str:
    """One moment as a link: its key frame (or a placeholder), video name, time, kind and label, and snippet."""
    name = html.escape(str(row["video_name"]))
    when = fmt_time(row["t_start"])
    span = f"{when}–{fmt_time(row['t_end'])}" if row["t_end"] - row["t_start"] >= 1 else when
    what = row["kind"] if row["label"] in (row["kind"], "") else f"{row['kind']} · {row['label']}"
    if thumb_url:
        frame = f"<img src='{html.escape(thumb_url, quote=True)}' alt='frame of {name} at {when}' loading='lazy'>"
    else:
        frame = f"<span class='vd-noframe'>{html.escape(row['kind'])}</span>"
    return (
        f"<a class='vd-hit' href='#moment' data-vid='{html.escape(row['video_id'], quote=True)}' data-t='{float(row['t_start']):.3f}' "
        f"aria-label='Open {name} at {when}'>"
        f"<span class='vd-hit-frame'>{frame}</span><span class='vd-hit-body'>"
        f"<span class='vd-hit-head'><span class='vd-hit-name'>{name}</span> <span class='vd-hit-when'>{span}</span></span>"
        f"<span class='vd-hit-what'>{html.escape(what)}</span>"
        f"<span class='vd-hit-snippet'>{html.escape(str(row['snippet']))}</span></span></a>"
    )


def results_html(rows: list[dict], thumb_url: Callable[[dict], str]) -> str:
    return "<div class='vd-hits'>" + "".join(card_html(r, thumb_url(r)) for r in rows) + "</div>" if rows else ""


RESULTS_CSS = """
.vd-hits { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(290px, 100%), 1fr)); gap: 6px; max-height: 330px; overflow-y: auto; padding: 2px; }
.vd-hit { display: flex; gap: 8px; align-items: flex-start; text-align: left; padding: 4px; border: 1px solid #e9ecef; border-radius: 5px; color: inherit;
  text-decoration: none; min-width: 0; }
.vd-hit:hover, .vd-hit:focus-visible { background: #f1f3f5; border-color: #1c7ed6; outline: none; }
.vd-hit-frame { flex: 0 0 112px; width: 112px; height: 63px; border-radius: 3px; overflow: hidden; background: #dee2e6; display: flex;
  align-items: center; justify-content: center; }
.vd-hit-frame img { width: 100%; height: 100%; object-fit: cover; display: block; }
.vd-noframe { font-size: 0.75em; color: #868e96; }
.vd-hit-body { display: flex; flex-direction: column; min-width: 0; font-size: 0.85em; line-height: 1.3; }
.vd-hit-head { overflow-wrap: anywhere; }
.vd-hit-name { font-weight: 600; }
.vd-hit-when { font-family: ui-monospace, monospace; color: #1c7ed6; white-space: nowrap; }
.vd-hit-what { color: #495057; }
.vd-hit-snippet { color: #212529; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
@media (max-width: 640px) { .vd-hit-frame { flex-basis: 88px; width: 88px; height: 50px; } }
"""

# Runs once when the results load: a click on a moment records where to seek and tells the server which moment it was;
# the seek itself waits until the player has loaded the moment's video (or happens at once when it is the one shown).
RESULTS_JS = """
if (!window.vdSearchReady) {
  window.vdSearchReady = true;
  const settle = () => {
    const p = window.vdPending;
    if (!p) return;
    if (Date.now() > p.until) { window.vdPending = null; return; }
    const v = document.querySelector('#player video');
    if (v && v.currentSrc && v.currentSrc !== p.src && v.readyState >= 1 && window.vdSeek) { window.vdPending = null; window.vdSeek(p.t); }
  };
  window.vdSearchSettle = settle;
  document.addEventListener('loadedmetadata', (ev) => { if (ev.target && ev.target.closest && ev.target.closest('#player')) settle(); }, true);
  setInterval(settle, 300);
}
element.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a.vd-hit');
  if (!a) return;
  ev.preventDefault();
  const v = document.querySelector('#player video');
  const t = parseFloat(a.dataset.t);
  window.vdPending = { t: t, src: v ? v.currentSrc : '', until: Date.now() + 60000 };
  trigger('click', { video_id: a.dataset.vid, t: t });
});
"""

SEEK_JS = """(go) => {
  let g = null;
  try { g = JSON.parse(go || 'null'); } catch (e) { return []; }
  if (!g) return [];
  if (!g.ok) { window.vdPending = null; }
  else if (g.same) { window.vdPending = null; if (window.vdSeek) window.vdSeek(g.t); }
  return [];
}"""


class SearchPanel:
    """The search box, its filters and its results; built where the page places it, wired once the library picker exists."""

    def __init__(self, state):
        self.state = state
        with gr.Accordion("Search the library", open=True, elem_id="search-panel"):
            with gr.Row(equal_height=True):
                self.query = gr.Textbox(
                    label="Search all videos",
                    placeholder="words said or on screen, a label, a colour… e.g. railway station, white van",
                    elem_id="s-query",
                    max_lines=1,
                    scale=6,
                )
                self.kind = gr.Dropdown(["all", *EVENT_KINDS], value="all", label="Kind", elem_id="s-kind", scale=1, min_width=110)
                self.go = gr.Button("Search", variant="secondary", elem_id="s-go", scale=0, min_width=90)
                # after the button: a box of its own, which wraps whole onto the next line on a phone
                self.meaning = gr.Checkbox(label="by meaning too", value=False, elem_id="s-meaning", scale=0, min_width=150)
            with gr.Accordion("More filters: label, videos, time", open=False, elem_id="s-filters"):
                with gr.Row():
                    self.label = gr.Textbox(label="Label", placeholder="person, car", elem_id="s-label", max_lines=1, min_width=110)
                    self.videos = gr.Dropdown(
                        [], value=[], multiselect=True, label="Videos (empty: all)", elem_id="s-videos", allow_custom_value=True, scale=2, min_width=180
                    )
                    self.t_from = gr.Textbox(label="From", placeholder="0:00", elem_id="s-from", max_lines=1, min_width=80)
                    self.t_to = gr.Textbox(label="To", placeholder="end", elem_id="s-to", max_lines=1, min_width=80)
            self.message = gr.Markdown("", elem_id="s-msg")
            self.results = gr.HTML("", elem_id="s-results", js_on_load=RESULTS_JS, css_template=RESULTS_CSS)
        self.rows = gr.State({"rows": [], "shown": 0, "since": 0.0})
        self.seek = gr.Textbox(visible=False, elem_id="s-seek")
        self.timer = gr.Timer(0.7, active=False)

    # -- what the user may search ------------------------------------------------------------
    def visible(self, owner: str | None) -> list[dict]:
        return self.state.library.videos(owner)

    def choices(self, owner: str | None) -> list[tuple[str, str]]:
        return [(f"{v['name']} · {fmt_time(v['duration_s'] or 0)}", v["video_id"]) for v in self.visible(owner)]

    def chosen_ids(self, owner: str | None, wanted) -> list[str]:
        """The videos to search: those chosen (by id or name) among the user's, else all of the user's."""
        mine = self.visible(owner)
        if not mine:
            raise SearchInputError("Your library is empty: upload a video first.")
        wanted = [str(w).strip() for w in (wanted or []) if str(w or "").strip()]
        if not wanted:
            return [v["video_id"] for v in mine]
        by_key = {v["video_id"]: v["video_id"] for v in mine} | {str(v["name"]).lower(): v["video_id"] for v in mine}
        missing = [w for w in wanted if w not in by_key and w.lower() not in by_key]
        if missing:
            raise SearchInputError(f"{', '.join(repr(m) for m in missing)} is not in your library: pick videos from the list.")
        return list(dict.fromkeys(by_key.get(w) or by_key[w.lower()] for w in wanted))

    # -- the search --------------------------------------------------------------------------
    def run(self, q, kind, label, videos, t_from, t_to, meaning, owner: str | None) -> tuple[str, list[dict]]:
        """(the summary line, the moments as rows); raises SearchInputError with a message for the page."""
        q = " ".join(str(q or "").split())
        kinds = (kind,) if kind and kind != "all" else ()
        if kind and kind != "all" and kind not in EVENT_KINDS:
            raise SearchInputError(f"Unknown kind {kind!r}: pick one from the list.")
        labels = parse_labels(label)
        span = parse_range(t_from, t_to)
        chosen = [v for v in (videos or []) if str(v or "").strip()]
        if not q and not kinds and not labels and span is None:  # the videos alone are where to look, not what
            raise SearchInputError(EMPTY_QUERY)
        ids = self.chosen_ids(owner, chosen)
        embed = self.state.embed if meaning and q else None
        started = time.perf_counter()
        note = ""
        with self.state.library.cursor() as graph:
            try:
                moments = self._search(graph, q, ids, kinds, labels, span, embed)
            except LibraryError as exc:  # said for the command line: "give words ..., or a filter (--kind ...)"
                if str(exc).startswith("give words"):
                    raise SearchInputError(f"“{q}” has no word to search for (words like *the* or *is* are skipped). {EMPTY_QUERY}") from None
                raise SearchInputError(str(exc)) from None
            except Exception as exc:  # noqa: BLE001 - the embedder on Triton did not answer: words still work
                if embed is None:
                    raise
                log.warning("search by meaning failed, searching by words: %s", exc)
                note = " The embedder did not answer, so these match words only."
                moments = self._search(graph, q, ids, kinds, labels, span, None)
            rows = [m.to_dict() for m in moments]
            self._key_times(graph, rows)
        took = (time.perf_counter() - started) * 1000
        where = describe_filters(kind, labels, span, len(ids) if chosen else None)
        what = f"“{q}”" + (f" ({where})" if where else "") if q else where
        if not rows:
            return f"No moment matches {what}. Try other words, fewer filters or *by meaning too*.{note}", []
        n_videos = len({r["video_id"] for r in rows})
        more = " (the best shown)" if len(rows) >= LIMIT else ""
        head = f"**{plural(len(rows), 'moment')}** in {plural(n_videos, 'video')} for {what}{more}, {took:.0f} ms — click one to watch it.{note}"
        return head, rows

    def _search(self, graph, q, ids, kinds, labels, span, embed):
        return search(graph, q, videos=ids, kinds=kinds, labels=labels, span=span, embed=embed, limit=LIMIT)

    def _key_times(self, graph, rows: list[dict]) -> None:
        """Each row's key-frame time (the events table's, so the thumbnail is shared); the missing thumbnails are queued."""
        by_video: dict[str, list[dict]] = {}
        for r in rows:
            by_video.setdefault(r["video_id"], []).append(r)
        for vid, group in by_video.items():
            events = {e.id: e for e in graph.events_by_id(vid, [r["event_id"] for r in group])}
            for r in group:
                e = events.get(r["event_id"])
                r["key_t"] = key_time(e) if e is not None else None
            wanted = [events[r["event_id"]] for r in group if r["event_id"] in events]
            if wanted:
                self.state.thumbs.request(vid, self.state.library.media_path(vid), wanted)

    def thumb_url(self, row: dict) -> str:
        if row.get("key_t") is None:
            return ""
        path = self.state.thumbs.file(row["video_id"], row["key_t"])
        return f"/gradio_api/file={quote(str(path))}" if path.is_file() else ""

    def waiting(self, rows: list[dict]) -> bool:
        """Whether a row still lacks a thumbnail that is being made."""
        return any(r.get("key_t") is not None and not self.thumb_url(r) and self.state.thumbs.pending(r["video_id"]) for r in rows)

    def shown(self, rows: list[dict]) -> int:
        return sum(1 for r in rows if self.thumb_url(r))

    # -- the page's events -------------------------------------------------------------------
    def wire(self, demo: gr.Blocks, picker: gr.Dropdown, current: gr.State) -> None:
        state = self.state
        inputs = [self.query, self.kind, self.label, self.videos, self.t_from, self.t_to, self.meaning]
        outputs = [self.message, self.results, self.rows, self.timer]

        def on_search(q, kind, label, videos, t_from, t_to, meaning, request: gr.Request):
            try:
                head, rows = self.run(q, kind, label, videos, t_from, t_to, meaning, state.owner(request))
            except (SearchInputError, LibraryError) as exc:
                return str(exc), "", {"rows": [], "shown": 0, "since": 0.0}, gr.update(active=False)
            except Exception as exc:  # noqa: BLE001 - the page shows a line, never a traceback
                log.exception("library search failed")
                return f"Search failed: {exc}", "", {"rows": [], "shown": 0, "since": 0.0}, gr.update(active=False)
            shown = {"rows": rows, "shown": self.shown(rows), "since": time.monotonic()}
            return head, results_html(rows, self.thumb_url), shown, gr.update(active=self.waiting(rows))

        def on_filter(q, kind, label, videos, t_from, t_to, meaning, request: gr.Request):
            """A filter changed: search again when there is something to search for (nothing typed: nothing to redo)."""
            if not " ".join(str(q or "").split()) and (kind in (None, "", "all")) and not parse_labels(label) and not (t_from or t_to):
                return gr.update(), gr.update(), gr.update(), gr.update()
            return on_search(q, kind, label, videos, t_from, t_to, meaning, request)

        def on_tick(held: dict):
            """Draw the list again when more of its thumbnails are made; stop once none is being made."""
            rows = (held or {}).get("rows") or []
            n = self.shown(rows)
            late = time.monotonic() - float((held or {}).get("since") or 0.0) > THUMB_WAIT_S
            timer = gr.update(active=bool(rows) and not late and self.waiting(rows))
            if n == (held or {}).get("shown"):
                return gr.update(), gr.update(), timer
            return results_html(rows, self.thumb_url), {**held, "shown": n}, timer

        def on_open(video_id, evt: gr.EventData, request: gr.Request):
            """A moment was clicked: its video goes into the player (the page's own selection loads it), and the seek follows."""
            vid, t = getattr(evt, "video_id", None), getattr(evt, "t", None)
            try:
                t = float(t)
            except (TypeError, ValueError):
                t = float("nan")
            if not isinstance(vid, str) or not math.isfinite(t) or t < 0:
                return gr.update(), json.dumps({"ok": False, "n": time.time()}), gr.update()
            if not state.library.may_see(vid, state.owner(request)) or state.library.video(vid) is None:
                return gr.update(), json.dumps({"ok": False, "n": time.time()}), "That video is not in your library any more: search again."
            same = vid == video_id
            go = json.dumps({"ok": True, "same": same, "t": t, "n": time.time()})
            # the choices too: the moment's video may have come (by the HTTP API, say) after the picker was filled
            return (gr.update() if same else gr.update(choices=state.choices(state.owner(request)), value=vid)), go, gr.update()

        def fill_videos(request: gr.Request):
            return gr.update(choices=self.choices(state.owner(request)))

        for trigger in (self.query.submit, self.go.click, self.label.submit, self.t_from.submit, self.t_to.submit):
            trigger(on_search, inputs, outputs, show_progress="hidden", **PRIVATE)
        for comp in (self.kind, self.videos, self.meaning):
            comp.change(on_filter, inputs, outputs, show_progress="hidden", **PRIVATE)
        self.timer.tick(on_tick, [self.rows], [self.results, self.rows, self.timer], show_progress="hidden", **PRIVATE)
        self.results.click(on_open, [current], [picker, self.seek, self.message], show_progress="hidden", **PRIVATE)
        self.seek.change(None, [self.seek], None, js=SEEK_JS, **PRIVATE)
        self.videos.focus(fill_videos, None, [self.videos], show_progress="hidden", **PRIVATE)
        demo.load(fill_videos, None, [self.videos], **PRIVATE)
