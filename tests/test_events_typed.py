"""Events are one type both ways: what the graph writes is what its read methods return, and SQL lives in graph.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from orchestrator.events import ATTRS_BY_KIND, EVENT_KINDS, Event, Relation
from orchestrator.graph import EventGraph, Match, Span, WindowResult
from orchestrator.retrieval import Evidence
from synthetic_graph import CLIP_EVENTS, clip_graph

ORCHESTRATOR = Path(__file__).resolve().parent.parent / "orchestrator"


def _written(tmp_path) -> tuple[EventGraph, list[Event], list[Relation]]:
    graph = EventGraph(tmp_path / "events.duckdb")
    events = [
        Event(
            "object-00001-w00000",
            "object",
            "car",
            1.0,
            9.5,
            0.91,
            track_id=1,
            window_index=0,
            attrs={"best_t": 4.0, "best_box": [0.1, 0.2, 0.3, 0.4], "appearance_colours": ["white"]},
        ),
        Event(
            "speech-00000-000",
            "speech",
            "speech",
            3.25,
            6.0,
            0.8,
            text="Stop the car.",
            window_index=0,
            attrs={"words": [[3.25, 3.5, "Stop"]], "language": "en"},
        ),
        Event("sound-00000-000", "sound", "alarm", 12.0, 15.0, 0.7, window_index=0, attrs={"pattern": "3 beeps", "n_bursts": 3}),
    ]
    relations = [Relation(events[0].id, events[1].id, "co_occurs", 2.75), Relation(events[1].id, events[2].id, "precedes", 6.0)]
    graph.upsert_video(
        "v1",
        "v1.mp4",
        "/v1.mp4",
        "sha",
        {"size_bytes": 1, "duration_s": 20.0, "width": 64, "height": 36, "fps": 25.0, "has_video": True, "has_audio": True},
        20.0,
        1,
    )
    graph.write_window(WindowResult("v1", 0, 0.0, 20.0, events=events, relations=relations, embeddings=np.eye(3, 384, dtype=np.float32)))
    return graph, events, relations


def test_what_is_written_is_what_is_read(tmp_path):
    graph, events, relations = _written(tmp_path)
    with graph:
        assert graph.read_events("v1") == events
        assert graph.read_events("v1", "speech") == [events[1]]
        assert sorted(graph.relations("v1"), key=lambda r: r.kind) == relations
        assert graph.last_event("v1", 1) == events[2]
        assert graph.events_between("v1", 10.0, before_window=1) == [events[2]]
        # the plain-row view (JSON output) is the same events, attrs parsed
        rows = graph.events("v1")
        assert [Event.from_row(r) for r in rows] == events and rows[0]["attrs"]["best_box"] == [0.1, 0.2, 0.3, 0.4]


def test_queries_take_matches_and_spans(tmp_path):
    graph, events, _ = _written(tmp_path)
    with graph.cursor() as g:  # a cursor of its own, as another thread reads
        assert [e.id for e in g.find_events("v1", [Match(kinds=("sound",), labels=("alarm",))])] == [events[2].id]
        assert [e.id for e in g.find_events("v1", [Match(kinds=("speech",), text_like=("%stop%",)), Match(kinds=("sound",))])] == [events[1].id, events[2].id]
        assert g.find_events("v1", [Match(kinds=("object",), labels=("bus",))]) == []
        assert g.find_events("v1", [Match(never=True)]) == []
        # overlapping [10, 13] vs starting in it
        assert [e.id for e in g.find_events("v1", span=Span(5.0, 13.0))] == [e.id for e in events]
        assert [e.id for e in g.find_events("v1", span=Span(5.0, 13.0, starts_within=True))] == [events[2].id]
        assert [e.id for e in g.find_events("v1", span=Span(1.0, 12.0, starts_within=True, end_open=True))] == [events[0].id, events[1].id]
        assert [e.id for e in g.find_events("v1", order="confidence desc", limit=2)] == [events[0].id, events[1].id]
        assert g.count_items("v1", [Match(kinds=("object", "sound"))]) == 2
        assert g.label_counts("v1", "sound") == {"alarm": 1}
        assert g.duration("v1") == 20.0 and g.duration("nope") is None
        sims = g.similar_events("v1", np.eye(3, 384, dtype=np.float32)[1].tolist(), limit=1)
        assert sims[0][0] == events[1] and sims[0][1] == pytest.approx(1.0)


def test_from_row_reads_a_graph_written_by_sql():
    """Graphs written by older versions (or directly, as here) read back as Events with their stored attributes."""
    con, vid = clip_graph()
    graph = EventGraph.over(con)
    got = {e.id: e for e in graph.read_events(vid)}
    assert set(got) == {row[0] for row in CLIP_EVENTS}
    assert got["sound:2"].attrs == {"pattern": "6 beeps, 1.0 s apart", "n_bursts": 6} and got["sound:2"].window_index == 3
    assert got["object:2"].track_id == 2 and got["speech:2"].text == "Hello, who is calling?"
    ev = Evidence.from_event(got["object:2"])
    assert ev.event_ids == ["object:2"] and ev.colours == ["white"] and ev.attrs is not got["object:2"].attrs


def test_every_kind_has_declared_attributes():
    assert set(ATTRS_BY_KIND) == set(EVENT_KINDS)
    for kind, attrs in ATTRS_BY_KIND.items():
        assert attrs.__annotations__, kind


@pytest.mark.slow
def test_lanes_write_only_declared_attributes(gt_ingested):
    """The real clip's events carry only the attribute keys their kind declares (alerts add their rule's values)."""
    _summary, events, _messages, _truth, _home = gt_ingested
    kinds = {e["kind"] for e in events}
    assert {"object", "speech", "sound", "scene_cut"} <= kinds
    for e in events:
        if e["kind"] != "alert":
            undeclared = set(e["attrs"]) - set(ATTRS_BY_KIND[e["kind"]].__annotations__)
            assert not undeclared, (e["kind"], undeclared)


SQL = re.compile(r"^\s*(SELECT|INSERT|DELETE FROM|UPDATE \w+ SET|CREATE|ALTER|DESCRIBE|BEGIN|COMMIT)\b")


def _sql_strings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            found.append((node.lineno, node.value[:60]))
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant) and SQL.match(str(node.values[0].value)):
            found.append((node.lineno, str(node.values[0].value)[:60]))
    return found


def test_sql_lives_in_graph_py_only():
    offenders = {}
    for path in sorted(ORCHESTRATOR.rglob("*.py")):
        if path.name == "graph.py":
            continue
        found = _sql_strings(ast.parse(path.read_text(), str(path)))
        if found:
            offenders[str(path.relative_to(ORCHESTRATOR))] = found
    assert not offenders
    assert _sql_strings(ast.parse((ORCHESTRATOR / "graph.py").read_text())), "the check finds SQL where there is some"


def test_media_vectors_are_written_per_window_and_searched_by_similarity(tmp_path):
    """A lane's media vectors (key frames or crops embedded by a zero-shot model) land with the window, replace an
    earlier try of the same window, and come back nearest first within their space and span."""
    graph, _events, _relations = _written(tmp_path)
    rows = [
        {"space": "image_text", "t_start": 2.0, "t_end": 2.0, "ref": "frame", "vec": [1.0, 0.0, 0.0]},
        {"space": "image_text", "t_start": 9.0, "t_end": 11.0, "track_id": 4, "ref": "crop", "vec": [0.6, 0.8, 0.0]},
        {"space": "audio_text", "t_start": 5.0, "t_end": 6.0, "event_id": "s1", "vec": [0.0, 1.0]},
    ]
    with graph:
        for _ in range(2):  # a retried window replaces its rows
            graph.write_window(WindowResult("v1", 0, 0.0, 20.0, vectors=rows))
        assert graph.media_spaces("v1") == ["audio_text", "image_text"]
        found = graph.nearest_media("v1", "image_text", [0.0, 1.0, 0.0])
        assert [(r["t_start"], r["track_id"], r["ref"]) for r in found] == [(9.0, 4, "crop"), (2.0, None, "frame")]
        assert found[0]["sim"] == pytest.approx(0.8)
        assert [r["t_start"] for r in graph.nearest_media("v1", "image_text", [0.0, 1.0, 0.0], span=Span(0.0, 5.0))] == [2.0]
        assert graph.nearest_media("v1", "audio_text", [0.0, 1.0])[0]["event_id"] == "s1"
        graph.delete_video("v1")
        assert graph.media_spaces("v1") == []
