#!/usr/bin/env python3
"""Library search latency on a 100-hour graph: search over every video of a home (words, and words plus a query
vector), against a plain single-video query in the same run.

The library is built by replicating source windows (their events and embeddings) with time offsets into several
videos until the hours are filled. Sources: real short videos ingested here with Triton (the default, as
scripts/bench_query.py does), or with --synthetic the scenes of tests/synthetic_graph.py (no models; quick).

    python scripts/bench_library.py [--hours 100] [--videos 20] [--repeat 5] [--synthetic]

Target on a 2-core machine: p95 library search <= 300 ms on 100 hours.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import numpy as np  # noqa: E402

from orchestrator.graph import EventGraph, Match  # noqa: E402
from orchestrator.library import search  # noqa: E402

QUERIES = [
    "white car",
    "person",
    "delivery",
    "alarm",
    "dog",
    "exit",
    "someone talking about the station",
    "red",
    "ringing phone",
    "leave the building",
    "truck moving left",
    "goodbye",
]


def synthetic_sources(graph: EventGraph) -> list[tuple[str, float]]:
    """The 80 s scene of tests/synthetic_graph.py (speech, people, cars, a ring, an alarm, on-screen text, a cut): 12 events."""
    from synthetic_graph import CLIP_DURATION, CLIP_EVENTS, add_video  # noqa: PLC0415

    add_video(graph.con, "src-clip", CLIP_DURATION, CLIP_EVENTS)
    return [("src-clip", CLIP_DURATION)]


def real_sources(home: Path, services) -> list[tuple[str, float]]:
    import os  # noqa: PLC0415

    from bench_ingest import build_media  # noqa: PLC0415
    from media_factory import make_ground_truth_clip  # noqa: PLC0415

    from orchestrator import weights  # noqa: PLC0415
    from orchestrator.pipeline import Ingestor  # noqa: PLC0415

    media = weights.fetch_test_media(Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media")), log=lambda *_: None)
    short, _ = build_media(10)
    gt = home.parent / "ground_truth.mp4"
    make_ground_truth_clip(gt, media / "zidane.jpg", (700, 40, 1150, 720), home.parent)
    out = []
    for path in (short, media / "bikes.mp4", gt):
        s = Ingestor(home, services).ingest(path)
        out.append((s.video_id, s.duration_s))
        print(f"ingested {path.name}: {s.events} events", flush=True)
    return out


def build_library(graph: EventGraph, sources: list[tuple[str, float]], hours: float, n_videos: int) -> list[str]:
    """``n_videos`` videos of ``hours / n_videos`` each, every one the sources back to back, repeated with time offsets."""
    con = graph.con
    cycle = sum(d for _, d in sources)
    per_video = hours * 3600 / n_videos
    copies = max(1, int(per_video // cycle))
    ids = []
    con.execute("BEGIN")
    for k in range(n_videos):
        vid = f"lib{k:03d}"
        ids.append(vid)
        con.execute(
            "INSERT INTO videos (video_id, name, path, duration_s, n_windows, status, window_s) VALUES (?, ?, ?, ?, ?, 'done', 20)",
            [vid, f"cam{k:03d}.mp4", f"/media/cam{k:03d}.mp4", copies * cycle, int(copies * cycle // 20) + 1],
        )
        offset = 0.0
        for src, dur in sources:
            con.execute(
                """INSERT INTO events SELECT ?, id || '-r' || CAST(c AS VARCHAR), kind, label, t_start + ? + c * ?, t_end + ? + c * ?,
                           confidence, text, track_id + CAST(c AS INTEGER) * 10000, window_idx, attrs
                           FROM events, range(?) r(c) WHERE video_id = ?""",
                [vid, offset, cycle, offset, cycle, copies, src],
            )
            con.execute(
                """INSERT INTO embeddings SELECT ?, event_id || '-r' || CAST(c AS VARCHAR), window_idx, vec
                           FROM embeddings, range(?) r(c) WHERE video_id = ?""",
                [vid, copies, src],
            )
            offset += dur
    con.execute("COMMIT")
    return ids


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=100.0)
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--synthetic", action="store_true", help="replicate tests/synthetic_graph.py scenes (no models needed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vdet-bench-lib-") as tmp:
        home = Path(tmp) / "home"
        if args.synthetic:
            from synthetic_graph import bag_embed  # noqa: PLC0415

            graph = EventGraph(home / "events.duckdb")
            sources, embed, close = synthetic_sources(graph), bag_embed, (lambda: None)
        else:
            from orchestrator.model_clients import TritonModels  # noqa: PLC0415
            from orchestrator.pipeline import Services, database_path  # noqa: PLC0415

            services = Services()
            services.__enter__()
            sources = real_sources(home, services)
            graph = EventGraph(database_path(home))
            models = TritonModels(services.triton_url)
            embed = models.embed

            def close() -> None:
                models.close()
                services.__exit__(None, None, None)

        t0 = time.perf_counter()
        ids = build_library(graph, sources, args.hours, args.videos)
        n_events = graph.con.execute(f"SELECT count(*) FROM events WHERE video_id IN ({','.join('?' * len(ids))})", ids).fetchone()[0]
        hours = graph.con.execute(f"SELECT sum(duration_s) / 3600 FROM videos WHERE video_id IN ({','.join('?' * len(ids))})", ids).fetchone()[0]
        print(
            f"built a {hours:.0f}-hour library: {len(ids)} videos, {n_events} events in {time.perf_counter() - t0:.1f} s "
            f"(sources: {'synthetic scenes' if args.synthetic else 'real ingested videos'})\n",
            flush=True,
        )
        vectors = {q: embed([q])[0].astype(np.float32).tolist() for q in QUERIES}  # embedded once: search time, not the embedder's
        fixed = lambda texts: np.asarray([vectors[t] for t in texts], np.float32)  # noqa: E731
        search(graph, "warm up", embed=fixed if "warm up" in vectors else None)
        src = sources[0][0]
        rows = {
            "single video, words (find_events)": [],
            "single video, vector (similar_events)": [],
            f"library {hours:.0f} h, words": [],
            f"library {hours:.0f} h, words + vector": [],
            f"library {hours:.0f} h, words, --kind speech": [],
        }
        names = list(rows)
        for _ in range(args.repeat):
            for q in QUERIES:
                pattern = f"%{q.split()[-1]}%"
                rows[names[0]].append(timed(lambda: graph.find_events(src, [Match(label_or_text_like=(pattern,))], limit=50)))
                rows[names[1]].append(timed(lambda: graph.similar_events(src, vectors[q], limit=24)))
                rows[names[2]].append(timed(lambda: search(graph, q)))
                rows[names[3]].append(timed(lambda: search(graph, q, embed=fixed)))
                rows[names[4]].append(timed(lambda: search(graph, q, kinds=("speech",))))
        close()
        graph.close()
    print(f"{'query':42} {'n':>4} {'p50 ms':>8} {'p95 ms':>8}")
    for name, values in rows.items():
        print(f"{name:42} {len(values):4d} {pct(values, 0.5):8.1f} {pct(values, 0.95):8.1f}")
    worst = max(pct(rows[n], 0.95) for n in names[2:])
    print(f"\ntarget: library search p95 <= 300 ms on {hours:.0f} h: {'met' if worst <= 300 else 'NOT met'} (worst p95 {worst:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
