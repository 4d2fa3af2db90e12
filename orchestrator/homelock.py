"""One writer per home, checked before anything starts.

DuckDB allows one writing process per database file. A second ``ingest``, or ``ingest`` while the app runs,
used to find out only after the model servers had started, with DuckDB's own message. Every writer now takes
``<home>/.writer.lock`` (an OS file lock, released by the kernel however the holder dies) first and records who
it is in ``<home>/writer.json``, so the next one is told at once which process holds the home and what to do.

    with HomeLock(home, "ingest"):      # raises HomeBusy if the app or another ingest writes there
        ...
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import duckdb
import psutil
from filelock import FileLock, Timeout

LOCK_NAME = ".writer.lock"
HOLDER_NAME = "writer.json"
ROLES = {"app": "the app", "ingest": "an ingest", "rules": "a rules run"}


class HomeBusy(LookupError):
    """Another process writes to this home; the message names it and says what to do."""


def holder(home: Path) -> dict | None:
    """Who holds the home, as recorded when it took the lock: {pid, role, since, command}; None if nobody alive does."""
    try:
        info = json.loads((Path(home) / HOLDER_NAME).read_text())
        proc = psutil.Process(int(info["pid"]))
        if abs(proc.create_time() - float(info.get("create_time", proc.create_time()))) > 1.0:
            return None  # the pid was reused
        return info
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return None


def open_read_only(home: Path, busy_advice: str, missing_advice: str = ""):
    """The home's event graph opened read-only, or a LookupError with one line saying why not (nothing ingested
    yet; a writer holds the database, named by its record) and ``*_advice`` on what to do."""
    from .graph import EventGraph  # noqa: PLC0415 - the graph and the pipeline import this module
    from .pipeline import database_path  # noqa: PLC0415

    path = database_path(home)
    if not path.exists():
        raise LookupError(f"no videos ingested in {home}; run `python -m orchestrator ingest FILE` first{missing_advice}")
    try:
        return EventGraph(path, read_only=True)
    except duckdb.IOException:
        raise LookupError(f"the database in {home} is busy: {describe(home, holder(home))} is writing to it; {busy_advice}") from None


def describe(home: Path, info: dict | None, pid: int | None = None) -> str:
    """``the app (PID 123, since 14:02, port 7860)`` — the holder in a user's words."""
    if info is None:
        return f"another process (PID {pid})" if pid else "another process"
    since = time.strftime("%H:%M", time.localtime(info.get("since", time.time())))
    extra = f", {info['detail']}" if info.get("detail") else ""
    return f"{ROLES.get(info.get('role'), 'another process')} (PID {info['pid']}, since {since}{extra})"


def advice(info: dict | None, doing: str) -> str:
    if info and info.get("role") == "app":
        what = "add the video through the app's upload, " if doing == "ingest" else ""
        return f"{what}stop the app first, or use another --home"
    return "wait for it to finish (or stop it), or use another --home"


def busy_message(home: Path, doing: str, info: dict | None = None, pid: int | None = None) -> str:
    info = info if info is not None else holder(home)
    return f"the home {home} is in use by {describe(home, info, pid)}: only one process may write to it. {advice(info, doing).capitalize()}"


class HomeLock:
    """Hold the home's writer lock for as long as this object is open (the kernel drops it when the process dies)."""

    def __init__(self, home: Path, role: str, detail: str = "", url: str = ""):
        self.home = Path(home)
        self.role = role
        self.detail = detail
        self.url = url  # where the holder answers (the app's page and API), for the read-only commands
        self._lock = FileLock(str(self.home / LOCK_NAME), thread_local=False)

    def acquire(self) -> "HomeLock":
        self.home.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise HomeBusy(busy_message(self.home, self.role)) from None
        self._check_database()
        me = psutil.Process()
        record = {
            "pid": me.pid,
            "create_time": me.create_time(),
            "role": self.role,
            "since": time.time(),
            "command": " ".join(sys.argv)[:300],
            "detail": self.detail,
            "url": self.url,
        }
        tmp = self.home / (HOLDER_NAME + ".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.home / HOLDER_NAME)
        return self

    def _check_database(self) -> None:
        """A writer that predates the lock file (or a tool that ignores it) still holds DuckDB's own lock."""
        path = self.home / "events.duckdb"  # pipeline.database_path (not imported: this check runs before anything heavy loads)
        if not path.exists():
            return
        try:
            duckdb.connect(str(path)).close()
        except duckdb.IOException as exc:
            self._lock.release()
            m = re.search(r"\(PID (\d+)\)", str(exc))
            raise HomeBusy(busy_message(self.home, self.role, pid=int(m.group(1)) if m else None)) from None

    def release(self) -> None:
        if self._lock.is_locked:
            try:
                if (holder(self.home) or {}).get("pid") == os.getpid():
                    (self.home / HOLDER_NAME).unlink(missing_ok=True)
            finally:
                self._lock.release()

    def __enter__(self) -> "HomeLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
