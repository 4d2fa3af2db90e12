"""Alerts outside ingest: which rules are active for a home, and re-running them over a stored video."""

from __future__ import annotations

import math
from pathlib import Path

from .events import Event
from .graph import EventGraph
from .rules import Rule, RulesEngine, load_rule_dir, load_rules
from .settings import get_settings


def rules_dir(home: Path) -> Path:
    return Path(home) / "rules"


def active_rules(home: Path) -> list[Rule]:
    """The rules in ``<home>/rules/*.yaml`` plus any files named in ``VDET_RULES`` (os.pathsep-separated)."""
    rules = load_rule_dir(rules_dir(home)) if rules_dir(home).is_dir() else []
    for extra in get_settings().rules:
        rules += load_rules(extra)
    return rules


def rerun_rules(graph: EventGraph, video_id: str, rules: list[Rule]) -> list[Event]:
    """Evaluate rules over a finished (or partly ingested) video's events without running any model."""
    video = graph.video(video_id)
    if video is None:
        raise LookupError(f"unknown video id {video_id!r}")
    events = [e for e in graph.read_events(video_id) if e.kind != "alert"]
    known_end = graph.done_until(video_id)
    complete = video["status"] == "done"
    tracks = sorted({e.track_id for e in events if e.track_id is not None})
    dets = graph.detections_for_tracks(video_id, tracks)
    alerts, relations = RulesEngine(rules).evaluate([], events, dets, float(video["duration_s"]) if complete else None, known_end, 0)
    window_of = {e.id: e.window_index for e in events}
    window_s = float(video["window_s"])
    last_window = max(int(video["n_windows"] or 1) - 1, 0)
    for a in alerts:
        a.window_index = min(_alert_window(a, window_of, window_s), last_window)
    graph.replace_alerts(video_id, alerts, relations)
    return alerts


def _alert_window(alert: Event, window_of: dict[str, int], window_s: float) -> int:
    """The window an alert belongs to: its anchor event's (the last evidence), else the one holding its time."""
    evidence = alert.attrs.get("evidence") or []
    anchor_id = alert.id.removeprefix(f"alert-{alert.attrs['rule']}-")
    if anchor_id in window_of:
        return window_of[anchor_id]
    if evidence and evidence[-1] in window_of and alert.attrs.get("condition") != "absence":
        return window_of[evidence[-1]]
    return max(0, math.ceil(alert.t_start / window_s) - 1)
