#!/usr/bin/env python3
"""Ingest benchmark on real media: speed against plain decoding of the same file, frames kept,
detector batch sizes, and memory over the video's length.

Media: a 720p video with real speech (Big Buck Bunny's 720p video looped under the 30 s
two-speaker call from pyannote-audio), and a long one made by concatenating it (10 min by default).

    python scripts/bench_ingest.py [--long-minutes 10] [--skip-long] [--skip-short] [--profile]
    python scripts/bench_ingest.py --decoders decord,pyav    # the ingest plan once per frame decoder, side by side
    python scripts/bench_ingest.py --readers [--reader-minutes 3,10]   # the frame readers alone: CPU, wall, memory

Target on a 2-core machine: >= 10x realtime for 720p with speech (ingest <= 2.6x plain decode); memory flat in the
video's length (peak RSS of every process: the orchestrator, Triton's server and each model's stub, redis-server).
``--profile`` prints where the wall time goes: per role (the driver, the video and audio halves of the analysis) and
stage, seconds per video hour and share of wall, the Triton calls split into server time, queue and transfer, CPU
seconds per process, and how well the roles overlap on the cores.
``--decoders`` runs the plan once per frame decoder (``VDET_DECODER`` in each file's process), each with its own
plain-decode baseline, and prints the ratios side by side. ``--readers`` reads each file window by window as the
ingest's video half does (windows of ``VDET_WINDOW_S``, the gate's scan rate and size) with each frame reader in a
process of its own: CPU and wall seconds per video minute, RSS growth over the reader's first window and peak RSS over
the process's baseline; then whether both readers gave the same frames (times, largest pixel difference).
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator import analysis, profiling, weights  # noqa: E402
from orchestrator.pipeline import Ingestor, Services  # noqa: E402
from orchestrator.triton_server import TritonServer  # noqa: E402

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


def _status_mb(pid: int | str, field: str) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int | None = None) -> float:
    return _status_mb(pid or "self", "VmRSS")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class IngestProcesses:
    """Every process of an ingest: this one, Triton's server and each of its python-backend stubs (named by model),
    redis-server; their CPU seconds and peak RSS (VmHWM, reset through clear_refs before each run), with RSS sampled
    every 0.5 s besides (a peak the kernel cannot reset is still seen)."""

    def __init__(self, services: Services, triton: TritonServer | None = None):
        self.services = services
        self.triton = triton or services._triton  # noqa: SLF001 - the bench looks at the processes Services started
        self.samples: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pids(self) -> dict[str, int]:
        out = {"orchestrator": os.getpid()}
        triton = self.triton
        if triton is not None:
            out["triton server"] = triton.process.pid
            for entry in os.listdir("/proc"):
                if not entry.isdigit() or int(entry) == triton.process.pid:
                    continue
                try:
                    if os.getpgid(int(entry)) != triton.process.pid:
                        continue
                    argv = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
                except OSError:
                    continue
                model = next((Path(a.decode()).parent.parent.name for a in argv if a.endswith(b"/1/model.py")), None)
                if model:
                    out[f"stub {model}"] = int(entry)
        redis = self.services._redis  # noqa: SLF001
        if redis is not None:
            out["redis-server"] = redis.process.pid
        return out

    def start(self) -> None:
        for pid in self.pids().values():
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as fh:
                    fh.write("5")  # resets VmHWM to the current RSS
            except OSError:
                pass
        self.samples = {}
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for name, pid in self.pids().items():
                self.samples[name] = max(self.samples.get(name, 0.0), rss_mb(pid))

    def stop(self) -> dict[str, float]:
        """Peak RSS (MB) of each process since ``start``."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        return {name: max(_status_mb(pid, "VmHWM"), self.samples.get(name, 0.0)) for name, pid in self.pids().items()}

    def cpu(self) -> dict[str, float]:
        return {name: cpu_s(pid) for name, pid in self.pids().items()}


