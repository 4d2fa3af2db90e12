"""Window analysis as Ray tasks on a real local Ray cluster: the same graph as the local executor, and a worker
killed mid-ingest loses no window (Ray re-runs the task; the driver writes each window once, in order)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator.config import IngestConfig
from orchestrator.graph import EventGraph
from orchestrator.pipeline import Ingestor, database_path

pytest.importorskip("ray")

WINDOW_S = 5.0  # the ground-truth clip in 8 windows: several in flight at once
TASK_TITLE = "ray::_analyse_on_node"  # Ray names a worker process after the task it is running


def _graph(home: Path, video_id: str) -> dict:
    with EventGraph(database_path(home), read_only=True) as g:
        events = sorted((e["id"], e["kind"], e["label"], e["t_start"], e["t_end"], e["text"], e["track_id"]) for e in g.events(video_id))
        relations = g.con.execute("SELECT src, dst, kind FROM relations WHERE video_id = ? ORDER BY ALL", [video_id]).fetchall()
        windows = g.con.execute("SELECT idx, status, frames_scanned, frames_kept FROM windows WHERE video_id = ? ORDER BY idx", [video_id]).fetchall()
    return {"events": events, "relations": relations, "windows": windows}


@pytest.fixture(scope="module")
def ray_executor():
    """A private Ray on this machine (2 CPUs, no dashboard, small object store), shared by this module's tests."""
    from orchestrator.executors import RayExecutor

    saved = os.environ.pop("RAY_ADDRESS", None)  # never join someone else's cluster from the tests
    executor = RayExecutor(task_retries=3)
    yield executor
    executor.close()
    if saved is not None:
        os.environ["RAY_ADDRESS"] = saved


@pytest.fixture(scope="module")
def local_reference(gt_clip, triton, redis_server, tmp_path_factory):
    """The ground-truth clip ingested with the local executor: the graph the Ray runs must reproduce."""
    from orchestrator.pipeline import Services

    home = tmp_path_factory.mktemp("local")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRITON_URL", triton.http_url)
    mp.setenv("REDIS_URL", redis_server.url)
    try:
        with Services() as services:
            summary = Ingestor(home, services, IngestConfig(window_s=WINDOW_S), rules=[]).ingest(gt_clip[0])
    finally:
        mp.undo()
    assert summary.executor == "local"
    return summary, _graph(home, summary.video_id)


def test_importing_the_core_does_not_load_ray():
    import subprocess

    code = "import sys, orchestrator.pipeline, orchestrator.executors; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_ray_executor_gives_the_same_graph_as_the_local_one(gt_clip, services, ray_executor, local_reference, tmp_path):
    reference_summary, reference = local_reference
    summary = Ingestor(tmp_path, services, IngestConfig(window_s=WINDOW_S, executor="ray"), rules=[], executor=ray_executor).ingest(gt_clip[0])
    assert summary.executor == "ray" and summary.video_id == reference_summary.video_id
    got = _graph(tmp_path, summary.video_id)
    assert got["events"] == reference["events"]
    assert got["relations"] == reference["relations"]
    assert got["windows"] == reference["windows"]
    kinds = {e[1] for e in got["events"]}
    assert {"object", "speech", "sound", "scene_cut"} <= kinds  # the comparison covers every lane


def _task_pids() -> list[int]:
    """Processes whose title says they are running a window-analysis task right now."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                title = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if title.startswith(TASK_TITLE):
            pids.append(int(entry))
    return pids


def test_a_worker_killed_mid_ingest_loses_no_window(gt_clip, services, ray_executor, local_reference, tmp_path):
    """SIGKILL the worker running a window task after the first window is written: the ingest finishes and the
    graph equals the reference, every window written exactly once."""
    _, reference = local_reference
    first_window_written = threading.Event()
    killed: list[tuple[int, int]] = []  # (pid, windows written when it was killed)
    progress: list[dict] = []
    stop = threading.Event()

    def on_progress(message: dict) -> None:
        progress.append(message)
        first_window_written.set()

    def killer() -> None:
        first_window_written.wait(timeout=300)
        while not stop.is_set() and not killed:
            for pid in _task_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append((pid, len(progress)))
                    return
                except ProcessLookupError:
                    continue
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        summary = Ingestor(tmp_path, services, IngestConfig(window_s=WINDOW_S, executor="ray"), rules=[], executor=ray_executor).ingest(
            gt_clip[0], on_progress=on_progress
        )
    finally:
        stop.set()
        thread.join(timeout=10)
    assert killed, "no window task was running after the first window: the kill never landed"
    assert 1 <= killed[0][1] < summary.windows == len(progress)  # killed while windows were still to come
    got = _graph(tmp_path, summary.video_id)
    assert [w[0] for w in got["windows"]] == list(range(summary.windows))  # each window once, none lost
    assert all(w[1] == "done" for w in got["windows"])
    assert got["events"] == reference["events"]
    assert got["relations"] == reference["relations"]
    assert got["windows"] == reference["windows"]
