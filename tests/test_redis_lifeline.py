"""A private redis-server dies with the process that started it, however that process ends (kill -9 included)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
from conftest import REPO

CHILD = """
import sys, time
from orchestrator.bus import RedisServer
server = RedisServer.start()
print(server.process.pid, server.workdir, flush=True)
time.sleep(120)
"""


def test_a_killed_owner_takes_its_redis_server_and_folder_with_it():
    owner = subprocess.Popen([sys.executable, "-c", CHILD], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        pid, workdir = owner.stdout.readline().split()
        redis_proc = psutil.Process(int(pid))
        assert redis_proc.is_running() and "redis-server" in redis_proc.name()
    finally:
        owner.kill()  # SIGKILL: no cleanup code of the owner runs
        owner.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (psutil.pid_exists(int(pid)) and psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE):
        time.sleep(0.2)
    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE, "redis-server outlived its owner"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(workdir).exists():
        time.sleep(0.2)
    assert not Path(workdir).exists(), "the dead owner's redis folder was left behind"
