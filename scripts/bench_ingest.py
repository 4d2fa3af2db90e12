#!/usr/bin/env python3
"""Ingest benchmark on real media: speed against plain decoding of the same file, frames kept,
detector batch sizes, and memory over the video's length.

Media: a 720p video with real speech (Big Buck Bunny's 720p video looped under the 30 s
two-speaker call from pyannote-audio), and a long one made by concatenating it (10 min by default).

    python scripts/bench_ingest.py [--long-minutes 10] [--skip-long]

Target on a 2-core machine: >= 3x realtime for 720p with speech; memory flat in the video's length.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator import weights  # noqa: E402
from orchestrator.pipeline import Ingestor, Services  # noqa: E402

BENCH_DIR = Path(os.environ.get("VDET_BENCH_DIR", Path.home() / ".cache/video-detective/bench"))


def build_media(long_minutes: int) -> tuple[Path, Path]:
    media = weights.fetch_test_media(Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media")), log=lambda *_: None)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    short = BENCH_DIR / "speech_720p_30s.mp4"
    if not short.exists():
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-stream_loop",
                "-1",
                "-i",
                str(media / "bigbuckbunny.mp4"),
                "-i",
                str(media / "sample.wav"),
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-t",
                "30",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-g",
                "100",
                "-c:a",
                "aac",
                "-shortest",
                str(short),
            ],
            check=True,
        )
    long = BENCH_DIR / f"speech_720p_{long_minutes}min.mp4"
    if not long.exists():
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write(f"file '{short}'\n" * (long_minutes * 2))
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", fh.name, "-c", "copy", str(long)], check=True)
        os.unlink(fh.name)
    return short, long


def plain_decode_s(path: Path) -> float:
    """Baseline: decode every video frame and all the audio with PyAV (threaded), nothing else."""
    import av

    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        for _ in c.decode(video=0):
            pass
    with av.open(str(path)) as c:
        for _ in c.decode(audio=0):
            pass
    return time.perf_counter() - t0


def rss_mb(pid: int | None = None) -> float:
    path = f"/proc/{pid or 'self'}/status"
    for line in open(path):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def group_rss_mb(pgid: int) -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    total += rss_mb(int(entry))
            except (OSError, ProcessLookupError):
                pass
    return total


def run(path: Path, services: Services, label: str) -> dict:
    decode_s = plain_decode_s(path)
    models = services.models()
    before = models.batch_stats("detector")
    rss_per_window: list[float] = []
    triton_pgid = services._triton.process.pid if services._triton else None  # noqa: SLF001
    triton_peak = [0.0]

    def on_progress(_msg):
        rss_per_window.append(rss_mb())
        if triton_pgid:
            triton_peak[0] = max(triton_peak[0], group_rss_mb(triton_pgid))

    with tempfile.TemporaryDirectory(prefix="vdet-bench-") as home:
        t0 = time.perf_counter()
        summary = Ingestor(Path(home), services).ingest(path, on_progress=on_progress)
        wall = time.perf_counter() - t0
    after = models.batch_stats("detector")
    models.close()
    batches = {b: after.get(b, 0) - before.get(b, 0) for b in after if after.get(b, 0) - before.get(b, 0) > 0}
    return {
        "label": label,
        "duration_s": summary.duration_s,
        "wall_s": wall,
        "x_realtime": summary.duration_s / wall,
        "decode_s": decode_s,
        "ingest_over_decode": wall / decode_s,
        "frames_scanned": summary.frames_scanned,
        "frames_kept": summary.frames_kept,
        "events": summary.events,
        "counts": summary.counts,
        "batches": batches,
        "rss_first_mb": rss_per_window[min(2, len(rss_per_window) - 1)],
        "rss_last_mb": rss_per_window[-1],
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "triton_peak_mb": triton_peak[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--long-minutes", type=int, default=10)
    parser.add_argument("--skip-long", action="store_true")
    args = parser.parse_args()
    short, long = build_media(args.long_minutes)
    print(f"media: {short.name}, {long.name}; {os.cpu_count()} CPU cores", flush=True)
    results = []
    with Services() as services:
        results.append(run(short, services, "720p + speech, 30 s"))
        if not args.skip_long:
            results.append(run(long, services, f"720p + speech, {args.long_minutes} min"))
    print()
    print(
        f"{'video':26} {'wall s':>8} {'x realtime':>10} {'decode s':>9} {'ingest/decode':>13} {'kept/scanned':>13} {'events':>7} "
        f"{'RSS first→last MB':>18} {'peak MB':>8} {'Triton MB':>9}"
    )
    for r in results:
        print(
            f"{r['label']:26} {r['wall_s']:8.1f} {r['x_realtime']:10.2f} {r['decode_s']:9.2f} {r['ingest_over_decode']:13.2f} "
            f"{r['frames_kept']:>6}/{r['frames_scanned']:<6} {r['events']:7d} {r['rss_first_mb']:8.0f} → {r['rss_last_mb']:<7.0f} "
            f"{r['rss_peak_mb']:8.0f} {r['triton_peak_mb']:9.0f}"
        )
    for r in results:
        print(f"detector batch sizes executed by Triton ({r['label']}): {r['batches']}")
        print(f"events by kind ({r['label']}): {r['counts']}")
    target_ok = results[0]["x_realtime"] >= 3.0
    print(f"\ntarget >= 3x realtime for 720p with speech: {'met' if target_ok else 'NOT met'} ({results[0]['x_realtime']:.2f}x)")
    if len(results) > 1:
        growth = results[1]["rss_last_mb"] - results[1]["rss_first_mb"]
        print(
            f"memory over {results[1]['duration_s'] / 60:.0f} min: {results[1]['rss_first_mb']:.0f} MB after 3 windows → "
            f"{results[1]['rss_last_mb']:.0f} MB at the end ({growth:+.0f} MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
