"""The reliability report's short form: faults (SIGKILL, Triton killed, Redis restarted, VLM failures,
disk full, the app killed mid-ingest, two writers, a file removed mid-ingest), hostile input, auth and load, against the real servers. It must survive all and lose nothing."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_reliability_report_quick():
    out = subprocess.run([sys.executable, "scripts/reliability_report.py", "--quick"], cwd=REPO, capture_output=True, text=True, timeout=2400)
    lines = [line for line in out.stdout.strip().splitlines() if line.strip()]
    assert lines and lines[-1].endswith("data lost: 0"), out.stdout[-3000:] + out.stderr[-3000:]
    assert out.returncode == 0, out.stdout[-3000:]
    table = out.stdout
    for scenario in (
        "SIGKILL",
        "Triton killed",
        "Redis restarted",
        "VLM",
        "disk full",
        "hostile questions",
        "mutated media",
        "chat sessions",
        "app killed with SIGKILL",
        "second writer while the app runs",
        "two writers",
        "CLI-ingested video",
        "file removed",
        "--auth (2 users) with --preload",
    ):
        assert scenario in table, scenario
