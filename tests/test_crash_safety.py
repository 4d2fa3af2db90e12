"""What a careless user hits in the first week, against the real product: the app killed with SIGKILL mid-ingest
(nothing left running, nothing left in /dev/shm, the ingest resumes by itself), two writers on one home, a video
ingested from the command line opened in the app, a file deleted during ingest, --auth with --preload and
several users, a directory given to ingest, and "table" in a question."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis
from conftest import REPO, run_cli
from test_bad_input import _consistent
from test_ui import RunningApp, browser, pick, wait_text  # noqa: F401 - browser is a fixture

from orchestrator.homelock import HOLDER_NAME


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=300)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.strip().splitlines() if line.strip()]


def wait_for(predicate, timeout_s: float, what: str, step: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def api(url: str, name: str, *args, auth=None):
    from gradio_client import Client

    return Client(url, auth=auth, verbose=False).predict(*args, api_name=name)


# -- bad input ------------------------------------------------------------------------------------


def test_a_directory_given_to_ingest_says_it_is_a_directory(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    result = run_cli("ingest", str(folder), env_extra={"VDET_HOME": str(tmp_path / "home")}, timeout=120)
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "is a directory" in lines[0] and "no such file" not in lines[0]


def test_table_in_a_question_is_not_a_dining_table_unless_it_is_furniture(models):
    from orchestrator.planner import Vocabulary, plan_question

    vocab = Vocabulary(objects={"person", "dining table", "chair"}, sounds=set(), has_speech=True)
    for q in ("show me the events table", "what's in the table?", "what does the table say about 0:30?"):
        plan = plan_question(q, 60.0, vocab=vocab, embed=models.embed)
        assert "dining table" not in plan.object_labels, (q, plan.object_labels)
    for q in ("what is on the table?", "when do people sit at the table?", "is there a dining table?", "how many tables are there?"):
        plan = plan_question(q, 60.0, vocab=vocab, embed=models.embed)
        assert "dining table" in plan.object_labels, (q, plan.object_labels)


# -- two writers ----------------------------------------------------------------------------------


def test_a_second_writer_is_told_who_holds_the_home_before_any_model_server_starts(gt_clip, cli_env, tmp_path):
    home = Path(cli_env["VDET_HOME"])
    first = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "ingest", str(gt_clip[0]), "--window-s", "5", "--quiet"],
        cwd=REPO,
        env={**os.environ, **cli_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (home / HOLDER_NAME).exists() or first.poll() is not None, 120, "the first ingest to hold the home")
        assert first.poll() is None, first.stderr.read()
        # the second ingest has no TRITON_URL: it would start its own Triton (in its TMPDIR) if it got that far
        own_tmp = tmp_path / "second-tmp"
        own_tmp.mkdir()
        env = {k: v for k, v in cli_env.items() if k != "TRITON_URL"} | {"TMPDIR": str(own_tmp)}
        second = run_cli("ingest", str(gt_clip[0]), "--quiet", env_extra=env, timeout=120)
        lines = error_lines(second.stderr)
        assert second.returncode == 2 and len(lines) == 1, second.stderr
        assert f"an ingest (PID {first.pid}" in lines[0] and "--home" in lines[0] and "wait" in lines[0].lower(), lines[0]
        assert "IOException" not in second.stderr and "Traceback" not in second.stderr
        assert not list(own_tmp.glob("vdet-triton-*")), "a model server was started before the lock was checked"
    finally:
        first.wait(timeout=300)
    assert first.returncode == 0
    _consistent(home)


def test_a_writer_holding_the_database_without_the_lock_file_is_named_too(gt_clip, tmp_path):
    """An older version (or any tool) holding DuckDB's own lock: named by its PID, in the product's words."""
    home = tmp_path / "home"
    home.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(120)",
            str(home / "events.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        result = run_cli("ingest", str(gt_clip[0]), env_extra={"VDET_HOME": str(home)}, timeout=120)
        lines = error_lines(result.stderr)
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert f"PID {holder.pid}" in lines[0] and "--home" in lines[0] and "IOException" not in lines[0], lines[0]
    finally:
        holder.kill()
        holder.wait()


# -- a file deleted during ingest -----------------------------------------------------------------


def test_a_file_deleted_during_ingest_ends_with_the_products_error(gt_clip, cli_env, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(gt_clip[0].read_bytes())
    sub = redis.Redis.from_url(cli_env["REDIS_URL"]).pubsub(ignore_subscribe_messages=True)
    sub.psubscribe("progress:*")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "ingest", str(clip), "--window-s", "5"],
        cwd=REPO,
        env={**os.environ, **cli_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            m = sub.get_message(timeout=0.5)
            if m and json.loads(m["data"]).get("status") == "running":
                clip.unlink()  # the first window is done: the file goes away under the ingest
                break
        _, stderr = proc.communicate(timeout=300)
    finally:
        sub.close()
    assert not clip.exists(), "the ingest finished before the file could be removed"
    lines = error_lines(stderr)
    assert proc.returncode == 2, stderr[-2000:]
    assert lines[-1].startswith("error:") and "No such file" in lines[-1], lines[-3:]
    assert "nanobind" not in stderr and "Traceback" not in stderr, stderr[-2000:]


# -- the app killed mid-ingest --------------------------------------------------------------------


def _living(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:80]}")
        except psutil.NoSuchProcess:
            pass
    return out


def test_kill9_of_the_app_mid_ingest_leaves_nothing_running_and_the_ingest_resumes(gt_clip, tmp_path, triton, redis_server):
    long_clip = tmp_path / "long.mp4"
    ffmpeg("-stream_loop", "3", "-i", str(gt_clip[0]), "-c", "copy", str(long_clip))  # 160 s: 8 windows
    home = tmp_path / "home"
    app = RunningApp(home, {}, ["--preload", str(long_clip)], start_timeout_s=400)  # its own Triton and Redis, as a user runs it
    try:
        children = psutil.Process(app.proc.pid).children(recursive=True)
        names = {c.name() for c in children}
        assert "tritonserver" in names and "redis-server" in names, names
        ports = {m.group(1) for c in children for m in [re.search(r"--http-port=(\d+)", " ".join(c.cmdline()))] if m}

        def windows_done():
            vids = api(app.url, "/videos")
            return vids and vids[0]["status"] == "ingesting" and vids[0]["windows_done"] >= 1 and vids[0]

        before = wait_for(windows_done, 300, "the first window of the preloaded video")
        assert before["windows_done"] < before["windows"]
        children = psutil.Process(app.proc.pid).children(recursive=True)  # with the python-backend stubs and lifelines
        app.proc.kill()
        app.proc.wait()
        wait_for(lambda: not _living(children), 30, "the app's children to end")
        regions = [r.name for port in ports for r in Path("/dev/shm").glob(f"vdet_triton_{port}_*")]
        assert regions == [], regions
    finally:
        app.stop()
    # restarted on the same home (this time on the session's servers): the ingest continues by itself
    again = RunningApp(home, {"TRITON_URL": triton.http_url, "REDIS_URL": redis_server.url})
    try:

        def finished():
            vids = api(again.url, "/videos")
            return vids and vids[0]["status"] == "done" and vids[0]

        done = wait_for(finished, 400, "the interrupted ingest to finish after the restart", step=1.0)
        assert done["windows_done"] == done["windows"] == before["windows"]
    finally:
        again.stop()
    assert "resuming the interrupted ingest" in (home.parent / f"app-{again.port}.log").read_text()
    _consistent(home)


OWNER = """
import sys
from orchestrator.triton_server import TritonServer
server = TritonServer.start(models=("embedder",))
print(server.process.pid, server.watchdog.pid, server.http_port, server.workdir, flush=True)
sys.stdin.read()
"""


def test_what_a_dead_run_left_is_swept_at_start_and_nothing_a_live_one_uses(triton, tmp_path):
    """A run killed together with its lifeline (an older version had none) left its Triton running under PID 1,
    its shared memory and its folder: the next start removes them, and leaves the live session Triton alone."""
    import mmap

    from orchestrator import lifeline

    owner = subprocess.Popen([sys.executable, "-c", OWNER], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    pid, watchdog, port, workdir = owner.stdout.readline().split()
    os.kill(int(watchdog), 9)
    owner.kill()
    owner.wait()
    orphan = psutil.Process(int(pid))
    regions = list(Path("/dev/shm").glob(f"vdet_triton_{port}_*"))
    assert orphan.is_running() and regions and Path(workdir).is_dir()
    # a region of Triton's default name: one nobody maps is stale, one a live process maps is not
    stale = Path("/dev/shm") / f"triton_python_backend_shm_region_test-{os.getpid()}-stale"
    used = Path("/dev/shm") / f"triton_python_backend_shm_region_test-{os.getpid()}-used"
    for region in (stale, used):
        region.write_bytes(b"\0" * 4096)
        os.utime(region, (time.time() - 3600, time.time() - 3600))
    with open(used, "r+b") as fh, mmap.mmap(fh.fileno(), 4096):
        live_regions = list(Path("/dev/shm").glob(f"vdet_triton_{triton.http_port}_*"))
        stats = lifeline.sweep_stale()
        assert used.exists()
    used.unlink()
    wait_for(lambda: not _living([orphan]), 10, "the orphan Triton to end")
    assert not Path(workdir).exists() and not any(r.exists() for r in regions) and not stale.exists(), stats
    assert stats["servers"] >= 1 and stats["folders"] >= 1
    assert triton.is_ready() and triton.workdir.is_dir() and all(r.exists() for r in live_regions)


# -- the app: files outside the home, auth with preload --------------------------------------------


def test_a_video_ingested_from_the_cli_outside_the_home_plays_in_the_app(browser, gt_clip, cli_env, tmp_path):  # noqa: F811
    videos = tmp_path / "Videos"
    videos.mkdir()
    clip = videos / "cam1.mp4"
    clip.write_bytes(gt_clip[0].read_bytes())
    result = run_cli("ingest", str(clip), "--quiet", env_extra=cli_env)
    assert result.returncode == 0, result.stderr
    home = Path(cli_env["VDET_HOME"])
    app_tmp = tmp_path / "app-tmp"  # the app's temp dir is not where the video lives (Gradio serves its temp dir anyway)
    app_tmp.mkdir()
    app = RunningApp(home, {"TRITON_URL": cli_env["TRITON_URL"], "REDIS_URL": cli_env["REDIS_URL"], "TMPDIR": str(app_tmp)})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(app.url)
        page.wait_for_selector("#question textarea")
        pick(page, "#library", "cam1.mp4")
        page.wait_for_function("() => { const v = document.querySelector('#player video'); return v && v.currentSrc && v.readyState >= 1; }", timeout=60000)
        wait_text(page, "#progress", r"ingested")
        # the file goes away: the page says so instead of showing an empty player
        clip.rename(videos / "moved.mp4")
        page.goto(app.url)
        page.wait_for_selector("#question textarea")
        pick(page, "#library", "cam1.mp4")
        assert "file is gone" in wait_text(page, "#progress", r"file is gone", 30)
        page.close()
    finally:
        app.stop()
    log = (home.parent / f"app-{app.port}.log").read_text()
    assert "InvalidPathError" not in log, log[-2000:]


def test_auth_with_preload_gives_every_user_the_preloaded_video_and_keeps_chats_apart(gt_clip, triton, redis_server, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("# user:password\nbob:b0b-pass\n")
    app = RunningApp(
        tmp_path / "home",
        {"TRITON_URL": triton.http_url, "REDIS_URL": redis_server.url},
        ["--auth", "ana:s3cret", "--users-file", str(users), "--preload", str(gt_clip[0])],
    )
    try:
        ana, bob = ("ana", "s3cret"), ("bob", "b0b-pass")
        for who in (ana, bob):  # the preloaded video is listed once its ingest has started
            vids = wait_for(lambda who=who: api(app.url, "/videos", auth=who), 60, f"{who[0]}'s library")
            assert [v["name"] for v in vids] == [gt_clip[0].name], (who, vids)
        vid = vids[0]["video_id"]
        wait_for(lambda: api(app.url, "/videos", auth=ana)[0]["status"] == "done", 300, "the preloaded ingest", step=1.0)
        r = api(app.url, "/ask", vid, "When does the person appear?", "", auth=ana)
        assert r["citations"]
        follow = api(app.url, "/ask", vid, "what happened after that?", r["session"], auth=ana)  # ana continues her own chat
        assert follow["session"] == r["session"]
        from gradio_client.exceptions import AppError

        with pytest.raises(AppError, match="unknown session"):
            api(app.url, "/ask", vid, "what happened after that?", r["session"], auth=bob)
    finally:
        app.stop()


def test_read_only_commands_work_through_the_app_that_holds_the_home(gt_clip, cli_env, tmp_path):
    """While the app writes to a home DuckDB lets no one else open it: videos, events and ask go through the app."""
    result = run_cli("ingest", str(gt_clip[0]), "--quiet", env_extra=cli_env)
    assert result.returncode == 0, result.stderr
    video_id = run_cli("videos", env_extra=cli_env).stdout.split()[0]
    home = Path(cli_env["VDET_HOME"])
    app = RunningApp(home, {"TRITON_URL": cli_env["TRITON_URL"], "REDIS_URL": cli_env["REDIS_URL"]})
    try:
        listed = run_cli("videos", "--json", env_extra=cli_env)
        assert listed.returncode == 0, listed.stderr
        assert [v["video_id"] for v in json.loads(listed.stdout)] == [video_id]
        speech = run_cli("events", video_id, "--kind", "speech", env_extra=cli_env)
        assert speech.returncode == 0 and "railway station" in speech.stdout.lower(), speech.stderr
        asked = run_cli("ask", video_id, "When does the person appear?", env_extra=cli_env, timeout=120)
        assert asked.returncode == 0 and "person" in asked.stdout and "answered by the app" in asked.stderr, asked.stderr
        unknown = run_cli("events", "nosuchvideo", env_extra=cli_env)
        assert unknown.returncode != 0 and "unknown video" in unknown.stderr and "Traceback" not in unknown.stderr
    finally:
        app.stop()
