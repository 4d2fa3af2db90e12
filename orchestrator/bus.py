"""The message bus: Redis pub/sub, real Redis.

With ``REDIS_URL`` set we use that server; otherwise the product starts a
private ``redis-server`` on a free loopback port (no persistence: the database
holds everything that matters; Redis only carries live messages).

Channels and message formats (versioned JSON, ``"v": 1``):

- ``progress:{video_id}``  ingest progress, one message per finished window:
  ``{"v": 1, "type": "progress", "video_id", "window", "windows", "done", "t_end", "duration_s",
  "events", "status": "running"|"done"|"error", "eta_s", "error"}``
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from .triton_server import free_port

SCHEMA_VERSION = 1


def progress_channel(video_id: str) -> str:
    return f"progress:{video_id}"


class BusError(RuntimeError):
    pass


@dataclass
class RedisServer:
    """A private redis-server on loopback that we own."""

    process: subprocess.Popen
    port: int
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, timeout_s: float = 10.0, port: int | None = None) -> "RedisServer":
        binary = shutil.which("redis-server")
        if not binary:
            raise BusError("redis-server is not installed; run `make setup` (apt package redis-server) or set REDIS_URL")
        port = port or free_port()
        workdir = Path(tempfile.mkdtemp(prefix="vdet-redis-"))
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir),
             "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        server = cls(process, port, workdir)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(server.url, socket_timeout=0.5).ping()
                return server
            except redis.RedisError:
                if process.poll() is not None:
                    break
                time.sleep(0.05)
        server.stop()
        raise BusError("redis-server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Bus:
    """Publishes versioned JSON messages; survives a Redis restart by reconnecting on the next publish."""

    def __init__(self, url: str):
        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, retry_on_timeout=True,
                                           health_check_interval=10)

    def publish(self, channel: str, message: dict) -> bool:
        payload = json.dumps({"v": SCHEMA_VERSION, **message})
        for attempt in range(2):
            try:
                self.client.publish(channel, payload)
                return True
            except redis.RedisError:
                if attempt:
                    return False  # progress is also in the database: never fail ingest over the bus
                time.sleep(0.2)
        return False

    def close(self) -> None:
        self.client.close()


def bus_from_env() -> tuple[Bus, RedisServer | None]:
    """The bus at ``REDIS_URL``, or a private one we start (returned so the caller can stop it)."""
    url = os.environ.get("REDIS_URL")
    if url:
        return Bus(url), None
    server = RedisServer.start()
    return Bus(server.url), server
