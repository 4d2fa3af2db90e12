"""Alerts outside ingest: which rules are active for a home, re-running them over a stored video or the whole library,
and the library's alerts listed by video (with the wall-clock time where the video's recording start is known)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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


@dataclass
class VideoAlerts:
    """One video's alerts, in time order, and when its recording started (None: not on the clock)."""

    video_id: str
    name: str
    recorded_at: datetime | None
    status: str
    alerts: list[Event] = field(default_factory=list)

    def wall_time(self, alert: Event) -> datetime | None:
        return self.recorded_at + timedelta(seconds=alert.t_start) if self.recorded_at else None

    def to_dict(self) -> dict:
        return {
            "video_id": self.video_id,
            "video_name": self.name,
            "recorded_at": self.recorded_at.isoformat() if self.recorded_at else None,
            "status": self.status,
            "alerts": [{**a.to_dict(), "wall_time": w.isoformat() if (w := self.wall_time(a)) else None} for a in self.alerts],
        }


def _library_rows(graph: EventGraph, videos: list[str] | None) -> list[dict]:
    from .library import select  # noqa: PLC0415 - the library's selection (ids or file names; an unknown one is an error)

    return select(graph, videos)


def rerun_library(graph: EventGraph, rules: list[Rule], videos: list[str] | None = None) -> list[VideoAlerts]:
    """The rules re-evaluated over every video of the home (or those named), each video's alerts replaced; videos whose
    ingest failed before any window are skipped. In recording order where known, then by name."""
    out = []
    for row in _library_rows(graph, videos):
        if not graph.done_windows(row["video_id"]):
            continue
        alerts = rerun_rules(graph, row["video_id"], rules)
        out.append(VideoAlerts(row["video_id"], row["name"], row.get("recorded_at"), row["status"], sorted(alerts, key=lambda a: a.t_start)))
    return _clock_order(out)


def library_alerts(graph: EventGraph, videos: list[str] | None = None) -> list[VideoAlerts]:
    """The alerts stored for every video (or those named), grouped by video, videos without alerts included."""
    out = [
        VideoAlerts(r["video_id"], r["name"], r.get("recorded_at"), r["status"], graph.read_events(r["video_id"], "alert"))
        for r in _library_rows(graph, videos)
    ]
    for v in out:
        v.alerts.sort(key=lambda a: (a.t_start, a.id))
    return _clock_order(out)


def _clock_order(groups: list[VideoAlerts]) -> list[VideoAlerts]:
    return sorted(groups, key=lambda v: (v.recorded_at is None, v.recorded_at or datetime.min, v.name))
