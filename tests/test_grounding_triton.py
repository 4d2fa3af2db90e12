"""Grounding through the real Triton serving a small random Grounding DINO (scripts/make_grounder.py): the model's
boxes and errors, then the `ground` command on a real ingested clip: the events it writes, a re-run replacing them,
the safety watch list over suspicious spans, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_script

from orchestrator import grounding
from orchestrator.events import Event
from orchestrator.graph import EventGraph

REPO = Path(__file__).resolve().parent.parent


GROUNDER_SIZE = 160  # the random model's image size: small enough for 2 loaded cores


@pytest.fixture(scope="module")
def grounder_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("grounder")
    run_script("make_grounder.py", "--random-small", "--size", str(GROUNDER_SIZE), "--out", str(out))
    return out


@pytest.fixture(scope="module")
def grounder_triton(grounder_dir):
    """Triton serving the grounder (random small, from VDET_GROUNDER_PATH) and the embedder."""
    from orchestrator.triton_server import TritonServer

    mp = pytest.MonkeyPatch()
    mp.setenv(grounding.WEIGHTS_ENV, str(grounder_dir))
    try:
        server = TritonServer.start(models=("grounder", "embedder"))
    finally:
        mp.undo()
    assert server.models == ("grounder", "embedder")
    yield server
    server.stop()


@pytest.mark.slow
def test_grounder_serves_boxes_named_by_the_prompt(grounder_triton, media_dir):
    import cv2

    from orchestrator.model_clients import ModelError, TritonModels

    bus = cv2.cvtColor(cv2.imread(str(media_dir / "bus.jpg")), cv2.COLOR_BGR2RGB)
    client = TritonModels(grounder_triton.http_url, retries=0)
    try:
        found = grounding.ground_frame(client, bus, "forklift. ladder. open boot.", threshold=0.0)
        again = grounding.ground_frame(client, bus, "forklift. ladder. open boot.", threshold=0.0)
        none = grounding.ground_frame(client, bus, "forklift.", threshold=1.01)
        with pytest.raises(ModelError, match="names nothing to look for"):
            grounding.ground_frame(client, bus, " . ")
    finally:
        client.close()
    n = len(found.phrases)
    assert 0 < n <= 50 and set(found.phrases) <= {"forklift", "ladder", "open boot"}
    assert np.all((found.boxes >= 0) & (found.boxes <= 1)) and np.all(found.boxes[:, :2] < found.boxes[:, 2:])
    assert np.all(np.diff(found.scores) <= 0), "best first"
    np.testing.assert_allclose(found.boxes, again.boxes, atol=1e-5)  # a seeded model in eval mode: the same answer twice
    assert len(none.phrases) == 0


def cli(*args: str, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    import os

    full = {**os.environ, **env}
    for name in [k for k, v in env.items() if v is None]:
        full.pop(name, None)
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=REPO, env=full, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def yard_home(gt_ingested, tmp_path_factory):
    """A home of its own holding a copy of the session's ingested ground-truth clip (its kept frames, its events)."""
    import shutil

    summary, _, _, _, home = gt_ingested
    own = tmp_path_factory.mktemp("ground-home")
    shutil.copyfile(home / "events.duckdb", own / "events.duckdb")
    return own, summary.video_id


