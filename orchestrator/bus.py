"""The message bus: Redis pub/sub, real Redis.

With ``REDIS_URL`` set we use that server; otherwise the product starts a
private ``redis-server`` on a free loopback port (no persistence: the database
holds everything that matters; Redis only carries live messages).

Every channel's messages (``progress:``, ``file_transfer:``, ``tokens:``, ``inbox:``) are pydantic
models in ``orchestrator/messages.py``, with their formats documented there; ``Bus.publish`` sends one.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

from . import lifeline
from .messages import SCHEMA_VERSION, Message, encode  # noqa: F401 - SCHEMA_VERSION is re-exported
from .settings import get_settings
from .triton_server import free_port

# one try again after a dropped connection (the client reconnects on its next command)
redis_retry = retry(retry=retry_if_exception_type(redis.RedisError), stop=stop_after_attempt(2), wait=wait_fixed(0.2), reraise=True)


def progress_channel(video_id: str) -> str:
    return f"progress:{video_id}"


class BusError(RuntimeError):
    pass


@dataclass
class RedisServer:
    """A private redis-server on loopback that we own; it dies with us (a lifeline watchdog), however we end."""

    process: subprocess.Popen
    port: int
    workdir: Path
    watchdog: subprocess.Popen | None = None

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
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        lifeline.write_owner(workdir)
        server = cls(process, port, workdir, lifeline.guard(process.pid, dirs=[workdir], grace_s=2.0))
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
        lifeline.release(self.watchdog)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Bus:
    """Publishes message models (``messages.py``) as JSON; survives a Redis restart by reconnecting on the next publish."""

    def __init__(self, url: str):
        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, retry_on_timeout=True, health_check_interval=10)

    def publish(self, channel: str, message: Message) -> bool:
        try:
            redis_retry(self.client.publish)(channel, encode(message))
            return True
        except redis.RedisError:
            return False  # progress is also in the database: never fail ingest over the bus

    def close(self) -> None:
        self.client.close()


def bus_from_env() -> tuple[Bus, RedisServer | None]:
    """The bus at ``REDIS_URL``, or a private one we start (returned so the caller can stop it)."""
    url = get_settings().redis_url
    if url:
        return Bus(url), None
    server = RedisServer.start()
    return Bus(server.url), server
