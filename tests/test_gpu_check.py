"""scripts/gpu_check.sh runs its models (small, on the CPU with --cpu) and plan_capacity.py reads what it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gpu_check_on_the_cpu_feeds_the_capacity_plan(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHON": sys.executable}
    run = subprocess.run(
        [str(REPO / "scripts/gpu_check.sh"), "--cpu", "--seconds", "0.05", "--out", str(out)], capture_output=True, text=True, timeout=600, env=env
    )
    assert run.returncode == 0, run.stderr[-2000:]
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("GPU_CHECK ")
    doc = json.loads(out.read_text())
    assert doc == json.loads(last.removeprefix("GPU_CHECK "))
    assert doc["kind"] == "cpu" and doc["small_models"] is True
    assert set(doc["detector"]["frames_per_s"]) == {"1", "2"} and all(v > 0 for v in doc["detector"]["frames_per_s"].values())
    assert doc["embedder"]["texts_per_s"] > 0 and doc["whisper_encoder"]["tiny.en"]["x_realtime"] > 0

    # the plan reads the log as well as the file; its measured row uses the best detector batch
    log = tmp_path / "gpu_check.log"
    log.write_text(run.stdout)
    plan = subprocess.run([sys.executable, str(REPO / "scripts/plan_capacity.py"), "--measured", str(log)], capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    row = next(ln for ln in plan.stdout.splitlines() if ln.startswith("measured cpu"))
    best = max(doc["detector"]["frames_per_s"].values())
    assert f"detector {best:.0f} frames/s" in row and "not a GPU figure" in row


def test_plan_capacity_says_what_is_wrong_with_a_file_that_holds_no_result(tmp_path):
    bad = tmp_path / "log.txt"
    bad.write_text("gpu_check on cpu\nTraceback: something failed\n")
    plan = subprocess.run([sys.executable, str(REPO / "scripts/plan_capacity.py"), "--measured", str(bad)], capture_output=True, text=True, timeout=60)
    assert plan.returncode != 0
    assert plan.stderr.strip().count("\n") == 0 and "holds no GPU_CHECK result" in plan.stderr and "Traceback (most recent" not in plan.stderr
