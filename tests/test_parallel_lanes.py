"""The lanes of one source analyse a window side by side (orchestrator/analysis.py), results in lane order, errors raised."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from orchestrator import analysis
from orchestrator.lanes import Lane


class _Meet(Lane):
    """Waits until every lane of the test is running at once: lanes run one after another never get there."""

    source = "video"

    def __init__(self, name: str, barrier: threading.Barrier, fail: bool = False):
        self.name, self.barrier, self.fail = name, barrier, fail

    def analyse(self, task, media, models):
        self.barrier.wait(timeout=2)
        if self.fail:
            raise ValueError(f"{self.name} failed")
        return (self.name, threading.get_ident())


def test_lanes_run_side_by_side_and_keep_their_order():
    barrier = threading.Barrier(3)
    lanes = [_Meet(n, barrier) for n in ("motion", "objects", "text")]
    task = SimpleNamespace(triton_url="127.0.0.1:9")  # no model is called
    out = analysis._run_lanes(task, None, None, lanes)
    assert list(out) == ["motion", "objects", "text"]
    assert [v[0] for v in out.values()] == ["motion", "objects", "text"]
    assert out["motion"][1] == threading.get_ident() and len({v[1] for v in out.values()}) == 3


def test_serial_lanes_never_meet_and_a_lane_error_is_raised(monkeypatch):
    monkeypatch.setattr(analysis, "PARALLEL_LANES", False)
    barrier = threading.Barrier(2)
    with pytest.raises(threading.BrokenBarrierError):  # one after another: the first waits alone
        analysis._run_lanes(SimpleNamespace(triton_url="127.0.0.1:9"), None, None, [_Meet("motion", barrier), _Meet("text", barrier)])
    monkeypatch.setattr(analysis, "PARALLEL_LANES", True)
    barrier = threading.Barrier(2)
    with pytest.raises(ValueError, match="text failed"):
        analysis._run_lanes(SimpleNamespace(triton_url="127.0.0.1:9"), None, None, [_Meet("motion", barrier), _Meet("text", barrier, fail=True)])
