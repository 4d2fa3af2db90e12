"""The servers an ingest or an answer needs: Triton and Redis, either the ones named by ``TRITON_URL`` /
``REDIS_URL`` or private ones started (and stopped) here."""

from __future__ import annotations

import logging
import time

from . import lifeline
from .bus import Bus, RedisServer, bus_from_env
from .model_clients import ModelError, TritonModels
from .settings import get_settings
from .triton_server import TritonServer

log = logging.getLogger(__name__)


class Services:
    """Triton and Redis: the ones named by ``TRITON_URL`` / ``REDIS_URL``, or private ones we start and stop."""

    def __init__(self, need_bus: bool = True, models: tuple[str, ...] | None = None):
        self._triton: TritonServer | None = None
        self._redis: RedisServer | None = None
        url = get_settings().triton_url
        if not url or (need_bus and not get_settings().redis_url):
            lifeline.sweep_stale()  # servers, folders and shared memory of runs that were killed
        if not url:
            self._triton = TritonServer.start(models=models) if models else TritonServer.start()
            url = self._triton.http_url
        self.triton_url = url
        self.bus: Bus | None = None
        if need_bus:
            try:
                self.bus, self._redis = bus_from_env()  # a private redis-server dies with us too (RedisServer's lifeline)
            except BaseException:
                self.close()
                raise

    def models(self) -> TritonModels:
        return TritonModels(self.triton_url)

    def recover_models(self, timeout_s: float = 120.0) -> None:
        """After a failed model call: restart our Triton if it died (same ports), or wait for an external one."""
        if self._triton is not None and self._triton.process.poll() is not None:
            log.warning("the embedded Triton exited (code %s); restarting it", self._triton.process.returncode)
            old = self._triton
            old.stop()
            self._triton = TritonServer.start(models=old.models, http_port=old.http_port, grpc_port=old.grpc_port, timeout_s=timeout_s)
            return
        deadline = time.monotonic() + timeout_s
        probe_client = TritonModels(self.triton_url, retries=0)
        try:
            while time.monotonic() < deadline:
                if all(probe_client.ready().values()):
                    return
                time.sleep(1.0)
        finally:
            probe_client.close()
        raise ModelError(f"Triton at {self.triton_url} is not ready after {timeout_s:.0f} s")

    def close(self) -> None:
        if self.bus:
            self.bus.close()
        if self._redis:
            self._redis.stop()
        if self._triton:
            self._triton.stop()

    def __enter__(self) -> "Services":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def question_embedder(enabled: bool):
    """The question embedder for a read-only command (Triton's, started here unless one runs at $TRITON_URL), or
    None: ``(embed, close)``."""
    if not enabled:
        return None, lambda: None

    services = Services(need_bus=False, models=("embedder",))
    services.__enter__()
    models = TritonModels(services.triton_url)

    def close() -> None:
        models.close()
        services.__exit__(None, None, None)

    return models.embed, close
