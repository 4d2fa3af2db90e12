"""Daemon-thread pool shared by the window executors and the analysis threads."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future


class DaemonPool:
    """Daemon threads running submitted calls, a new one whenever all are busy (a ThreadPoolExecutor's threads are
    joined at exit, so a decoder that hangs would keep the process alive after its window timed out)."""

    def __init__(self, name: str):
        self.name = name
        self.jobs: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.waiting = 0  # threads blocked on the queue, not yet promised a job

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        with self.lock:
            if self.waiting:
                self.waiting -= 1
            else:
                threading.Thread(target=self._run, name=f"{self.name}-{threading.active_count()}", daemon=True).start()
        self.jobs.put((future, fn, args))
        return future

    def _run(self) -> None:
        while True:
            future, fn, args = self.jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                    future.set_exception(exc)
            with self.lock:
                self.waiting += 1
