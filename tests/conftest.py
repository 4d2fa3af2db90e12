"""Shared fixtures: real media from package registries, generated ground-truth clips, and the real
servers (Triton on the repository's models, a private Redis), started once per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from media_factory import GroundTruth, make_ground_truth_clip  # noqa: E402

from orchestrator import weights  # noqa: E402

# the person on the right of zidane.jpg (pixels of the 1280x720 photo)
ZIDANE_PERSON_BOX = (700, 40, 1150, 720)

# The slow tier: a test is slow when it needs one of these fixtures (each starts Triton or ingests media)
# or lives in one of these modules (the whole product in subprocesses or a browser). `-m "not slow"` skips them.
SLOW_FIXTURES = {"triton", "gt_ingested", "services", "models", "cli_env"}
SLOW_MODULES = {"test_ui.py", "test_reliability.py", "test_crash_safety.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def media_dir() -> Path:
    dest = Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media"))
    return weights.fetch_test_media(dest, log=lambda *_: None)


@pytest.fixture(scope="session")
def gt_clip(media_dir, tmp_path_factory) -> tuple[Path, GroundTruth]:
    work = tmp_path_factory.mktemp("gt")
    path = work / "ground_truth.mp4"
    truth = make_ground_truth_clip(path, media_dir / "zidane.jpg", ZIDANE_PERSON_BOX, work)
    return path, truth


@pytest.fixture(scope="session")
def triton():
    from orchestrator.triton_server import TritonServer

    server = TritonServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server():
    from orchestrator.bus import RedisServer

    server = RedisServer.start()
    yield server
    server.stop()


@pytest.fixture()
def services(triton, redis_server, monkeypatch):
    """Services bound to the session's Triton and Redis (nothing new is started)."""
    from orchestrator.pipeline import Services

    monkeypatch.setenv("TRITON_URL", triton.http_url)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    with Services() as svc:
        yield svc


@pytest.fixture()
def models(triton):
    from orchestrator.model_clients import TritonModels

    client = TritonModels(triton.http_url)
    yield client
    client.close()


def run_cli(*args: str, env_extra: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def run_script(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """A script of ``scripts/`` run to completion (e.g. a random-small model builder); fails the test with its stderr."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture()
def cli_env(triton, redis_server, tmp_path) -> dict:
    return {"TRITON_URL": triton.http_url, "REDIS_URL": redis_server.url, "VDET_HOME": str(tmp_path / "home")}


@pytest.fixture(scope="session")
def gt_ingested(gt_clip, triton, redis_server, tmp_path_factory):
    """The ground-truth clip ingested once (20 s windows), with the progress messages seen on Redis."""
    import redis

    from orchestrator.pipeline import Ingestor, Services

    path, truth = gt_clip
    home = tmp_path_factory.mktemp("home")
    sub = redis.Redis.from_url(redis_server.url).pubsub()
    sub.psubscribe("progress:*")
    sub.get_message(timeout=1)
    mp = pytest.MonkeyPatch()
    mp.setenv("TRITON_URL", triton.http_url)
    mp.setenv("REDIS_URL", redis_server.url)
    try:
        with Services() as services:
            summary = Ingestor(home, services).ingest(path)
    finally:
        mp.undo()
    messages = []
    while (m := sub.get_message(timeout=0.5)) is not None:
        if m["type"] == "pmessage":
            messages.append(json.loads(m["data"]))
    sub.close()
    from orchestrator.graph import EventGraph
    from orchestrator.pipeline import database_path

    with EventGraph(database_path(home), read_only=True) as g:
        events = g.events(summary.video_id)
    return summary, events, messages, truth, home
