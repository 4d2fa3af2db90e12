"""The timeline plot: one lane per kind (objects by class, speech, sounds, scene cuts, motion,
alerts); hover shows the event (the words said, on the speech lane) and its key frame, a click seeks
the player (both wired in the page's script)."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable

import plotly.graph_objects as go

from orchestrator.events import Event, fmt_time

LANE_COLOURS = {"scene": "#adb5bd", "speech": "#2b8a3e", "sound": "#e67700", "scene_cut": "#495057", "motion": "#868e96", "alert": "#c92a2a"}
OBJECT_COLOUR = "#1c7ed6"
MIN_WIDTH_S = 0.6
SPEECH_HOVER_CHARS = 480  # the words said, wrapped, up to about six lines


def spoken_words(text: str) -> str:
    """The words of a speech event as hover text: wrapped in lines (Plotly does not wrap), escaped, shortened with "…"."""
    words = textwrap.shorten(" ".join(text.split()), SPEECH_HOVER_CHARS, placeholder=" …") if text.strip() else ""
    return "<br>".join(html.escape(line, quote=False) for line in textwrap.wrap(f'"{words}"', 60))


def lane_of(event: Event) -> str:
    if event.kind == "object":
        return f"object: {event.label}"
    return {"speech": "speech", "sound": "sounds", "scene_cut": "scene cuts", "motion": "motion", "alert": "alerts", "scene": "scenes"}.get(
        event.kind, event.kind
    )


def timeline_figure(events: list[Event], duration_s: float, thumb: Callable[[Event], str] | None = None) -> go.Figure:
    """The figure; ``thumb`` gives an event's key-frame URL (or ""), carried in each bar's customdata for the hover card."""
    lanes: dict[str, list[Event]] = {}
    for e in events:
        lanes.setdefault(lane_of(e), []).append(e)
    order = sorted((k for k in lanes if k.startswith("object")), key=lambda k: -len(lanes[k]))
    order = [k for k in ("alerts", "scenes") if k in lanes] + order
    order += [k for k in ("speech", "sounds", "scene cuts", "motion") if k in lanes]
    fig = go.Figure()
    for lane in reversed(order):
        es = lanes[lane]
        colour = OBJECT_COLOUR if lane.startswith("object") else LANE_COLOURS.get(es[0].kind, "#555")
        hover = []
        for e in es:
            head = f"{fmt_time(e.t_start)}–{fmt_time(e.t_end)} {e.kind}"
            if e.kind == "speech":
                hover.append(f"{head} ({e.confidence:.2f})<br>{spoken_words(e.text)}")
                continue
            what = (e.text or e.label)[:100] if e.kind in ("scene", "alert", "text") else e.label
            hover.append(f"{head}: {html.escape(what, quote=False)} ({e.confidence:.2f})")
        fig.add_trace(
            go.Bar(
                y=[lane] * len(es),
                x=[max(e.t_end - e.t_start, MIN_WIDTH_S) for e in es],
                base=[e.t_start for e in es],
                orientation="h",
                marker_color=colour,
                opacity=0.85,
                name=lane,
                hovertext=hover,
                hoverinfo="text",
                customdata=[[e.t_start, e.id, thumb(e) if thumb else ""] for e in es],
                showlegend=False,
            )
        )
    step = _tick_step(duration_s)
    ticks = [i * step for i in range(int(duration_s // step) + 2)]
    fig.update_layout(
        barmode="overlay",
        height=max(180, 70 + 28 * len(order)),
        margin=dict(l=10, r=10, t=24, b=30),
        xaxis=dict(range=[0, max(duration_s, 1)], tickvals=ticks, ticktext=[fmt_time(t) for t in ticks], title=None),
        yaxis=dict(automargin=True),
        plot_bgcolor="#f8f9fa",
        clickmode="event",
    )
    if not events:
        fig.add_annotation(text="no events yet", showarrow=False, x=max(duration_s, 1) / 2, y=0.5, yref="paper")
    return fig


def _tick_step(duration: float) -> float:
    for step in (5, 10, 30, 60, 120, 300, 600, 900, 1800):
        if duration / step <= 10:
            return step
    return 3600
