"""Servers we start die with us, and what a dead run left behind is swept at the next start.

``tritonserver`` (with its python-backend stubs) and ``redis-server`` run in their own process groups, so a
Ctrl-C in a terminal does not reach them before we stop them in order. The price is that a ``kill -9`` of
the app or the CLI would orphan them. So each one gets a *lifeline*: a tiny watchdog process (standard library
only, its own session) that polls its parent; when the parent is gone it stops the server's whole group
(SIGTERM, then SIGKILL) and removes the server's temporary folder and shared-memory regions. (A parent-death
signal, ``PR_SET_PDEATHSIG``, fires when the *thread* that started the child ends, and the ingest worker
restarts Triton from its own thread, so polling the parent is the safe choice.)

:func:`sweep_stale` runs before servers start: it removes ``/dev/shm`` regions of the python backend and our
temporary folders that no live process holds, and stops servers whose owner (recorded in ``owner.json`` in
their folder) is dead. Nothing another live process uses is touched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

SHM_DIR = Path("/dev/shm")
SHM_PATTERNS = ("triton_python_backend_shm_region_*", "vdet_triton_*")  # Triton's default prefix and ours
TEMP_PATTERNS = ("vdet-triton-*", "vdet-redis-*")
OWNER_FILE = "owner.json"
YOUNG_S = 60.0  # a region or folder this new may belong to a server still starting: never swept

WATCHDOG = r"""
import glob, json, os, shutil, signal, sys, time
cfg = json.loads(sys.argv[1])
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # our owner stopped the server itself
def alive():
    try:
        os.killpg(cfg["pgid"], 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
while os.getppid() == cfg["parent"]:
    if not alive():
        sys.exit(0)  # the server ended and its owner is alive: the owner cleans up (or restarts it)
    time.sleep(0.2)
for sig, wait in ((signal.SIGTERM, cfg.get("grace_s", 5.0)), (signal.SIGKILL, 5.0)):
    try:
        os.killpg(cfg["pgid"], sig)
    except ProcessLookupError:
        break
    end = time.monotonic() + wait
    while alive() and time.monotonic() < end:
        time.sleep(0.1)
for pattern in cfg.get("globs", []):
    for p in glob.glob(pattern):
        try:
            os.unlink(p)
        except OSError:
            pass
for d in cfg.get("dirs", []):
    shutil.rmtree(d, ignore_errors=True)
"""


def guard(pgid: int, dirs: list[Path] = (), globs: list[str] = (), grace_s: float = 5.0) -> subprocess.Popen:
    """Start a watchdog that stops process group ``pgid`` and removes ``dirs`` and ``globs`` once this process has
    died. Terminate the returned process when you stop the server yourself."""
    cfg = {"parent": os.getpid(), "pgid": pgid, "dirs": [str(d) for d in dirs], "globs": list(globs), "grace_s": grace_s}
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", WATCHDOG, json.dumps(cfg)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def release(watchdog: subprocess.Popen | None) -> None:
    """Stop a watchdog whose server we stopped ourselves."""
    if watchdog is None or watchdog.poll() is not None:
        return
    watchdog.terminate()
    try:
        watchdog.wait(timeout=5)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait()


def write_owner(workdir: Path, shm_glob: str | None = None) -> None:
    """Record this process as the owner of a server's temporary folder, and the shared-memory regions the server
    makes (read by :func:`sweep_stale`)."""
    me = psutil.Process()
    (Path(workdir) / OWNER_FILE).write_text(json.dumps({"pid": me.pid, "create_time": me.create_time(), "shm": shm_glob}))


def _owner_shm(workdir: Path) -> str | None:
    try:
        return json.loads((Path(workdir) / OWNER_FILE).read_text()).get("shm")
    except (OSError, ValueError, AttributeError):
        return None


def owner_alive(workdir: Path) -> bool | None:
    """Whether the process recorded in ``workdir/owner.json`` is still running (None: no record)."""
    try:
        owner = json.loads((Path(workdir) / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None
    try:
        return abs(psutil.Process(int(owner["pid"])).create_time() - float(owner["create_time"])) < 1.0
    except (psutil.NoSuchProcess, psutil.ZombieProcess, KeyError, ValueError, TypeError):
        return False
    except psutil.AccessDenied:
        return True


def _held_paths() -> tuple[set[str], dict[int, set[str]]]:
    """Every path a live process has open, mapped or as its working directory: (all of them, per pid)."""
    held: set[str] = set()
    per_pid: dict[int, set[str]] = {}
    for proc in psutil.process_iter(["pid", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        paths: set[str] = set()
        try:
            paths.update(f.path for f in proc.open_files())
            paths.add(proc.cwd())
            # mapped files (shared memory of the python backend) are in /proc/PID/maps, which psutil reads via smaps (slow)
            with open(f"/proc/{proc.pid}/maps") as fh:
                for line in fh:
                    parts = line.split(None, 5)
                    if len(parts) == 6 and parts[5].startswith("/"):
                        paths.add(parts[5].strip().removesuffix(" (deleted)"))
        except (psutil.Error, OSError):
            continue
        held |= paths
        per_pid[proc.pid] = paths
    return held, per_pid


def _young(path: Path, now: float) -> bool:
    try:
        return now - path.stat().st_mtime < YOUNG_S
    except OSError:
        return True


def sweep_stale(tmp: Path | None = None, shm: Path = SHM_DIR) -> dict[str, int]:
    """Remove what dead runs left: servers whose owner died (their group is stopped), their temporary folders,
    and python-backend shared-memory regions nobody maps. Returns counts of what was removed."""
    tmp = Path(tmp or tempfile.gettempdir())
    now = time.time()
    uid = os.getuid()
    held, per_pid = _held_paths()
    stats = {"servers": 0, "folders": 0, "regions": 0}
    dead_regions: set[str] = set()  # the region patterns recorded by servers whose owner is dead
    for pattern in TEMP_PATTERNS:
        for d in tmp.glob(pattern):
            try:
                if not d.is_dir() or d.stat().st_uid != uid:
                    continue
            except OSError:
                continue
            alive = owner_alive(d)
            if alive or (alive is None and _young(d, now)):
                continue
            inside = str(d) + os.sep
            users = [pid for pid, paths in per_pid.items() if any(p == str(d) or p.startswith(inside) for p in paths)]
            if alive is None and users:
                continue  # an older version's folder still in use: not ours to judge
            for pid in users:  # a server whose owner is dead (its lifeline was killed too): stop its group
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                    stats["servers"] += 1
                except (ProcessLookupError, PermissionError):
                    pass
            if alive is False and (pattern := _owner_shm(d)):
                dead_regions.add(Path(pattern).name)
            shutil.rmtree(d, ignore_errors=True)
            stats["folders"] += 1
    if stats["servers"]:
        time.sleep(0.5)  # the killed servers unmap their regions
        held, _ = _held_paths()
    for pattern in (*SHM_PATTERNS, *dead_regions):
        for region in shm.glob(pattern):
            try:
                if not region.exists() or region.stat().st_uid != uid or str(region) in held:
                    continue
                if pattern not in dead_regions and _young(region, now):  # a dead owner's regions go whatever their age
                    continue
                region.unlink()
                stats["regions"] += 1
            except OSError:
                pass
    if any(stats.values()):
        log.warning(
            "removed what an earlier run left behind: %d servers, %d folders, %d shared-memory regions", stats["servers"], stats["folders"], stats["regions"]
        )
    return stats
