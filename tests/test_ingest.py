"""End-to-end ingest on a generated clip with exact ground truth and on real media, through the
real Triton, Redis and DuckDB: what was found, when, exactly once, and resumable after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import redis
from conftest import REPO, run_cli

from orchestrator.config import IngestConfig
from orchestrator.graph import EventGraph
from orchestrator.pipeline import Ingestor, database_path
from orchestrator.sound_vocabulary import accepted_names


def overlaps(event: dict, span: tuple[float, float], slack: float = 0.0) -> bool:
    return event["t_start"] <= span[1] + slack and event["t_end"] >= span[0] - slack


def _events(home, video_id):
    with EventGraph(database_path(home), read_only=True) as g:
        return g.events(video_id)


def _fingerprint(events: list[dict]) -> list[tuple]:
    return sorted((e["id"], e["kind"], e["label"], e["t_start"], e["t_end"], e["text"]) for e in events)


def test_person_is_tracked_once_while_visible(gt_ingested):
    summary, events, _, truth, _ = gt_ingested
    people = [e for e in events if e["kind"] == "object" and e["label"] == "person"]
    assert len({e["track_id"] for e in people}) == 1  # one person, one track
    assert min(e["t_start"] for e in people) <= truth.person[0] + 1.0
    assert max(e["t_end"] for e in people) >= truth.person[1] - 1.5
    assert all(overlaps(e, truth.person, 0.5) for e in people)
    moving = people[0]["attrs"]["end_center"][0] - people[0]["attrs"]["start_center"][0]
    assert moving > 0.3  # walked left to right


def test_speech_across_the_window_boundary_is_transcribed_once_with_word_times(gt_ingested):
    _, events, _, truth, _ = gt_ingested
    speech = [e for e in events if e["kind"] == "speech"]
    text = " ".join(e["text"] for e in speech).lower()
    assert "railway station" in text and text.count("station") == 1
    assert len(speech) == 1 and speech[0]["window_idx"] == 0  # starts at 18.5 s, crosses 20 s
    assert abs(speech[0]["t_start"] - truth.speech[0]) < 0.6 and abs(speech[0]["t_end"] - truth.speech[1]) < 0.8
    words = speech[0]["attrs"]["words"]
    assert words and all(truth.speech[0] - 0.6 <= w[0] <= truth.speech[1] + 0.6 for w in words)


def test_tone_and_scene_cut_found_at_their_times(gt_ingested):
    _, events, _, truth, _ = gt_ingested
    # a one-second 1 kHz sine: the signal calls it a tone, the AudioSet tagger a beep; both are names a person accepts
    tones = [e for e in events if e["kind"] == "sound" and "tone" in accepted_names(e["label"])]
    assert len(tones) == 1 and abs(tones[0]["t_start"] - truth.tone[0]) < 0.2 and abs(tones[0]["t_end"] - truth.tone[1]) < 0.2
    assert abs(tones[0]["attrs"]["frequency_hz"] - truth.tone_hz) < 20
    cuts = [e for e in events if e["kind"] == "scene_cut"]
    assert len(cuts) == 1 and abs(cuts[0]["t_start"] - truth.cut_at) < 0.3
    # nothing is heard in the silent stretches
    assert not [e for e in events if e["kind"] in ("speech", "sound") and overlaps(e, (5.0, 15.0))]


def test_graph_has_relations_frames_and_embeddings(gt_ingested):
    summary, events, _, truth, home = gt_ingested
    con = duckdb.connect(str(database_path(home)), read_only=True)
    try:
        kinds = dict(con.execute("SELECT kind, count(*) FROM relations WHERE video_id = ? GROUP BY kind", [summary.video_id]).fetchall())
        assert kinds.get("precedes", 0) >= 2
        reasons = dict(con.execute("SELECT reason, count(*) FROM frames WHERE video_id = ? GROUP BY reason", [summary.video_id]).fetchall())
        assert reasons["first"] == 1 and reasons["heartbeat"] >= 5 and reasons["motion"] >= 5 and reasons["scene_cut"] == 1
        n_emb = con.execute("SELECT count(*) FROM embeddings WHERE video_id = ?", [summary.video_id]).fetchone()[0]
        assert n_emb == len([e for e in events if e["kind"] != "alert"])  # scenes too: they feed retrieval
        # the speech event is the closest to a question about it
        top = con.execute(
            """SELECT e.kind FROM embeddings m JOIN events e ON e.video_id = m.video_id AND e.id = m.event_id
               WHERE m.video_id = ? ORDER BY array_cosine_similarity(m.vec, (SELECT vec FROM embeddings WHERE video_id = ?
               AND event_id = (SELECT id FROM events WHERE video_id = ? AND kind = 'speech'))) DESC LIMIT 1""",
            [summary.video_id, summary.video_id, summary.video_id],
        ).fetchone()[0]
        assert top == "speech"
        windows = con.execute("SELECT idx, status FROM windows WHERE video_id = ? ORDER BY idx", [summary.video_id]).fetchall()
        assert windows == [(0, "done"), (1, "done")]
    finally:
        con.close()


def test_progress_published_per_window_on_redis(gt_ingested):
    summary, _, messages, _, _ = gt_ingested
    mine = [m for m in messages if m["video_id"] == summary.video_id]
    running = [m for m in mine if m["status"] == "running"]
    assert [m["window"] for m in running] == [0, 1]
    assert all(m["v"] == 1 and m["windows"] == 2 for m in mine)
    assert mine[-1]["status"] == "done"


def test_reingest_is_a_no_op(gt_ingested, gt_clip, services):
    summary, events, _, _, home = gt_ingested
    again = Ingestor(home, services).ingest(gt_clip[0])
    assert again.video_id == summary.video_id
    assert again.windows_resumed == again.windows == 2
    assert _fingerprint(_events(home, summary.video_id)) == _fingerprint(events)


def test_sigkill_mid_ingest_then_resume_gives_the_uninterrupted_graph(gt_clip, cli_env, tmp_path, services):
    """Kill the CLI with SIGKILL after two windows, run it again: same events as a run never killed."""
    path, _ = gt_clip
    reference_home = tmp_path / "reference"
    ref = Ingestor(reference_home, services, IngestConfig(window_s=5.0)).ingest(path)
    assert ref.windows == 8

    sub = redis.Redis.from_url(cli_env["REDIS_URL"]).pubsub()
    sub.subscribe(f"progress:{ref.video_id}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "ingest", str(path), "--window-s", "5", "--quiet", "--json"],
        cwd=REPO,
        env={**os.environ, **cli_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    done = 0
    while done < 2 and time.monotonic() < deadline:
        m = sub.get_message(timeout=1)
        if m and m["type"] == "message":
            done = json.loads(m["data"]).get("done", 0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    sub.close()
    assert 2 <= done < 8, "the kill should land mid-ingest"

    result = run_cli("ingest", str(path), "--window-s", "5", "--quiet", "--json", env_extra=cli_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["windows_resumed"] >= 2 and summary["windows"] == 8
    home = cli_env["VDET_HOME"]
    assert _fingerprint(_events(home, ref.video_id)) == _fingerprint(_events(reference_home, ref.video_id))


def test_cli_ingest_and_events_json_shape(media_dir, cli_env):
    result = run_cli("ingest", str(media_dir / "bigbuckbunny.mp4"), "--json", "--quiet", env_extra=cli_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"video_id", "duration_s", "windows", "events", "wall_s"} <= summary.keys()
    assert summary["windows"] == 1 and abs(summary["duration_s"] - 5.3) < 0.1
    listed = run_cli("events", summary["video_id"], "--json", env_extra=cli_env)
    assert listed.returncode == 0, listed.stderr
    events = json.loads(listed.stdout.strip().splitlines()[-1])
    assert len(events) == summary["events"]
    for e in events:
        assert {"id", "kind", "label", "t_start", "t_end", "confidence", "text"} <= e.keys()
        assert 0 <= e["t_start"] <= e["t_end"] <= summary["duration_s"] + 0.01
    only_objects = json.loads(run_cli("events", summary["video_id"], "--kind", "object", "--json", env_extra=cli_env).stdout.splitlines()[-1])
    assert all(e["kind"] == "object" for e in only_objects)


def test_real_street_video_finds_cars_and_people(media_dir, services, tmp_path):
    summary = Ingestor(tmp_path, services).ingest(media_dir / "bikes.mp4")
    labels = {e["label"] for e in _events(tmp_path, summary.video_id) if e["kind"] == "object"}
    assert "car" in labels
    assert summary.frames_kept < summary.frames_scanned


def test_a_person_hidden_longer_than_the_tracker_buffer_is_linked_as_the_same_entity(media_dir, services, tmp_path):
    """Occluded for 6 s (the tracker lets go after 4 s): two tracks, one same_entity relation between them."""
    from conftest import ZIDANE_PERSON_BOX
    from media_factory import make_ground_truth_clip

    clip = tmp_path / "occluded.mp4"
    make_ground_truth_clip(
        clip,
        media_dir / "zidane.jpg",
        ZIDANE_PERSON_BOX,
        tmp_path,
        duration_s=24.0,
        person=(2.0, 16.0),
        person_x=0.4,
        person_hidden=(6.0, 12.0),
        speech_at=20.0,
        speech_text="Okay.",
        tone=(22.0, 22.5),
        cut_at=100.0,
    )
    summary = Ingestor(tmp_path / "home", services).ingest(clip)
    events = _events(tmp_path / "home", summary.video_id)
    people = [e for e in events if e["kind"] == "object" and e["label"] == "person"]
    assert len({e["track_id"] for e in people}) == 2
    with EventGraph(database_path(tmp_path / "home"), read_only=True) as g:
        rels = g.con.execute("SELECT src, dst FROM relations WHERE video_id = ? AND kind = 'same_entity'", [summary.video_id]).fetchall()
    assert len(rels) == 1
    before, after = (next(e for e in people if e["id"] == x) for x in rels[0])
    assert before["t_end"] <= 6.5 and after["t_start"] >= 11.5
    scenes = [e for e in events if e["kind"] == "scene"]
    assert len(scenes) == 1 and "1 person" not in scenes[0]["text"] and "2 people" in scenes[0]["text"]


def test_checkpoint_from_an_older_version_is_ingested_again_not_marked_failed(gt_ingested, gt_clip, services, tmp_path):
    import pickle
    import shutil
    from types import SimpleNamespace

    summary, events, _, _, home = gt_ingested
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    old_state = pickle.dumps(SimpleNamespace(version=1))  # what an earlier version saved: not today's PipelineState
    with EventGraph(database_path(copy)) as g:
        g.con.execute("UPDATE windows SET state = ? WHERE video_id = ?", [old_state, summary.video_id])
    finished = Ingestor(copy, services).ingest(gt_clip[0])  # finished: nothing to continue, nothing to redo
    assert (finished.windows_resumed, finished.status) == (2, "done")
    with EventGraph(database_path(copy)) as g:
        g.con.execute("UPDATE windows SET status = 'pending' WHERE video_id = ? AND idx = 1", [summary.video_id])
        g.con.execute("UPDATE videos SET status = 'ingesting' WHERE video_id = ?", [summary.video_id])
    again = Ingestor(copy, services).ingest(gt_clip[0])  # half done by an older version: started over, same graph
    assert (again.windows_resumed, again.status) == (0, "done")
    assert _fingerprint(_events(copy, summary.video_id)) == _fingerprint(events)
