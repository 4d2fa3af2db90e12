"""The library's clock (orchestrator/clock.py): a recording's start from its container's creation_time (clips made
with ffmpeg) or its file name, wall-clock times read out of questions against a given ``now``, the recordings that
hold them and the offsets inside each; and the videos table's recorded_at on a home written before it existed."""

from __future__ import annotations

import subprocess
from dataclasses import asdict
from datetime import date, datetime, time

import duckdb
import pytest

from orchestrator.clock import (
    ClockError,
    Recording,
    cover,
    find_wall_time,
    metadata_recorded_at,
    name_recorded_at,
    names_a_recorded_moment,
    parse_recorded_at,
    recording_start,
    rewrite,
    wall_label,
)
from orchestrator.graph import EventGraph
from orchestrator.media import probe

NOW = datetime(2026, 12, 1, 9, 30)  # a Tuesday
CAM1 = Recording("c1", "cam1.mp4", datetime(2026, 11, 30, 13, 0), 3600.0)
CAM2 = Recording("c2", "cam2.mp4", datetime(2026, 11, 30, 14, 0), 3600.0)


def _clip(path, *metadata: str) -> None:
    args = [a for m in metadata for a in ("-metadata", m)]
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", *args, "-c:v", "mpeg4", str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("cam2_2026-11-30_14-00-00.mp4", datetime(2026, 11, 30, 14, 0, 0)),
        ("20261130_140000.mp4", datetime(2026, 11, 30, 14, 0, 0)),
        ("VID_20261130_140510.mp4", datetime(2026, 11, 30, 14, 5, 10)),
        ("PXL_20261130_140000123.mp4", datetime(2026, 11, 30, 14, 0, 0)),
        ("Screen Recording 2026-11-30 at 14.05.00.mov", datetime(2026, 11, 30, 14, 5, 0)),
        ("front door 2026-11-30T22:15:00.mkv", datetime(2026, 11, 30, 22, 15, 0)),
        ("cam2.mp4", None),
        ("report_2026-11-30.mp4", None),  # a day without a time of day places nothing
        ("20261399_250000.mp4", None),  # digits, not a date
        ("match_3_2026.mp4", None),
    ],
)
def test_recording_start_from_the_file_name(name, expected):
    assert name_recorded_at(name) == expected


def test_recording_start_from_the_container_metadata(tmp_path):
    tagged = tmp_path / "20261201_090000.mp4"  # its name says otherwise: the metadata wins
    _clip(tagged, "creation_time=2026-11-30T14:00:00.000000Z")
    assert metadata_recorded_at(tagged) == datetime(2026, 11, 30, 14, 0)
    assert recording_start(tagged) == (datetime(2026, 11, 30, 14, 0), "metadata")
    plain = tmp_path / "plain.mp4"
    _clip(plain)
    assert metadata_recorded_at(plain) is None
    assert recording_start(plain) == (None, None)
    assert recording_start(plain, "cam2_2026-11-30_14-10-00.mp4") == (datetime(2026, 11, 30, 14, 10), "name")  # an upload's own name
    zero = tmp_path / "zero.mp4"
    _clip(zero, "creation_time=1970-01-01T00:00:00Z")  # what some muxers write for "never set"
    assert metadata_recorded_at(zero) is None
    assert metadata_recorded_at(tmp_path / "missing.mp4") is None


def test_given_recording_start_reads_iso_and_refuses_the_rest():
    assert parse_recorded_at("2026-11-30T14:00:00Z") == datetime(2026, 11, 30, 14, 0)
    assert parse_recorded_at("2026-11-30 15:00:00+01:00") == datetime(2026, 11, 30, 14, 0)  # stored as UTC
    assert parse_recorded_at("2026-11-30T14:00") == datetime(2026, 11, 30, 14, 0)
    with pytest.raises(ClockError, match="ISO date and time"):
        parse_recorded_at("yesterday at two")
    with pytest.raises(ClockError, match="needs the time of day"):
        parse_recorded_at("2026-11-30")


@pytest.mark.parametrize(
    "question, day, start, end, side, explicit",
    [
        ("what happened at 14:05 yesterday?", date(2026, 11, 30), time(14, 5), time(14, 5), "at", True),
        ("what happened at 2:05 pm on 30 November?", date(2026, 11, 30), time(14, 5), time(14, 5), "at", True),
        ("was there a van between 14:00 and 14:10", None, time(14, 0), time(14, 10), "between", False),
        ("anyone at the door between 2 and 3 pm on Monday?", date(2026, 11, 30), time(14, 0), time(15, 0), "between", True),
        ("from 11 to 1 pm", None, time(11, 0), time(13, 0), "between", True),
        ("cars 14:00-14:10 on 2026-11-29", date(2026, 11, 29), time(14, 0), time(14, 10), "between", True),
        ("who came after 14:30 on the 30th of November?", date(2026, 11, 30), time(14, 30), time(23, 59, 59), "after", True),
        ("what happened around noon today", date(2026, 12, 1), time(12, 0), time(12, 0), "around", True),
        ("what happened yesterday?", date(2026, 11, 30), time(0, 0), time(0, 0), "day", True),
        ("what did the dog do at 3 o'clock", None, time(3, 0), time(3, 0), "at", True),
    ],
)
def test_wall_clock_times_in_questions(question, day, start, end, side, explicit):
    w = find_wall_time(question, NOW)
    assert (w.day, w.start, w.end, w.side, w.explicit) == (day, start, end, side, explicit)


