#!/usr/bin/env python3
"""GPU check: the throughput of the ingest's GPU models on this machine, from PyTorch and transformers alone.

No network, no TensorRT, no model weights: every model is built from its configuration with random weights (the
throughput of a network does not depend on its weights), in fp16 on the GPU:

- the detector: RT-DETR-v2 (r18vd, RT-DETRv2-S, 80 COCO classes) at 640x640, batches of 1, 8 and 32 frames;
- the embedder: an all-MiniLM-L6-v2-sized BERT (6 layers, 384 wide), batches of 64 texts of 32 tokens;
- Whisper-sized encoders (tiny.en and large-v3) on 30 s of log-mel input, batches of 1 and 8 (the encoder only: the
  decoder's token loop is not measured, so the ASR figure is an upper bound).

It prints one line per measurement and, last, one ``GPU_CHECK {json}`` line that ``scripts/plan_capacity.py
--measured FILE`` reads (``--out FILE`` writes the same JSON to a file). ``--cpu`` runs small versions of the same
models on the CPU in fp32 (a test that the check itself works; its figures are not GPU figures).

    scripts/gpu_check.sh                 # on the GPU machine, < 8 minutes
    scripts/gpu_check.sh --cpu --out /tmp/gpu_check.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

COCO_CLASSES = 80
OUT = ["stage2", "stage3", "stage4"]  # the backbone stages the encoder reads


def detector(small: bool):
    from transformers import RTDetrResNetConfig, RTDetrV2Config, RTDetrV2ForObjectDetection

    if small:  # thin r18-like layers, 30 queries: seconds on a CPU
        backbone = RTDetrResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1], layer_type="basic", out_features=OUT)
        config = RTDetrV2Config(
            backbone_config=backbone,
            encoder_in_channels=[32, 64, 128],
            encoder_hidden_dim=64,
            d_model=64,
            decoder_in_channels=[64, 64, 64],
            encoder_ffn_dim=128,
            decoder_ffn_dim=128,
            decoder_layers=2,
            num_queries=30,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            num_labels=COCO_CLASSES,
        )
    else:  # RT-DETRv2-S: ResNet-18-vd backbone, hidden 256, 3 decoder layers, 300 queries
        backbone = RTDetrResNetConfig(embedding_size=64, hidden_sizes=[64, 128, 256, 512], depths=[2, 2, 2, 2], layer_type="basic", out_features=OUT)
        config = RTDetrV2Config(backbone_config=backbone, encoder_in_channels=[128, 256, 512], decoder_layers=3, encoder_ffn_dim=1024, num_labels=COCO_CLASSES)
    return RTDetrV2ForObjectDetection(config)


def embedder(small: bool):
    from transformers import BertConfig, BertModel

    layers = 2 if small else 6
    return BertModel(BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=layers, num_attention_heads=12, intermediate_size=1536))


def whisper_encoder(size: str):
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    dims = {
        "tiny.en": dict(d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536, num_mel_bins=80),
        "large-v3": dict(d_model=1280, encoder_layers=32, encoder_attention_heads=20, encoder_ffn_dim=5120, num_mel_bins=128),
    }[size]
    return WhisperEncoder(WhisperConfig(**dims)), dims["num_mel_bins"]


def timed(torch, device: str, fn, seconds: float, warmup: int = 3, least: int = 3) -> tuple[float, int]:
    """Seconds per call of ``fn`` (mean over as many calls as fit in ``seconds``, at least ``least``) after ``warmup`` calls."""

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        sync()
        n, t0 = 0, time.perf_counter()
        while n < least or time.perf_counter() - t0 < seconds:
            fn()
            n += 1
            if n % 4 == 0 or n < 4:
                sync()
        sync()
        return (time.perf_counter() - t0) / n, n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu", action="store_true", help="small models on the CPU in fp32: checks the check itself, not a GPU figure")
    parser.add_argument("--seconds", type=float, default=None, help="time per measurement (default 5 on a GPU, 0.5 with --cpu)")
    parser.add_argument("--out", help="also write the JSON result here")
    args = parser.parse_args()
    try:
        import torch
        import transformers
    except ImportError as exc:
        print(f"gpu_check: {exc.name} is not installed; this check needs PyTorch and transformers (pip install torch transformers)", file=sys.stderr)
        return 2
    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: PyTorch sees no CUDA device; run on the GPU machine, or pass --cpu to check the script on this one", file=sys.stderr)
        return 2
    device = "cpu" if args.cpu else "cuda"
    dtype = torch.float32 if args.cpu else torch.float16
    small = args.cpu
    seconds = args.seconds if args.seconds is not None else (0.5 if args.cpu else 5.0)
    torch.manual_seed(0)
    name = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or platform.machine()
    result: dict = {
        "device": name,
        "kind": device,
        "dtype": str(dtype).removeprefix("torch."),
        "small_models": small,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    print(
        f"gpu_check on {name} ({device}, {result['dtype']}{', small models' if small else ''}), torch {torch.__version__}, transformers {transformers.__version__}"
    )
    started = time.perf_counter()

    side = 160 if small else 640
    warm, least = (1, 1) if small else (3, 3)
    model = detector(small).to(device, dtype).eval()
    result["detector"] = {"model": "RT-DETR-v2 " + ("tiny (r18-like, thin)" if small else "r18vd (RT-DETRv2-S)"), "input": side, "frames_per_s": {}}
    for batch in (1, 2) if small else (1, 8, 32):
        x = torch.rand(batch, 3, side, side, device=device, dtype=dtype)
        per_call, n = timed(torch, device, lambda: model(pixel_values=x), seconds, warm, least)
        fps = batch / per_call
        result["detector"]["frames_per_s"][str(batch)] = round(fps, 1)
        print(f"detector  batch {batch:3d}: {fps:9.1f} frames/s ({per_call * 1000:.1f} ms per batch, {n} batches)")
    model = None  # free its memory before the next one

    model = embedder(small).to(device, dtype).eval()
    texts, tokens = (16, 32) if small else (64, 32)
    ids = torch.randint(1000, 30000, (texts, tokens), device=device)
    per_call, n = timed(torch, device, lambda: model(input_ids=ids), seconds, warm, least)
    result["embedder"] = {"model": f"BERT {6 if not small else 2} layers x 384 (all-MiniLM-L6-v2 size)", "texts_per_s": round(texts / per_call, 1)}
    print(f"embedder  batch {texts:3d}: {texts / per_call:9.1f} texts/s of {tokens} tokens ({n} batches)")
    model = None  # free its memory before the next one

    result["whisper_encoder"] = {}
    for size in ("tiny.en",) if small else ("tiny.en", "large-v3"):
        model, mels = whisper_encoder(size)
        model = model.to(device, dtype).eval()
        best = 0.0
        for batch in (1,) if small else (1, 8):
            x = torch.randn(batch, mels, 3000, device=device, dtype=dtype)  # 30 s of log-mel frames
            per_call, n = timed(torch, device, lambda: model(x), seconds, warm, least)
            best = max(best, batch * 30.0 / per_call)
            print(f"whisper {size:8} encoder batch {batch}: {batch * 30.0 / per_call:9.1f} x realtime ({per_call * 1000:.0f} ms per batch of 30 s)")
        result["whisper_encoder"][size] = {"x_realtime": round(best, 1)}
        model = None  # free its memory before the next one
    result["seconds"] = round(time.perf_counter() - started, 1)
    line = json.dumps(result, sort_keys=True)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(line + "\n")
    print(f"GPU_CHECK {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