def triton_stats(models, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per model, server-side seconds so far: ``busy`` (input + execute + output, summed over executed batches, so a
    batch of 8 counts once), ``queue`` (summed over requests), and the request count."""
    out = {}
    for name in names:
        try:
            entry = models.client.get_inference_statistics(name)["model_stats"][0]
        except Exception:  # noqa: BLE001 - a model this Triton does not serve
            continue
        busy = sum(int(b[k]["ns"]) for b in entry.get("batch_stats", []) for k in ("compute_input", "compute_infer", "compute_output")) / 1e9
        inf = entry.get("inference_stats", {})
        out[name] = {"busy": busy, "queue": int(inf.get("queue", {}).get("ns", 0)) / 1e9, "requests": int(inf.get("success", {}).get("count", 0))}
    return out


MODELS = ("detector", "asr", "sound_tagger", "audio_tagger", "embedder")
# the client-side stage that calls each model (profiling.stage names in model_clients.py)
CLIENT_STAGE = {
    "detector": "detector (Triton)",
    "asr": "ASR (Triton)",
    "sound_tagger": "sound tagger (Triton)",
    "audio_tagger": "AudioSet tagger (Triton)",
    "embedder": "embeddings (Triton)",
}


def run(path: Path, services: Services, label: str, profile: bool = False, triton: TritonServer | None = None) -> dict:
    decode_s = plain_decode_s(path)
    models = services.models()
    before = models.batch_stats("detector")
    stats_before = triton_stats(models, MODELS)
    procs = IngestProcesses(services, triton)
    cpu_before = procs.cpu()
    rss_per_window: list[float] = []
    procs.start()
    recorder = profiling.enable() if profile else None

    def on_progress(_msg):
        rss_per_window.append(rss_mb())

    try:
        with tempfile.TemporaryDirectory(prefix="vdet-bench-") as home:
            t0 = time.perf_counter()
            summary = Ingestor(Path(home), services).ingest(path, on_progress=on_progress)
            wall = time.perf_counter() - t0
    finally:
        profiling.disable()
        peaks = procs.stop()
    cpu_after = procs.cpu()
    after = models.batch_stats("detector")
    stats_after = triton_stats(models, MODELS)
    models.close()
    batches = {b: after.get(b, 0) - before.get(b, 0) for b in after if after.get(b, 0) - before.get(b, 0) > 0}
    server = {
        m: {k: stats_after[m][k] - stats_before.get(m, {}).get(k, 0) for k in stats_after[m]}
        for m in stats_after
        if stats_after[m]["requests"] - stats_before.get(m, {}).get("requests", 0) > 0
    }
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
        "rss_per_window_mb": rss_per_window,
        "peaks_mb": peaks,
        "cpu_s": {k: cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0) for k in cpu_after},
        "server": server,
        "stages": recorder.snapshot() if recorder else None,
    }


def run_fresh(path: Path, label: str, profile: bool) -> dict:
    """One file's ingest with fresh servers: each one's peak memory is its own (a patient start: the machine may be busy)."""
    with TritonServer.start(timeout_s=900) as triton:
        os.environ["TRITON_URL"] = triton.http_url
        try:
            with Services() as services:
                return run(path, services, label, profile=profile, triton=triton)
        finally:
            del os.environ["TRITON_URL"]


def print_profile(r: dict) -> None:
    """Per role and stage: own seconds per video hour, share of wall, CPU; then the Triton calls split into server
    time, queue and transfer; then how busy the two cores and the three roles were."""
    wall, per_h = r["wall_s"], 3600.0 / r["duration_s"]
    stages = r["stages"]
    cores = os.cpu_count() or 1
    print(f"\nstage profile: {r['label']} (wall {wall:.1f} s, {r['x_realtime']:.2f}x realtime; own time of each stage, nested stages counted once)")
    print(f"{'role':7} {'stage':28} {'s/video h':>10} {'% of wall':>10} {'CPU s/video h':>14} {'calls':>7}")
    busy = {}
    for role in ("driver", "video", "audio"):
        rows = sorted(((k[1], v) for k, v in stages.items() if k[0] == role), key=lambda kv: -kv[1].own_s)
        busy[role] = sum(v.own_s for name, v in rows if not name.startswith("wait for"))  # waiting is not being busy
        for name, v in rows:
            print(f"{role:7} {name:28} {v.own_s * per_h:10.0f} {100 * v.own_s / wall:9.1f}% {v.own_cpu_s * per_h:14.0f} {v.calls:7d}")
    driver = {k[1]: v for k, v in stages.items() if k[0] == "driver"}
    named = sum(v.own_s for n, v in driver.items() if n != "other")
    print(
        f"\ncritical path (the driver): named stages {named:.1f} s = {100 * named / wall:.1f} % of wall; unnamed 'other' "
        f"{driver.get('other').own_s if 'other' in driver else 0:.2f} s; the bench's own overhead {wall - sum(v.own_s for v in driver.values()):.2f} s"
    )
    for role in ("video", "audio"):
        rows = {k[1]: v for k, v in stages.items() if k[0] == role}
        total = sum(v.own_s for v in rows.values())
        if total:
            print(
                f"{role} half: {total:.1f} s on its threads ({100 * total / wall:.0f} % of wall; lanes side by side each count), named stages "
                f"{100 * (total - rows['other'].own_s) / total:.1f} % of it"
            )
    print(f"\n{'Triton model':14} {'client s/h':>10} {'server s/h':>10} {'transfer+':>10} {'queue s/h':>10} {'stub CPU s/h':>12} {'requests':>9}")
    for model, s in r["server"].items():
        client = sum(v.own_s for k, v in stages.items() if k[1] == CLIENT_STAGE.get(model))
        print(
            f"{model:14} {client * per_h:10.0f} {s['busy'] * per_h:10.0f} {max(client - s['busy'], 0) * per_h:10.0f} {s['queue'] * per_h:10.0f} "
            f"{r['cpu_s'].get('stub ' + model, 0) * per_h:12.0f} {int(s['requests']):9d}"
        )
    print(
        "  (server: the model's input, execute and output time per executed batch; transfer+: the client's wall time minus that: HTTP,\n"
        "   (de)serialisation, waiting for a core; queue: time requests waited for the model's one instance, summed over requests in flight)"
    )
    total_cpu = sum(r["cpu_s"].values())
    staged_cpu = sum(v.own_cpu_s for v in stages.values())
    print(
        f"\norchestrator CPU: {r['cpu_s'].get('orchestrator', 0) * per_h:.0f} s per video hour, of it {staged_cpu * per_h:.0f} on the threads that ran the "
        f"stages (the CPU column above); the rest, {(r['cpu_s'].get('orchestrator', 0) - staged_cpu) * per_h:.0f}, ran on native threads "
        "(decord's decoder threads, the HTTP client's, ONNX Runtime's, DuckDB's)"
    )
    print("\nCPU seconds per video hour by process: " + ", ".join(f"{k} {v * per_h:.0f}" for k, v in sorted(r["cpu_s"].items(), key=lambda kv: -kv[1])))
    print(
        f"cores: {total_cpu:.1f} CPU s over {wall:.1f} s wall on {cores} cores = {100 * total_cpu / (cores * wall):.0f} % busy "
        f"(idle {max(cores * wall - total_cpu, 0) * per_h:.0f} core-s per video hour; other users of the machine not counted)"
    )
    print(
        "overlap: busy time of driver {:.1f} s + video {:.1f} s + audio {:.1f} s = {:.2f}x the wall time (1.0: no overlap)".format(
            busy["driver"], busy["video"], busy["audio"], sum(busy.values()) / wall
        )
    )


READERS = ("decord", "pyav")


def read_like_the_ingest(path: Path, backend: str) -> dict:
    """Read one file window by window with one frame reader, as the video half does; CPU, wall and memory of it."""
    import resource

    from orchestrator import media
    from orchestrator.config import IngestConfig
    from orchestrator.media import FrameReader, probe

    cfg = IngestConfig()
    info = probe(path)
    backend, _, threads = backend.partition(":")  # "pyav:NONE": the selective reader without FFmpeg's threads
    if threads:
        media.PYAV_THREAD_TYPE = threads
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # VmHWM from here on
    base = rss_mb()
    usage0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    reader = FrameReader(info, cfg.sampling.max_side, backend=backend)
    frames, rss = 0, []
    start = 0.0
    while start < info.duration_s:
        for _t, _rgb in reader.read(start, min(start + cfg.window_s, info.duration_s + 1e-3), cfg.sampling.scan_fps):
            frames += 1
        rss.append(rss_mb())
        start += cfg.window_s
    wall = time.perf_counter() - t0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage1.ru_utime - usage0.ru_utime + usage1.ru_stime - usage0.ru_stime
    minutes = info.duration_s / 60.0
    return {
        "file": path.name,
        "backend": reader.backend + (f":{threads}" if threads else ""),
        "minutes": minutes,
        "frames": frames,
        "cpu_s_per_min": cpu / minutes,
        "wall_s_per_min": wall / minutes,
        "growth_mb": rss[-1] - rss[0],
        "peak_over_base_mb": _status_mb("self", "VmHWM") - base,
    }


def same_frames(path: Path, window_s: float = 20.0, fps: float = 4.0, max_side: int = 640) -> dict:
    """Both CPU readers over the whole file, window by window: equal times? the largest pixel difference."""
    import numpy as np

    from orchestrator.media import FrameReader, probe

    info = probe(path)
    readers = {name: FrameReader(info, max_side, backend=name) for name in READERS}
    n, times_equal, max_diff = 0, True, 0
    start = 0.0
    while start < info.duration_s:
        a, b = (list(readers[name].read(start, start + window_s, fps)) for name in READERS)
        times_equal &= [t for t, _ in a] == [t for t, _ in b]
        max_diff = max([max_diff] + [int(np.abs(x.astype(np.int16) - y.astype(np.int16)).max()) for (_, x), (_, y) in zip(a, b)])
        n += len(a)
        start += window_s
    return {"file": path.name, "frames": n, "times_equal": times_equal, "max_abs_diff": max_diff, "backends": {k: r.backend for k, r in readers.items()}}


def bench_readers(files: list[Path], readers: tuple[str, ...] = READERS) -> None:
    rows = []
    for path in files:
        for backend in readers:
            with tempfile.TemporaryDirectory(prefix="vdet-bench-") as tmp:
                out = Path(tmp) / "result.pickle"
                child = [sys.executable, str(Path(__file__).resolve()), "--reader-child", backend, str(path), "--result", str(out)]
                subprocess.run(child, check=True)
                rows.append(pickle.loads(out.read_bytes()))
    print(f"\n{'file':26} {'reader':10} {'min':>5} {'frames':>7} {'CPU s/min':>10} {'wall s/min':>11} {'RSS growth MB':>14} {'peak over base MB':>18}")
    for r in rows:
        print(
            f"{r['file']:26} {r['backend']:10} {r['minutes']:5.1f} {r['frames']:7d} {r['cpu_s_per_min']:10.2f} {r['wall_s_per_min']:11.2f} "
            f"{r['growth_mb']:14.0f} {r['peak_over_base_mb']:18.0f}"
        )
    print("\nsame frames from both readers (every window of the file):")
    for path in files:
        r = same_frames(path)
        print(f"  {r['file']:26} {r['frames']:6d} frames, times equal: {r['times_equal']}, largest pixel difference: {r['max_abs_diff']} ({r['backends']})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--long-minutes", type=int, default=10)
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--skip-short", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print where the wall time goes, per role and stage (orchestrator/profiling.py)")
    parser.add_argument("--serial-lanes", action="store_true", help="run the lanes of a source one after another (analysis.PARALLEL_LANES off), to compare")
    parser.add_argument("--same-process", action="store_true", help="ingest every file in this process (default: each in a fresh process of its own)")
    parser.add_argument("--decoders", help="comma-separated frame decoders (VDET_DECODER values: decord,pyav) to run the plan with, one after another")
    parser.add_argument("--readers", action="store_true", help="benchmark the frame readers alone (decord, pyav) on the test media and the bench files")
    parser.add_argument("--reader-minutes", default="3,10", help="lengths (minutes) of the long bench files --readers reads besides the 30 s one")
    parser.add_argument("--reader-files", nargs="*", default=[], help="more files for --readers to read")
    parser.add_argument("--reader-kinds", default=",".join(READERS), help="readers for --readers (pyav:NONE: PyAV's without FFmpeg's threads)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child: run only this file of the plan ...
    parser.add_argument("--result", help=argparse.SUPPRESS)  # ... and pickle its result here
    parser.add_argument("--reader-child", nargs=2, metavar=("READER", "FILE"), help=argparse.SUPPRESS)  # a --readers child
    args = parser.parse_args()
    if args.reader_child:
        Path(args.result).write_bytes(pickle.dumps(read_like_the_ingest(Path(args.reader_child[1]), args.reader_child[0])))
        return 0
    if args.readers:
        minutes = [int(m) for m in args.reader_minutes.split(",") if m.strip()]
        longs = [build_media(m)[1] for m in minutes]
        media = Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media"))
        kinds = tuple(k.strip() for k in args.reader_kinds.split(",") if k.strip())
        bench_readers([media / "bikes.mp4", build_media(minutes[0] if minutes else 10)[0], *longs, *map(Path, args.reader_files)], kinds)
        return 0
    if args.decoders:
        return run_per_decoder(args, [d.strip() for d in args.decoders.split(",") if d.strip()])
    analysis.PARALLEL_LANES = not args.serial_lanes
    short, long = build_media(args.long_minutes)
    if args.one is None:
        print(
            f"media: {short.name}, {long.name}; {os.cpu_count()} CPU cores; lanes {'in parallel' if analysis.PARALLEL_LANES else 'one after another'}",
            flush=True,
        )
    results = []
    plan = ([] if args.skip_short else [(short, "720p + speech, 30 s")]) + ([] if args.skip_long else [(long, f"720p + speech, {args.long_minutes} min")])
    if not plan:
        parser.error("nothing to run: drop --skip-short or --skip-long")
    if args.one is not None:
        path, label = plan[args.one]
        Path(args.result).write_bytes(pickle.dumps(run_fresh(path, label, args.profile)))
        return 0
    for i, (path, label) in enumerate(plan):
        if args.same_process:
            results.append(run_fresh(path, label, args.profile))
            continue
        # a process of its own per file: its peak RSS is that file's, not what an earlier file's ingest left behind (in
        # one process the 3 min file's first window read 1,328 MB after the 30 s file's ingest)
        with tempfile.TemporaryDirectory(prefix="vdet-bench-") as tmp:
            out = Path(tmp) / "result.pickle"
            child = [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:], "--one", str(i), "--result", str(out)]
            subprocess.run(child, check=True)
            results.append(pickle.loads(out.read_bytes()))
    print()
    print(
        f"{'video':26} {'wall s':>8} {'x realtime':>10} {'decode s':>9} {'ingest/decode':>13} {'kept/scanned':>13} {'events':>7} "
        f"{'RSS first→last MB':>18} {'largest peak MB':>16}"
    )
    for r in results:
        print(
            f"{r['label']:26} {r['wall_s']:8.1f} {r['x_realtime']:10.2f} {r['decode_s']:9.2f} {r['ingest_over_decode']:13.2f} "
            f"{r['frames_kept']:>6}/{r['frames_scanned']:<6} {r['events']:7d} {r['rss_first_mb']:8.0f} → {r['rss_last_mb']:<7.0f} "
            f"{max(r['peaks_mb'].values()):16.0f}"
        )
    for r in results:
        print(f"detector batch sizes executed by Triton ({r['label']}): {r['batches']}")
        print(f"events by kind ({r['label']}): {r['counts']}")
    names = sorted({n for r in results for n in r["peaks_mb"]}, key=lambda n: -max(r["peaks_mb"].get(n, 0) for r in results))
    print("\npeak RSS (MB) of every process of the ingest:")
    print(f"{'process':22} " + " ".join(f"{r['label'][-12:]:>12}" for r in results) + ("  long/short" if len(results) > 1 else ""))
    for n in names:
        row = [r["peaks_mb"].get(n, 0.0) for r in results]
        ratio = f"  {row[-1] / row[0]:10.2f}" if len(row) > 1 and row[0] else ""
        print(f"{n:22} " + " ".join(f"{v:12.0f}" for v in row) + ratio)
    target_ok = results[0]["x_realtime"] >= 10.0
    print(
        f"\ntarget >= 10x realtime (ingest <= 2.6x plain decode) for 720p with speech: {'met' if target_ok else 'NOT met'} "
        f"({results[0]['x_realtime']:.2f}x, {results[0]['ingest_over_decode']:.2f}x decode)"
    )
    if len(results) > 1:
        growth = results[1]["rss_last_mb"] - results[1]["rss_first_mb"]
        print(
            f"orchestrator memory over {results[1]['duration_s'] / 60:.0f} min: {results[1]['rss_first_mb']:.0f} MB after 3 windows → "
            f"{results[1]['rss_last_mb']:.0f} MB at the end ({growth:+.0f} MB)"
        )
    for r in results:
        print(f"orchestrator RSS (MB) after each progress message ({r['label']}): " + " ".join(f"{v:.0f}" for v in r["rss_per_window_mb"]))
    if args.profile:
        for r in results:
            print_profile(r)
    return 0


def run_per_decoder(args, decoders: list[str]) -> int:
    """The plan once per decoder, each file in a process of its own (as without --decoders), then the ratios side by side,
    with the load average over each run (the machine may be shared)."""
    from orchestrator.media import DECODERS

    bad = [d for d in decoders if d not in DECODERS]
    if bad:
        raise SystemExit(f"--decoders: {', '.join(bad)} not among {', '.join(DECODERS)}")
    short, long = build_media(args.long_minutes)
    plan = ([] if args.skip_short else [(short, "720p + speech, 30 s")]) + ([] if args.skip_long else [(long, f"720p + speech, {args.long_minutes} min")])
    argv = sys.argv[1:]
    passed = [a for i, a in enumerate(argv) if not a.startswith("--decoders") and not (i > 0 and argv[i - 1] == "--decoders")]
    results: dict[str, list[dict]] = {d: [] for d in decoders}
    for i, (_, label) in enumerate(plan):  # file by file, the decoders back to back: the same load on the machine, near enough
        for decoder in decoders:
            print(f"\n=== {label}, frame decoder {decoder} ===", flush=True)
            with tempfile.TemporaryDirectory(prefix="vdet-bench-") as tmp:
                out = Path(tmp) / "result.pickle"
                child = [sys.executable, str(Path(__file__).resolve()), *passed, "--one", str(i), "--result", str(out)]
                load0 = os.getloadavg()[0]
                subprocess.run(child, check=True, env={**os.environ, "VDET_DECODER": decoder})
                results[decoder].append({**pickle.loads(out.read_bytes()), "load": (load0, os.getloadavg()[0])})
    print(
        f"\n{'video':26} {'decoder':8} {'wall s':>8} {'x realtime':>10} {'decode s':>9} {'ingest/decode':>13} {'kept/scanned':>13} {'events':>7} {'orch. CPU s':>11} {'orch. peak MB':>13} {'load':>10}"
    )
    for i, (_, label) in enumerate(plan):
        for decoder in decoders:
            r = results[decoder][i]
            print(
                f"{label:26} {decoder:8} {r['wall_s']:8.1f} {r['x_realtime']:10.2f} {r['decode_s']:9.2f} {r['ingest_over_decode']:13.2f} "
                f"{r['frames_kept']:>6}/{r['frames_scanned']:<6} {r['events']:7d} {r['cpu_s'].get('orchestrator', 0):11.1f} {r['peaks_mb'].get('orchestrator', 0):13.0f} "
                f"{r['load'][0]:4.1f}→{r['load'][1]:<4.1f}"
            )
    for i, (_, label) in enumerate(plan):
        counts = {d: results[d][i]["counts"] for d in decoders}
        same = len({repr(sorted(c.items())) for c in counts.values()}) == 1
        print(f"events by kind ({label}): " + ("the same with every decoder: " + str(counts[decoders[0]]) if same else str(counts)))
    if args.profile:
        for decoder in decoders:
            for r in results[decoder]:
                r["label"] = f"{r['label']}, {decoder}"
                print_profile(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
