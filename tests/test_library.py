"""The library: search and questions across the videos of one home, on a synthetic three-video graph in real DuckDB
(two cameras and an interview; tests/synthetic_graph.py), and the CLI over a graph written to a home on disk."""

from __future__ import annotations

import json

import pytest

from orchestrator.graph import EventGraph, Span
from orchestrator.library import LibraryAsk, LibraryError, query_terms, search
from synthetic_graph import LIBRARY_VIDEOS, SCHEMA, add_video, bag_embed, library_graph
from conftest import run_cli


@pytest.fixture(scope="module")
def graph():
    g = EventGraph.over(library_graph())
    yield g
    g.close()


def _where(moments):
    return [(m.video_id, m.event_id) for m in moments]


def test_search_spans_every_video_and_ranks_the_whole_match_first(graph):
    found = search(graph, "white van")
    # both white vehicles (a van is a truck or a car), whichever camera; the black car matches "van" only, so it ranks below
    assert set(_where(found[:2])) == {("cam1", "object:2"), ("cam2", "object:1")}
    black = _where(found).index(("cam2", "object:3"))
    assert all(m.score > found[black].score for m in found[:2])
    assert found[0].snippet.startswith("white ") and found[0].video_name in ("cam1.mp4", "cam2.mp4")


def test_a_track_is_one_moment_and_moments_carry_video_and_time(graph):
    found = search(graph, "car", kinds=("object",))
    assert _where(found) == [("cam1", "object:2"), ("cam2", "object:3")]  # cam1's car spans two windows: one moment
    m = found[0]
    assert (m.video_name, m.t_start, m.t_end, m.kind, m.label) == ("cam1.mp4", 843.0, 870.0, "object", "car")


def test_search_reads_transcripts_on_screen_text_scene_descriptions_and_attributes(graph):
    assert sorted(_where(search(graph, "delivery"))) == [("int1", "speech:1"), ("int1", "speech:2")]  # not "DELIVERIES": a different word
    assert ("cam2", "text:1") in _where(search(graph, "acme"))
    assert _where(search(graph, "parcel")) == [("cam2", "scene:1")]
    assert _where(search(graph, "brown")) == [("cam1", "object:3")]  # only its colour says brown
    assert _where(search(graph, "barks")) == [("cam1", "sound:1")]  # a sound's pattern


def test_search_filters_by_kind_label_time_and_video(graph):
    assert {m.kind for m in search(graph, "dog")} == {"object", "sound", "speech"}
    assert _where(search(graph, "dog", kinds=("speech",))) == [("int1", "speech:3")]
    assert _where(search(graph, "", labels=("truck",))) == [("cam2", "object:1")]
    assert set(_where(search(graph, "person", span=Span(800, 1000)))) == {("cam2", "object:2"), ("cam2", "scene:1"), ("int1", "object:1")}
    assert {m.video_id for m in search(graph, "person", videos=["cam1", "interview.mp4"])} == {"cam1", "int1"}
    assert search(graph, "elephant") == []
    with pytest.raises(LibraryError, match="unknown video 'cam9'"):
        search(graph, "dog", videos=["cam9"])
    with pytest.raises(LibraryError, match="give words"):
        search(graph, "  ")
    with pytest.raises(LibraryError, match="--since takes a date"):
        search(graph, "dog", since="yesterday")


def test_meaning_ranks_what_the_words_alone_tie(graph):
    # "dog" is in the label of the dog, the bark and the interview's words alike; by meaning the dog itself is closest
    plain = search(graph, "dog")
    assert {m.score for m in plain[:3]} == {1.0}
    ranked = search(graph, "dog", embed=bag_embed)
    assert ranked[0].event_id == "object:3" and ranked[0].score > ranked[2].score
    assert any(w.startswith("similar:") for w in ranked[0].why)


def test_query_terms_name_labels_for_the_words_people_use():
    assert query_terms("bikes and a lorry") == [("%bike%", ("bicycle",)), ("%lorry%", ("truck",))]
    assert query_terms("what is the") == []


