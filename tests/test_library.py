"""The library: search and questions across the videos of one home, on a synthetic three-video graph in real DuckDB
(two cameras and an interview; tests/synthetic_graph.py), and the CLI over a graph written to a home on disk."""

from __future__ import annotations

import json
from datetime import datetime

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
    assert out["citations"] == [{"video_id": "cam1", "video_name": "cam1.mp4", "t_start": 2001.0, "t_end": 2030.0, "event_id": "object:3", "wall_time": None}]
    r = run_cli("ask", "--library", "what was said about the delivery?", "--home", str(home), "--videos", "cam1,cam2", env_extra=cli_env)
    assert r.returncode == 0 and r.stdout.startswith("I don't know — none of the 2 videos"), r.stdout + r.stderr
    bad = run_cli("ask", "--library", "is there a dog?", "--home", str(home), "--videos", "cam7", env_extra=cli_env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown video 'cam7'")


# ---------------------------------------------------------------------------------------------
# one clock: cam1 recorded from 13:00, cam2 from 14:00 on 30 November; the interview's start is not known

NOW = datetime(2026, 12, 1, 9, 30)
ON_THE_CLOCK = {"cam1": "2026-11-30 13:00:00", "cam2": "2026-11-30 14:00:00"}


def _place(con) -> None:
    for vid, at in ON_THE_CLOCK.items():
        con.execute("UPDATE videos SET recorded_at = CAST(? AS TIMESTAMP), recorded_from = 'name' WHERE video_id = ?", [at, vid])


@pytest.fixture(scope="module")
def clock_graph():
    con = library_graph()
    _place(con)
    g = EventGraph.over(con)
    yield g
    g.close()


def test_a_wall_clock_question_finds_the_video_recording_then_and_the_offset_in_it(clock_graph):
    a = LibraryAsk(clock_graph, embed=bag_embed).ask("what happened at 14:14 yesterday?", now=NOW)
    assert a.text.startswith("14:14 on 30 Nov is in 1 recording: cam2.mp4 [00:14:00] (1 not on the clock, not asked: interview.mp4).")
    assert {c.video_id for c in a.citations} == {"cam2"} and ("cam2", "object:1") in {(c.video_id, c.event_id) for c in a.citations}
    assert "cam2.mp4 [00:14:03] (14:14:03, 30 Nov)" in a.text  # the truck, cited with its wall-clock time
    assert a.plan["clock"] == {"asked": "14:14 on 30 Nov", "videos": {"cam2": "what happened at 14:00?"}}
    truck = next(c for c in a.citations if c.event_id == "object:1")
    assert (truck.t_start, truck.wall_time) == (843.0, "2026-11-30T14:14:03")
    # the same moment an hour earlier is cam1's white car, not cam2's truck
    b = LibraryAsk(clock_graph, embed=bag_embed).ask("was there a white car at 1:14 pm on 30 November?", now=NOW)
    assert [(c.video_id, c.event_id) for c in b.citations] == [("cam1", "object:2")] and "cam1.mp4 [00:14:03] (13:14:03, 30 Nov)" in b.text


def test_a_wall_clock_range_and_a_day(clock_graph):
    ask = LibraryAsk(clock_graph, embed=bag_embed)
    a = ask.ask("when did the white van appear between 14:00 and 14:30?", now=NOW)
    assert [(c.video_id, c.event_id) for c in a.citations] == [("cam2", "object:1")]  # cam1's white car is at 13:14
    assert a.plan["clock"]["videos"] == {"cam2": "when did the white van appear between 0:00 and 30:00?"}
    dog = ask.ask("was there a dog yesterday?", now=NOW)
    assert [(c.video_id, c.event_id) for c in dog.citations] == [("cam1", "object:3")]  # the interview's dog is off the clock
    none = ask.ask("what happened at 9 am yesterday?", now=NOW)
    assert none.citations == [] and none.text == (
        "No recording covers 09:00 on 30 Nov: the videos on the clock are cam1.mp4 13:00–14:00 on 30 Nov, cam2.mp4 14:00–15:00 on 30 Nov."
    )
    other_day = ask.ask("what happened at 14:14 on 29 November?", now=NOW)
    assert other_day.citations == [] and other_day.text.startswith("No recording covers 14:14 on 29 Nov")


def test_without_a_clock_a_time_is_an_offset_as_before(graph, clock_graph):
    # no video on the clock: 14:03 is 14 min 3 s into each video, both white vehicles
    a = LibraryAsk(graph, embed=bag_embed).ask("what is seen at 14:03?", now=NOW)
    assert {c.video_id for c in a.citations} >= {"cam1", "cam2"} and "clock" not in a.plan and "(1" not in a.text
    # on the clock, a bare time no recording holds (0:40) still reads as an offset into each video
    b = LibraryAsk(clock_graph, embed=bag_embed).ask("who is seen at 2:10?", now=NOW)
    assert "clock" not in b.plan and ("cam1", "object:1") in {(c.video_id, c.event_id) for c in b.citations}


def test_search_with_a_wall_clock_time(clock_graph):
    found = search(clock_graph, "white 14:10-14:20", now=NOW)
    assert {(m.video_id, m.event_id) for m in found} == {("cam2", "object:1"), ("cam2", "scene:1")}  # not cam1's white car at 13:14
    truck = next(m for m in found if m.event_id == "object:1")
    assert truck.wall_time == "2026-11-30T14:14:03" and truck.cite == "cam2.mp4 [14:03] (14:14:03, 30 Nov)"
    at = search(clock_graph, "14:14 yesterday", now=NOW)  # a time alone: what is there then
    assert {(m.video_id, m.event_id) for m in at} == {("cam2", "object:1"), ("cam2", "text:1"), ("cam2", "scene:1")}
    assert {m.video_id for m in search(clock_graph, "car", now=NOW)} == {"cam1", "cam2"}  # no time: every video, wall times shown
    assert all(m.wall_time for m in search(clock_graph, "car", now=NOW))


DOG_RULES = """rules:
  - id: dog-seen
    severity: high
    when:
      presence: {object: dog}
    message: A dog at {time}
  - id: truck-seen
    severity: low
    when:
      presence: {object: truck}
    message: A truck at {time}
"""


def test_cli_rules_over_the_library_and_alerts_by_video(home):
    import duckdb

    from orchestrator.pipeline import database_path

    con = duckdb.connect(str(database_path(home)))
    _place(con)
    con.close()
    (home / "rules").mkdir()
    (home / "rules" / "animals.yaml").write_text(DOG_RULES)
    r = run_cli("rules", "run", "--library", "--home", str(home), "--json")
    assert r.returncode == 0, r.stderr
    groups = json.loads(r.stdout.strip().splitlines()[-1])
    assert [(g["video_name"], [a["label"] for a in g["alerts"]]) for g in groups] == [
        ("cam1.mp4", ["dog-seen"]),
        ("cam2.mp4", ["truck-seen"]),
        ("interview.mp4", []),
    ]  # in recording order, the one off the clock last
    assert groups[0]["alerts"][0]["wall_time"] == "2026-11-30T13:33:21" and groups[2]["recorded_at"] is None
    assert r.stderr.strip().endswith("2 alerts in 3 videos from 2 rules")
    listed = run_cli("alerts", "--home", str(home))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "cam1.mp4 (cam1, recorded 2026-11-30 13:00:00 UTC): 1 alert",
        "  [33:21] (13:33:21, 30 Nov) high     dog-seen: A dog at 33:21",
        "cam2.mp4 (cam2, recorded 2026-11-30 14:00:00 UTC): 1 alert",
        "  [14:03] (14:14:03, 30 Nov) low      truck-seen: A truck at 14:03",
    ]
    only = run_cli("alerts", "--home", str(home), "--videos", "interview.mp4", "--json")
    assert json.loads(only.stdout.strip().splitlines()[-1]) == [
        {"video_id": "int1", "video_name": "interview.mp4", "recorded_at": None, "status": "done", "alerts": []}
    ]
    bad = run_cli("rules", "run", "--home", str(home))
    assert bad.returncode == 2 and "needs a VIDEO_ID" in bad.stderr
    listed = run_cli("videos", "--home", str(home))
    assert "2026-11-30 14:00:00 (name)" in next(x for x in listed.stdout.splitlines() if x.endswith("cam2.mp4"))
