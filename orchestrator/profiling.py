"""Stage timings of an ingest, cheap enough to stay in the code: off unless ``enable()`` was called.

Each thread of an ingest has a role (``driver``, ``video``, ``audio``); a stage is timed with

    with stage("decode"):
        ...

and adds its wall and CPU seconds to ``(role, "decode")``. Stages nest: a stage's *own* time is its time minus
that of the stages inside it (the detector call inside the objects lane is counted once, as the detector's), so the
own times of one role's stages add up to the time that role was busy. With profiling off, ``stage`` returns one
shared do-nothing context (a dictionary look-up and a call per stage; nothing is recorded).

    profile = enable()
    ... ingest ...
    profile.snapshot()  # {(role, stage): StageTotals}
    disable()
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

_NULL = nullcontext()
_local = threading.local()


@dataclass
class StageTotals:
    calls: int = 0
    wall_s: float = 0.0  # inclusive: the stages inside it too
    own_s: float = 0.0  # exclusive: minus the stages inside it
    own_cpu_s: float = 0.0  # this thread's CPU time, exclusive


class Profile:
    def __init__(self):
        self.lock = threading.Lock()
        self.totals: dict[tuple[str, str], StageTotals] = {}

    def add(self, role: str, name: str, wall: float, own: float, own_cpu: float) -> None:
        with self.lock:
            t = self.totals.get((role, name))
            if t is None:
                t = self.totals[(role, name)] = StageTotals()
            t.calls += 1
            t.wall_s += wall
            t.own_s += own
            t.own_cpu_s += own_cpu

    def snapshot(self) -> dict[tuple[str, str], StageTotals]:
        with self.lock:
            return {k: StageTotals(v.calls, v.wall_s, v.own_s, v.own_cpu_s) for k, v in self.totals.items()}

    def reset(self) -> None:
        with self.lock:
            self.totals.clear()


_PROFILE: Profile | None = None


def enable() -> Profile:
    """Start recording (a fresh profile) and return it."""
    global _PROFILE
    _PROFILE = Profile()
    return _PROFILE


def disable() -> None:
    global _PROFILE
    _PROFILE = None


def active() -> Profile | None:
    return _PROFILE


class _Stage:
    __slots__ = ("name", "profile", "t0", "c0", "child", "child_cpu")

    def __init__(self, name: str, profile: Profile):
        self.name, self.profile = name, profile

    def __enter__(self):
        stack = _local.__dict__.setdefault("stack", [])
        self.child = self.child_cpu = 0.0
        stack.append(self)
        self.c0 = time.thread_time()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self.t0
        cpu = time.thread_time() - self.c0
        stack = _local.stack
        stack.pop()
        if stack:
            stack[-1].child += wall
            stack[-1].child_cpu += cpu
        self.profile.add(getattr(_local, "role", "other"), self.name, wall, wall - self.child, cpu - self.child_cpu)


def stage(name: str):
    """A context that times ``name`` in this thread's role (does nothing while profiling is off)."""
    profile = _PROFILE
    return _NULL if profile is None else _Stage(name, profile)


@contextmanager
def role(name: str):
    """Run the block as ``name`` (``driver``, ``video``, ``audio``): its stages are counted under that role."""
    old = getattr(_local, "role", None)
    _local.role = name
    try:
        yield
    finally:
        _local.role = old


def current_role() -> str | None:
    """This thread's role (None outside ``role``), to hand on to a thread that works for it."""
    return getattr(_local, "role", None)


def timed_iter(name: str, iterable):
    """Yield from ``iterable``, timing each step of it (e.g. a decoder's frames) as stage ``name``."""
    it = iter(iterable)
    while True:
        with stage(name):
            try:
                item = next(it)
            except StopIteration:
                return
        yield item
