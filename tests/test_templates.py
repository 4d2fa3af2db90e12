"""The analysis templates read like reports: a summary at the top, each finding once (repeats merged into one line
with its time range or times), only real hazards as hazard sounds, an honest "nothing found" for an empty
section, and every [mm:ss] a citation of a real event. On event graphs written directly (no models)."""

from __future__ import annotations

import re

import duckdb
import pytest
from synthetic_graph import CLIP_DURATION, CLIP_EVENTS, add_video

from orchestrator.answer import CITE_RE, citations_for
from orchestrator.graph import SCHEMA
from orchestrator.retrieval import RetrievalResult, plan_question
from orchestrator.templates import HAZARD_SOUNDS, Templates

# a yard: a person walks by a truck at 00:19 (two people, the truck and one person each in two window segments, so
# six person/truck pairs in view together), someone shouts a warning (its onset once tagged as a "loud onset", a
# "human voice" tag over it), small talk, a test tone, a siren in two bursts, a scene cut with its motion spike,
# and one real sudden motion
YARD_EVENTS = [
    ("object:p1a", "object", "person", 19.2, 20.0, "", 1, None),
    ("object:p1b", "object", "person", 20.0, 31.0, "", 1, None),
    ("object:p2", "object", "person", 19.4, 25.0, "", 2, None),
    ("object:t1a", "object", "truck", 19.0, 20.0, "", 3, None),
    ("object:t1b", "object", "truck", 20.0, 31.5, "", 3, None),
    ("motion:cut", "motion", "motion spike", 25.0, 25.25, "", None, None),
    ("cut:1", "scene_cut", "scene cut", 25.0, 25.0, "", None, None),
    ("speech:1", "speech", "speech", 40.0, 43.0, "Watch out, the truck is reversing!", None, None),
    ("sound:onset1", "sound", "loud onset", 40.0, 40.3, "", None, None),
    ("sound:voice", "sound", "human voice", 40.1, 42.0, "", None, None),
    ("motion:1", "motion", "motion spike", 45.0, 45.2, "", None, None),
    ("speech:2", "speech", "speech", 50.0, 53.0, "See you at lunch.", None, None),
    ("sound:onset2", "sound", "loud onset", 50.0, 50.2, "", None, None),
    ("sound:tone", "sound", "tone", 55.0, 56.0, "", None, None),
    ("sound:siren1", "sound", "siren", 60.0, 64.0, "", None, None),
    ("sound:siren2", "sound", "siren", 64.5, 70.0, "", None, None),
]


def _graph(videos: list[tuple[str, float, list]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(SCHEMA)
    for vid, duration, events in videos:
        add_video(con, vid, duration, events, embed=None)
    return con


@pytest.fixture(scope="module")
def templates():
    return Templates(_graph([("yard", 80.0, YARD_EVENTS), ("clip", CLIP_DURATION, CLIP_EVENTS), ("empty", 30.0, [])]))


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for block in text.split("\n\n")[1:]:
        heading, *lines = block.strip().split("\n")
        out[heading.strip("*")] = [line[2:] for line in lines]
    return out


def _citations(report, text):
    retrieval = RetrievalResult("v", "v.mp4", 80.0, plan_question("summary", 0.0), report.evidence, {}, {}, 0, None, 1, 1, [])
    return citations_for(text, retrieval)


def test_safety_lists_each_finding_once_with_its_time_range(templates):
    report = templates.build("safety", "yard")
    text = report.render()
    sections = _sections(text)
    assert list(sections)[0] == "Summary"
    assert sections["People near vehicles"] == ["a person and a truck in view together from [00:19] to [00:31] (6 sightings)"]
    assert text.count("in view together") == 1
    assert sections["Hazard sounds"] == ["siren from [01:00] to [01:10] (2 bursts)"]
    assert sections["Safety-related speech"] == ['"Watch out, the truck is reversing!" at [00:40]']
    assert sections["Sudden motion"] == ["sudden motion at [00:45]"]  # the spike at the cut is the cut
    assert sections["Alerts"] == ["No alerts."]
    summary = " ".join(sections["Summary"])
    assert "2 hazard sounds" in summary and "1 safety-related spoken line" in summary and "the first at 00:19" in summary


def test_speech_onsets_tones_and_voices_are_not_hazard_sounds(templates):
    hazards = _sections(templates.build("safety", "yard").render())["Hazard sounds"]
    for label in ("loud onset", "tone", "human voice", "speech"):
        assert not any(label in line for line in hazards), hazards
    heard = _sections(templates.build("comprehensive", "yard").render())["What is heard"]  # nor sounds heard apart from the speech
    assert heard == ["tone at [00:55]", "siren from [01:00] to [01:10] (2 bursts)"], heard
    assert "loud onset" not in HAZARD_SOUNDS and "tone" not in HAZARD_SOUNDS and {"alarm", "siren", "glass breaking", "gunshot"} <= set(HAZARD_SOUNDS)


@pytest.mark.parametrize("name", Templates.NAMES)
def test_every_report_has_a_summary_no_repeated_line_and_real_citations(templates, name):
    for vid in ("yard", "clip"):
        report = templates.build(name, vid)
        text = report.render()
        sections = _sections(text)
        assert list(sections)[0] == "Summary" and sections["Summary"] and all(sections.values()), text
        lines = [line for ls in sections.values() for line in ls]
        assert len(lines) == len(set(lines)), text
        for ls in sections.values():  # one finding, one line: no two lines of a section say the same thing at different times
            bare = [re.sub(r"\[[\d:]+\]", "", line) for line in ls]
            assert len(bare) == len(set(bare)), ls
        cites = _citations(report, text)
        ids = {row[0] for row in templates.graph.con.execute("SELECT id FROM events WHERE video_id = ?", [vid]).fetchall()}
        assert cites and {c.event_id for c in cites} <= ids, text
        times = {m.group(0) for m in CITE_RE.finditer(text)}
        assert len(times) <= len(cites), (sorted(times), cites)  # every time written links to an event


@pytest.mark.parametrize("name", Templates.NAMES)
def test_an_empty_video_gets_an_honest_nothing_found(templates, name):
    sections = _sections(templates.build(name, "empty").render())
    assert sections["Summary"] and all(sections.values())
    body = " ".join(line for ls in sections.values() for line in ls)
    assert re.search(r"\bNo\b|\bnothing\b|Nothing", body) and not CITE_RE.search(body)


def test_comprehensive_summary_counts_what_is_seen_said_heard_and_written(templates):
    sections = _sections(templates.build("comprehensive", "clip").render())
    summary = "\n".join(sections["Summary"])
    assert "2 scenes" in summary and "2 people (the first [00:04])" in summary and "2 cars" in summary
    assert "4 spoken lines" in summary and "the first [00:18]" in summary
    assert sections["What is written"] == ['"EXIT" at [00:40]']
    assert sections["What is heard"] == ["ringing at [00:33]", "alarm at [01:00]"]
