"""Where window analysis runs: threads in this process, or tasks on a Ray cluster.

The analysis of one window (``analysis.analyse_window``: decode, motion gate, detector, VAD, ASR, sound
tags) is a pure function of a ``WindowTask``; the driver assembles the results in window order
(tracking, events, relations, rules) and is the only DuckDB writer. An executor only runs analyses:

    executor = make_executor(config)
    handle = executor.submit(task)          # at most ``executor.max_in_flight`` outstanding, the driver's rule
    analysis = executor.result(handle, timeout_s=300)

``result`` raises ``TimeoutError`` past the timeout, ``WindowLost`` when the worker running the window died
(resubmit it), and the analysis' own error otherwise (``ModelError``, ``MediaError``...).

``RayExecutor`` connects to ``RAY_ADDRESS`` (``ray start --head`` on one machine, ``ray start --address`` on
the others: scripts/start_ray_head.sh, scripts/start_ray_worker.sh) or, without it, starts a small local
Ray. Each task calls the Triton of the node it runs on: ``VDET_NODE_TRITON_URL`` or ``TRITON_URL`` in the
worker's environment, else the driver's. The media path must be readable at the same path on every node.
Ray is imported only when a ``RayExecutor`` is made.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from pathlib import Path
from typing import Any, Protocol

from .config import IngestConfig
from .settings import get_settings
from .threads import DaemonPool

log = logging.getLogger(__name__)

PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
LOCAL_RAY_OBJECT_STORE_BYTES = 100 * 1024 * 1024  # results are small (detections, events); frames never leave the task


class ExecutorError(RuntimeError):
    """The executor cannot run (Ray missing, cluster unreachable); the message says what to do."""


class WindowLost(RuntimeError):
    """The worker (or node) running a window died and Ray's own retries are spent: submit the window again."""


class WindowExecutor(Protocol):
    name: str
    max_in_flight: int

    def submit(self, task) -> Any: ...

    def result(self, handle: Any, timeout_s: float | None): ...

    def cancel(self, handle: Any, wait_s: float = 60.0) -> None: ...

    def close(self) -> None: ...


def node_triton_url(default: str) -> str:
    """The Triton this process should call: the node's own when its environment names one."""
    settings = get_settings()
    return settings.node_triton_url or settings.triton_url or default


_WINDOW_THREADS = DaemonPool("vdet-window")


def _analyse(task):
    from .analysis import analyse_window  # imported when a window runs: importing the core loads no decoder or model client

    return analyse_window(task)


class LocalExecutor:
    """Windows analysed on threads of this process, ``max_in_flight`` at a time (analysis of the next window
    overlaps the assembly and writing of the current one)."""

    name = "local"

    def __init__(self, max_in_flight: int = 1):
        self.max_in_flight = max(1, max_in_flight)

    def submit(self, task) -> Future:
        return _WINDOW_THREADS.submit(_analyse, task)

    def result(self, handle: Future, timeout_s: float | None):
        return handle.result(timeout=timeout_s)  # concurrent.futures.TimeoutError is TimeoutError

    def cancel(self, handle: Future, wait_s: float = 60.0) -> None:
        """Drop a window's analysis. One already running cannot be stopped: wait (bounded) for it to end, because a
        process that exits while a native decoder runs on a daemon thread dies in C++ ("terminate called...")
        instead of reporting its error. A hung decoder is left behind after ``wait_s``."""
        if not handle.cancel():
            futures_wait([handle], timeout=wait_s)

    def close(self) -> None:
        pass


def _analyse_on_node(task):
    """A Ray task: the window's analysis against the Triton of the node it landed on."""
    from dataclasses import replace

    return _analyse(replace(task, triton_url=node_triton_url(task.triton_url)))


class RayExecutor:
    """Windows analysed as Ray tasks. Ray re-runs a task whose worker died (``task_retries`` times); past that,
    ``result`` raises ``WindowLost`` and the driver submits the window again. The driver writes each window once,
    in order, so a re-run never duplicates rows."""

    name = "ray"

    def __init__(self, max_in_flight: int = 0, task_retries: int = 3, address: str | None = None, local_cpus: int = 2):
        if (address or get_settings().ray_address) and not os.environ.get("RAY_AUTH_MODE") and (Path.home() / ".ray" / "auth_token").is_file():
            # the start scripts run the cluster with token authentication; Ray turns it on by itself only for clusters
            # it starts, not for an explicit address (and reads the setting when it is imported)
            os.environ["RAY_AUTH_MODE"] = "token"
        try:
            import ray  # only now: importing the core must not load Ray
        except ImportError:
            raise ExecutorError("the Ray executor needs the ray package: .venv/bin/pip install ray==2.60.0 (the same version on every node)") from None
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            address = address or get_settings().ray_address or None
            # workers import this package from the same path as the driver (same install path on every node)
            python_path = os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
            job_config = ray.job_config.JobConfig(runtime_env={"env_vars": {"PYTHONPATH": python_path}})
            try:
                if address:
                    ray.init(address=address, job_config=job_config, log_to_driver=False, logging_level=logging.WARNING)
                else:  # no cluster named: a small private one on this machine
                    ray.init(
                        num_cpus=local_cpus,
                        include_dashboard=False,
                        object_store_memory=LOCAL_RAY_OBJECT_STORE_BYTES,
                        job_config=job_config,
                        log_to_driver=False,
                        logging_level=logging.WARNING,
                    )
            except (ConnectionError, RuntimeError, ray.exceptions.RayError) as exc:  # unreachable, refused, or not authenticated
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ExecutorError(
                    f"cannot use the Ray cluster at {address or 'this machine'}: {first}. Start it with "
                    "scripts/start_ray_head.sh (and copy ~/.ray/auth_token to this machine), or unset RAY_ADDRESS "
                    "to use a local one"
                ) from exc
            self._owns_ray = True
        self._remote = ray.remote(num_cpus=1, max_retries=task_retries, retry_exceptions=False)(_analyse_on_node)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.max_in_flight = max_in_flight or max(2, cpus)
        log.info("Ray executor: %d CPUs in the cluster, %d windows in flight", cpus, self.max_in_flight)

    def submit(self, task):
        return self._remote.remote(task)

    def result(self, handle, timeout_s: float | None):
        from ray import exceptions as rex

        try:
            return self._ray.get(handle, timeout=timeout_s)
        except rex.GetTimeoutError:
            self.cancel(handle)
            raise TimeoutError(f"no result after {timeout_s} s") from None
        except (rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError, rex.LocalRayletDiedError, rex.TaskCancelledError) as exc:
            raise WindowLost(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
        except rex.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException) and not isinstance(cause, rex.RayError):
                raise cause from None  # the analysis' own error (ModelError, MediaError...), as if it ran here
            raise WindowLost(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc

    def cancel(self, handle, wait_s: float = 60.0) -> None:  # noqa: ARG002 - a Ray task is killed, not waited for
        try:
            self._ray.cancel(handle, force=True)
        except Exception as exc:  # noqa: BLE001 - a finished or lost task cannot be cancelled, which is fine
            log.debug("cancel: %s", exc)

    def close(self) -> None:
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False


def make_executor(config: IngestConfig) -> WindowExecutor:
    if config.executor == "ray":
        return RayExecutor(config.windows_in_flight, config.ray_task_retries)
    return LocalExecutor(config.windows_in_flight or 1)