def test_library_question_cites_only_the_video_that_has_it(graph):
    a = LibraryAsk(graph, embed=bag_embed).ask("which videos have a dog?")
    assert [v.video_id for v in a.videos] == ["cam1"] and a.searched == 3
    assert a.text.startswith("Found in 1 of 3 videos: cam1.mp4.")
    assert "cam1.mp4 [00:33:21]" in a.text
    assert [(c.video_id, c.event_id, c.t_start) for c in a.citations] == [("cam1", "object:3", 2001.0)]


def test_library_question_across_cameras(graph):
    a = LibraryAsk(graph, embed=bag_embed).ask("when did the white van appear, in any camera?")
    assert {v.video_id for v in a.videos} == {"cam1", "cam2"}
    assert {(c.video_id, c.event_id) for c in a.citations} == {("cam1", "object:2"), ("cam2", "object:1")}
    assert "cam2.mp4 [00:14:03]" in a.text and "cam1.mp4 [00:14:03]" in a.text
    assert "black" not in a.text  # cam2's black car is not white


def test_library_question_about_speech_and_a_selection(graph):
    ask = LibraryAsk(graph, embed=bag_embed)
    a = ask.ask("everything said about the delivery, across the interviews")
    assert [v.video_id for v in a.videos] == ["int1"]
    assert {c.event_id for c in a.citations} == {"speech:1", "speech:2"} and "arrived two hours late" in a.text
    only_cams = ask.ask("which videos have a dog?", videos=["cam2", "interview.mp4"])
    assert only_cams.citations == [] and only_cams.text.startswith("I don't know — none of the 2 videos")
    with pytest.raises(LibraryError, match="ask a question"):
        ask.ask("   ")


def test_plan_is_made_once_for_the_library(graph, monkeypatch):
    import orchestrator.library as library

    calls = []
    real = library.plan_question
    monkeypatch.setattr(library, "plan_question", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    LibraryAsk(graph, embed=bag_embed).ask("is there a truck?")
    assert calls == ["is there a truck?"]


@pytest.fixture()
def home(tmp_path):
    import duckdb

    from orchestrator.pipeline import database_path

    home = tmp_path / "home"
    path = database_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(SCHEMA)
    for vid, name, duration, events in LIBRARY_VIDEOS:
        add_video(con, vid, duration, events, bag_embed, name)
    con.close()
    return home


def test_cli_search_json_and_errors(home):
    r = run_cli("search", "white van", "--home", str(home), "--json")
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout.strip().splitlines()[-1])
    assert {(m["video_id"], m["event_id"]) for m in found[:2]} == {("cam1", "object:2"), ("cam2", "object:1")}
    assert set(found[0]) >= {"video_id", "video_name", "t_start", "t_end", "event_id", "kind", "label", "snippet"}
    r = run_cli("search", "dog", "--home", str(home), "--videos", "interview.mp4", "--kind", "speech")
    assert r.returncode == 0 and r.stdout.startswith("interview.mp4 [11:40-11:44] speech") and "walked the dog" in r.stdout
    bad = run_cli("search", "dog", "--home", str(home), "--videos", "nope")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: unknown video 'nope': give ids or file names from `python -m orchestrator videos`"
    ]
    bad = run_cli("search", "dog", "--home", str(home), "--from", "ten")
    assert bad.returncode == 2 and "--from takes seconds" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_ask_library_cites_video_and_moment(home, cli_env):
    r = run_cli("ask", "--library", "which videos have a dog?", "--home", str(home), "--json", env_extra=cli_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["answer"].startswith("Found in 1 of 3 videos: cam1.mp4.") and "cam1.mp4 [00:33:21]" in out["answer"]
    assert out["citations"] == [{"video_id": "cam1", "video_name": "cam1.mp4", "t_start": 2001.0, "t_end": 2030.0, "event_id": "object:3"}]
    r = run_cli("ask", "--library", "what was said about the delivery?", "--home", str(home), "--videos", "cam1,cam2", env_extra=cli_env)
    assert r.returncode == 0 and r.stdout.startswith("I don't know — none of the 2 videos"), r.stdout + r.stderr
    bad = run_cli("ask", "--library", "is there a dog?", "--home", str(home), "--videos", "cam7", env_extra=cli_env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown video 'cam7'")
