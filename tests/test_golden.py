"""Golden fingerprint: the ground-truth clip's events and relations, per kind, as the pipeline produced them when
this file was last written. A refactor must leave them unchanged; a lane whose output changes on purpose updates
its line here in the same commit (``VDET_WRITE_GOLDEN=1 pytest tests/test_golden.py``) and says why."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from orchestrator.graph import EventGraph

GOLDEN = Path(__file__).parent / "data" / "golden_fingerprint.json"


def fingerprint(graph: EventGraph, video_id: str) -> dict[str, str]:
    """Per event kind (and for relations), a digest of what is there: labels, times to 0.1 s, track ids, text; relations
    by the events they join (not by their ids, which say nothing about behaviour)."""
    rows: dict[str, list] = {}
    name = {}
    for e in graph.events(video_id):
        name[e["id"]] = [e["kind"], e["label"], round(e["t_start"], 1)]
        rows.setdefault(e["kind"], []).append([e["label"], round(e["t_start"], 1), round(e["t_end"], 1), e["track_id"], " ".join((e["text"] or "").split())])
    rels = graph.con.execute("SELECT src, dst, kind FROM relations WHERE video_id = ?", [video_id]).fetchall()
    rows["relations"] = [[name.get(src, src), name.get(dst, dst), kind] for src, dst, kind in rels]
    return {k: f"{len(v)}:" + hashlib.sha256(json.dumps(sorted(v, key=str)).encode()).hexdigest()[:16] for k, v in sorted(rows.items())}


def test_ground_truth_clip_fingerprint(gt_ingested):
    summary, _events, _messages, _truth, home = gt_ingested
    with EventGraph(Path(home) / "events.duckdb", read_only=True) as g:
        got = fingerprint(g, summary.video_id)
    if os.environ.get("VDET_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert got == want, "the pipeline's output changed; if on purpose, rewrite the golden file (see the docstring)"
