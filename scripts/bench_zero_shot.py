"""Cost of the zero-shot lanes on this machine: the look lane's frames and the sounds lane's clips through the
real Triton serving ``image_text`` and ``audio_text`` from the given Hugging Face folders.

    python scripts/bench_zero_shot.py --image-text DIR --audio-text DIR [--frames 24] [--clips 8]

Prints seconds per frame and per clip, and per video hour at the look lane's rate (one frame every
``lanes.look.EVERY_S`` seconds, scene starts aside) and per 100 sound events.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator import zero_shot  # noqa: E402
from orchestrator.lanes.look import EVERY_S  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-text", type=Path, required=True)
    parser.add_argument("--audio-text", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--clips", type=int, default=8)
    args = parser.parse_args(argv)
    for folder in (args.image_text, args.audio_text):
        if not (folder / "config.json").is_file():
            print(f"error: {folder} has no config.json: pass a Hugging Face model folder (scripts/zero_shot_random.py writes one)", file=sys.stderr)
            return 2
    os.environ["VDET_IMAGE_TEXT_WEIGHTS"], os.environ["VDET_AUDIO_TEXT_WEIGHTS"] = str(args.image_text), str(args.audio_text)
    from orchestrator.model_clients import TritonModels
    from orchestrator.triton_server import TritonServer

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (360, 640, 3), dtype=np.uint8) for _ in range(args.frames)]
    clips = [(0.3 * rng.standard_normal(int(16000 * 2.5))).astype(np.float32) for _ in range(args.clips)]
    with TritonServer.start(models=("image_text", "audio_text"), timeout_s=900) as server:
        models = TritonModels(server.http_url)
        zero_shot.embed_images(models, frames[:2]), zero_shot.embed_clips(models, clips[:1])  # warm
        t = time.perf_counter()
        for i in range(0, len(frames), 4):  # the lane's batch: about 4 frames a 20 s window
            zero_shot.embed_images(models, frames[i : i + 4])
        per_frame = (time.perf_counter() - t) / len(frames)
        t = time.perf_counter()
        zero_shot.embed_clips(models, clips)
        per_clip = (time.perf_counter() - t) / len(clips)
        t = time.perf_counter()
        zero_shot.embed_texts(models, "image_text", ["a person with an umbrella", *zero_shot.alternatives("a person with an umbrella", "image_text")])
        per_query = time.perf_counter() - t
    print(f"image_text: {per_frame * 1000:.1f} ms/frame -> {per_frame * 3600 / EVERY_S:.1f} s per video hour (one frame / {EVERY_S:.0f} s)")
    print(f"audio_text: {per_clip * 1000:.1f} ms per 2.5 s clip -> {per_clip * 100:.1f} s per 100 sound events")
    print(f"a phrase and its alternatives embedded: {per_query * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
