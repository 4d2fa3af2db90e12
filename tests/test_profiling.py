"""The ingest's stage timings (orchestrator/profiling.py): nested stages counted once, per thread role, off by default."""

from __future__ import annotations

import threading
import time

from orchestrator import profiling


def _busy(cpu_seconds: float) -> None:
    """Spin until this thread has used ``cpu_seconds`` of CPU (however busy the machine is)."""
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:
        pass


def test_nested_stages_count_their_own_time_once_per_role():
    recorder = profiling.enable()
    try:
        with profiling.role("video"), profiling.stage("objects lane"):
            _busy(0.05)
            with profiling.stage("detector (Triton)"):
                time.sleep(0.1)  # waiting: wall time, next to no CPU

        def audio() -> None:
            with profiling.role("audio"), profiling.stage("ASR (Triton)"):
                _busy(0.03)

        t = threading.Thread(target=audio)
        t.start()
        t.join()
        got = recorder.snapshot()
    finally:
        profiling.disable()
    lane, det, asr = got[("video", "objects lane")], got[("video", "detector (Triton)")], got[("audio", "ASR (Triton)")]
    assert lane.calls == det.calls == asr.calls == 1
    assert lane.wall_s >= 0.15 and det.own_s >= 0.1
    assert abs(lane.own_s - (lane.wall_s - det.wall_s)) < 1e-6  # the detector's time is not counted in the lane's own
    assert lane.own_s >= 0.05 and lane.own_s < lane.wall_s - 0.09
    assert det.own_cpu_s < 0.02 and 0.05 <= lane.own_cpu_s < 0.07  # sleeping costs no CPU, spinning does
    assert asr.own_s >= 0.03 and 0.03 <= asr.own_cpu_s < 0.05


def test_off_records_nothing_and_timed_iter_yields_everything():
    profiling.disable()
    assert profiling.stage("decode") is profiling.stage("gate")  # one shared do-nothing context
    assert list(profiling.timed_iter("decode", range(5))) == [0, 1, 2, 3, 4]
    recorder = profiling.enable()
    try:
        with profiling.role("video"):
            assert list(profiling.timed_iter("decode", iter([1, 2, 3]))) == [1, 2, 3]
    finally:
        profiling.disable()
    assert recorder.snapshot()[("video", "decode")].calls == 4  # three items and the step that ended it