@pytest.mark.slow
def test_cli_ground_writes_events_and_a_rerun_replaces_them(grounder_triton, yard_home):
    home, video_id = yard_home
    env = {"TRITON_URL": grounder_triton.http_url, "VDET_HOME": str(home)}
    t0 = time.monotonic()
    proc = cli("ground", video_id, "Forklift", "ladder", "--span", "2-5", "--threshold", "0.5", "--json", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\ngrounded {run['frames']} frames: {run['s_per_frame']} s a frame in the grounder, {time.monotonic() - t0:.1f} s for the command")
    assert run["prompt"] == "forklift. ladder." and run["spans"] == [[2.0, 5.0]]
    assert 3 <= run["frames"] <= 4, "about one frame a second of the span"
    assert run["events"], "the random model scores boxes above 0.5"
    with EventGraph(home / "events.duckdb", read_only=True) as g:
        stored = [e for e in g.read_events(video_id, "object") if e.attrs.get("source") == "grounding"]
        n_vec = g.con.execute("SELECT count(*) FROM embeddings WHERE video_id = ? AND event_id LIKE 'ground-%'", [video_id]).fetchall()[0][0]
    assert len(stored) == len(run["events"]) == n_vec
    for e in stored:
        assert e.label in ("forklift", "ladder") and e.attrs["prompt"] == "forklift. ladder." and e.attrs["span"] == [2.0, 5.0]
        assert 2.0 <= e.t_start <= e.t_end <= 5.0 and e.window_index == -1 and len(e.attrs["box"]) == 4

    other = cli("ground", video_id, "knife", "--span", "6-7", "--threshold", "0.5", "--json", env=env)
    assert other.returncode == 0, other.stderr[-2000:]
    again = cli("ground", video_id, "ladder", "forklift", "--span", "8-10", "--threshold", "0.5", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "frames grounded" in again.stderr
    with EventGraph(home / "events.duckdb", read_only=True) as g:
        stored = [e for e in g.read_events(video_id, "object") if e.attrs.get("source") == "grounding"]
    spans = {(e.attrs["prompt"], tuple(e.attrs["span"])) for e in stored}
    assert spans == {("forklift. ladder.", (8.0, 10.0)), ("knife.", (6.0, 7.0))}, "the same things in another order: the same prompt, replaced"


@pytest.mark.slow
def test_cli_ground_watch_list_over_suspicious_spans(grounder_triton, yard_home, monkeypatch):
    from orchestrator.templates import Templates

    home, video_id = yard_home
    with EventGraph(home / "events.duckdb") as g:
        alert = Event(
            "alert-test-1", "alert", "gate", 12.0, 12.0, 1.0, text="the gate opened", attrs={"rule": "gate", "severity": "high", "condition": "presence"}
        )
        g.replace_alerts(video_id, [alert], [])
    env = {"TRITON_URL": grounder_triton.http_url, "VDET_HOME": str(home), "VDET_WATCH_SAFETY": "ladder. smoke."}
    proc = cli("ground", video_id, "--watch", "safety", "--threshold", "0.5", "--json", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads(proc.stdout.strip().splitlines()[-1])
    assert run["prompt"] == "ladder. smoke."
    assert [10.0, 14.0] in run["spans"] or any(a <= 10.0 and b >= 14.0 for a, b in run["spans"]), run["spans"]
    assert run["events"]
    monkeypatch.setenv("VDET_WATCH_SAFETY", "ladder. smoke.")
    with EventGraph(home / "events.duckdb", read_only=True) as g:
        text = Templates(g).build("safety", video_id).render()
    assert "**Watch list**" in text and ("a ladder" in text or "a smoke" in text)


@pytest.mark.slow
def test_cli_ground_bad_input_is_one_line(grounder_triton, triton, yard_home, tmp_path, monkeypatch, capsys):
    from orchestrator.__main__ import main

    home, video_id = yard_home
    env = {"TRITON_URL": grounder_triton.http_url, "VDET_HOME": str(home)}
    # refused before any model is asked: in this process (the same main() the command runs)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    quick = [
        (("ground", video_id, "forklift", "--span", "40-10"), "START must be at least 0 and before END"),
        (("ground", video_id, "forklift", "--span", "soon"), "--span takes START-END"),
        (("ground", video_id, "forklift", "--span", "500-600"), "starts after the video ends"),
        (("ground", video_id, " . "), "name at least one thing to look for"),
        (("ground", video_id, "forklift", "--threshold", "3"), "--threshold is a box score between 0 and 1"),
    ]
    for args, message in quick:
        assert main(list(args)) == 2, args
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, lines)
    # the command itself, in its own process
    cases = [
        (("ground", "nope", "forklift"), env, "unknown video id 'nope'"),
        # a Triton without the grounder (the session's default models: no grounder weights installed)
        (("ground", video_id, "forklift"), {**env, "TRITON_URL": triton.http_url}, f"Triton at {triton.http_url} does not serve the grounder"),
        # no Triton given and no weights: said before any server starts
        (("ground", video_id, "forklift"), {**env, "TRITON_URL": None, grounding.WEIGHTS_ENV: str(tmp_path / "none")}, "the grounder is not served"),
    ]
    for args, case_env, message in cases:
        proc = cli(*args, env=case_env, timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, (args, proc.stderr[-1500:])
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, proc.stderr[-1500:])
        assert "Traceback" not in proc.stderr