def test_questions_without_a_wall_clock_time():
    assert find_wall_time("is there a white van?", NOW) is None
    assert find_wall_time("what did she say about yesterday?", NOW) is None  # a topic, not a time
    assert find_wall_time("what happens 90 seconds in?", NOW) is None


def test_the_recordings_that_hold_a_time_and_the_offset_inside_each():
    at = find_wall_time("what happened at 14:05 yesterday?", NOW)
    (c,) = cover(at, [CAM1, CAM2])
    assert (c.recording.name, c.lo_s, c.hi_s) == ("cam2.mp4", 300.0, 300.0)
    assert rewrite(at, c) == "what happened at 5:00?"
    assert wall_label(c.wall_lo) == "14:05:00, 30 Nov"
    # a range over the cut between two recordings: the end of one and the start of the next
    both = find_wall_time("was there a van between 13:50 and 14:10?", NOW)
    got = [(c.recording.name, c.lo_s, c.hi_s, rewrite(both, c)) for c in cover(both, [CAM2, CAM1])]
    assert got == [
        ("cam1.mp4", 3000.0, 3600.0, "was there a van between 50:00 and 1:00:00?"),
        ("cam2.mp4", 0.0, 600.0, "was there a van between 0:00 and 10:00?"),
    ]
    # the whole recording inside the range: no time left to ask about in it
    assert [rewrite(w, c) for w in [find_wall_time("any dogs between 12:00 and 16:00?", NOW)] for c in cover(w, [CAM1])] == ["any dogs?"]
    assert cover(find_wall_time("what happened at 9 am yesterday?", NOW), [CAM1, CAM2]) == []
    assert cover(find_wall_time("what happened at 14:05 on 29 November?", NOW), [CAM1, CAM2]) == []  # right time, wrong day
    night = Recording("n", "night.mp4", datetime(2026, 11, 30, 23, 30), 3600.0)
    (c,) = cover(find_wall_time("between 23:50 and 00:10", NOW), [night])  # past midnight
    assert (c.lo_s, c.hi_s) == (1200.0, 2400.0)


def test_a_bare_time_no_recording_holds_keeps_meaning_an_offset():
    assert names_a_recorded_moment(find_wall_time("what happened at 14:05?", NOW), [CAM1, CAM2])
    assert not names_a_recorded_moment(find_wall_time("what happened at 1:30?", NOW), [CAM1, CAM2])  # 1 min 30 s into a video
    assert not names_a_recorded_moment(find_wall_time("anything after 0:30?", NOW), [CAM1, CAM2])


OLD_VIDEOS = """CREATE TABLE videos (
    video_id VARCHAR PRIMARY KEY, name VARCHAR, path VARCHAR, sha256 VARCHAR, size_bytes BIGINT,
    duration_s DOUBLE, width INTEGER, height INTEGER, fps DOUBLE, has_video BOOLEAN, has_audio BOOLEAN,
    info JSON, window_s DOUBLE, n_windows INTEGER, status VARCHAR, error VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp, updated_at TIMESTAMP DEFAULT current_timestamp)"""


def test_a_home_from_before_the_clock_keeps_working(tmp_path):
    db = tmp_path / "events.duckdb"
    con = duckdb.connect(str(db))
    con.execute(OLD_VIDEOS)
    con.execute("CREATE TABLE windows (video_id VARCHAR, idx INTEGER, t_start DOUBLE, t_end DOUBLE, status VARCHAR, PRIMARY KEY (video_id, idx))")
    con.execute(
        "INSERT INTO videos (video_id, name, path, duration_s, n_windows, status, window_s) VALUES ('old1', 'old.mp4', '/x/old.mp4', 60, 3, 'done', 20)"
    )
    con.close()
    with EventGraph(db, read_only=True) as g:  # read-only (search, ask): the schema is not touched, the clock reads as unknown
        assert [(r["video_id"], r["recorded_at"]) for r in g.select_videos()] == [("old1", None)]
        assert g.videos()[0]["recorded_at"] is None
    clip = tmp_path / "cam2_2026-11-30_14-00-00.mp4"
    _clip(clip)
    with EventGraph(db) as g:  # opened for writing: the columns are added, the old row kept
        assert g.video("old1")["recorded_at"] is None and g.video("old1")["name"] == "old.mp4"
        g.upsert_video("new1", clip.name, str(clip), "0" * 64, asdict(probe(clip)), 20.0, 1)
        assert (g.video("new1")["recorded_at"], g.video("new1")["recorded_from"]) == (datetime(2026, 11, 30, 14, 0), "name")
        assert (g.video_at_path(str(clip)), g.video_at_path(str(tmp_path / "other.mp4"))) == ("new1", None)
        g.set_recorded_at("new1", datetime(2026, 11, 30, 8, 0))
        g.upsert_video("new1", clip.name, str(clip), "0" * 64, asdict(probe(clip)), 20.0, 1)  # a resumed ingest keeps what was given
        assert (g.video("new1")["recorded_at"], g.video("new1")["recorded_from"]) == (datetime(2026, 11, 30, 8, 0), "given")
        g.set_recorded_at("new1", None)  # found again from the file
        assert g.video("new1")["recorded_from"] == "name"
