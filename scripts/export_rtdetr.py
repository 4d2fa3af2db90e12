"""Export RT-DETR-v2 (transformers ``RTDetrV2ForObjectDetection``) to ONNX for the ``detector`` model.

    python scripts/export_rtdetr.py --checkpoint PekingU/rtdetr_v2_r50vd      # hub id (needs the network)
    python scripts/export_rtdetr.py --checkpoint /models/rtdetr_v2_r18vd      # local checkpoint directory
    python scripts/export_rtdetr.py --random-small --size 320 --out /tmp/rt   # tiny random model, no weights

Writes ``OUT/rtdetr.onnx`` (input ``pixel_values`` float32 [N,3,S,S] RGB 0..1 with a dynamic batch N;
outputs ``logits`` [N,Q,C] and ``pred_boxes`` [N,Q,4] cx,cy,w,h normalised) and ``OUT/rtdetr.json``
(head, input size, id2label, queries, source). Then runs ONNX Runtime and PyTorch on the same images
at batch 1 and batch 3 and exits non-zero when they differ by more than ``--tolerance``.
``OUT`` defaults to ``$VDET_MODELS/detector-rtdetr``: where the ``detector`` model's rtdetr head looks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.weights import models_dir  # noqa: E402

ONNX_NAME = "rtdetr.onnx"
META_NAME = "rtdetr.json"
COCO_LABELS = tuple((REPO / "triton_models/detector/1/coco_labels.txt").read_text().split("\n")[:-1])  # class-id order
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class ExportError(RuntimeError):
    """The export cannot go on; the message says what is wrong and what to do."""


def default_out_dir() -> Path:
    return models_dir() / "detector-rtdetr"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="local checkpoint directory or hub id (r18/r34/r50/r101 RT-DETR-v2)")
    source.add_argument("--random-small", action="store_true", help="a tiny randomly initialised model (no weights; for tests)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default $VDET_MODELS/detector-rtdetr)")
    parser.add_argument("--size", type=int, default=640, help="square input size in pixels (multiple of 32)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (GridSample needs >= 16)")
    parser.add_argument("--check-images", type=Path, default=None, help="folder of images for the ONNX-vs-PyTorch check")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="max abs difference allowed (logits and boxes)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.size <= 0 or args.size % 32:
        parser.error(f"--size must be a positive multiple of 32 (the backbone's stride), got {args.size}")
    if args.opset < 16:
        parser.error(f"--opset must be at least 16 (GridSample), got {args.opset}")
    if args.out is None:
        args.out = default_out_dir()
    return args


def small_random_model(seed: int = 0):
    """An r18-like RT-DETR-v2 with thin layers and 30 queries, randomly initialised with a fixed seed."""
    import torch
    from transformers import RTDetrResNetConfig, RTDetrV2Config, RTDetrV2ForObjectDetection

    torch.manual_seed(seed)
    backbone = RTDetrResNetConfig(
        embedding_size=16,
        hidden_sizes=[16, 32, 64, 128],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    )
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
        num_labels=len(COCO_LABELS),
        id2label=dict(enumerate(COCO_LABELS)),
        label2id={n: i for i, n in enumerate(COCO_LABELS)},
        # The default 0.01 makes activations vanish in a random model: every query would get the same
        # encoder score, and top-k among ties orders queries differently in PyTorch and ONNX Runtime.
        initializer_range=0.3,
    )
    return RTDetrV2ForObjectDetection(config).eval()


def load_checkpoint(checkpoint: str):
    from transformers import RTDetrV2ForObjectDetection

    local = Path(checkpoint).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise ExportError(f"{local} is not a transformers checkpoint (no config.json); pass a folder saved with save_pretrained")
        return RTDetrV2ForObjectDetection.from_pretrained(str(local)).eval()
    try:
        return RTDetrV2ForObjectDetection.from_pretrained(checkpoint).eval()
    except OSError as exc:
        # transformers raises OSError both for "no such repo" and for a failed download
        raise ExportError(
            f"could not load {checkpoint!r} ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "no network access to the model hub: pass a local checkpoint directory"
        ) from exc


def fix_position_embeddings(model) -> None:
    """Make the encoder's sine position embeddings graph constants at the export size.

    transformers computes them in float64 from the traced feature-map size; ONNX Runtime has no float64
    Cos kernel and TensorRT no float64 at all. The exported graph has a fixed H and W, so a float32
    constant is exact for it.
    """
    from transformers.models.rt_detr_v2 import modeling_rt_detr_v2 as rt

    def constant_forward(self, width, height, device, dtype):
        return rt.build_2d_sinusoidal_position_embedding(
            height=int(height), width=int(width), embed_dim=self.embed_dim, temperature=self.temperature, device=device, dtype=dtype
        ).unsqueeze(0)

    for module in model.modules():
        if isinstance(module, rt.RTDetrV2SinePositionEmbedding):
            module.forward = types.MethodType(constant_forward, module)


def detection_head(model):
    """The model as a module with one tensor in (pixel_values) and two out (logits, pred_boxes)."""
    import torch

    class RTDetrHead(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            out = self.inner(pixel_values=pixel_values)
            return out.logits, out.pred_boxes

    return RTDetrHead(model).eval()


def preprocess(frame: np.ndarray, size: int) -> np.ndarray:
    """RGB uint8 HxWx3 -> float32 3xSxS in 0..1: RT-DETR's plain resize (no letterbox), as model.py does."""
    import cv2

    resized = cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32) / 255.0


def sample_images(size: int, folder: Path | None, count: int = 3, seed: int = 0) -> np.ndarray:
    """[count,3,S,S]: images from ``folder`` (cycled) or synthetic scenes (shapes on a gradient)."""
    import cv2

    frames = []
    if folder is not None:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        if not paths:
            raise ExportError(f"--check-images {folder}: no images ({', '.join(IMAGE_SUFFIXES)}) there")
        for p in (paths * count)[:count]:
            bgr = cv2.imread(str(p))
            if bgr is None:
                raise ExportError(f"cannot decode image {p}")
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    else:
        rng = np.random.default_rng(seed)
        for _ in range(count):
            h, w = 360, 640
            img = np.zeros((h, w, 3), np.uint8)
            img[:] = np.linspace(40, 200, w, dtype=np.uint8)[None, :, None]
            for _ in range(6):
                x, y = int(rng.integers(0, w - 80)), int(rng.integers(0, h - 80))
                color = tuple(int(c) for c in rng.integers(0, 255, 3))
                cv2.rectangle(img, (x, y), (x + int(rng.integers(20, 80)), y + int(rng.integers(20, 80))), color, -1)
            frames.append(img)
    return np.stack([preprocess(f, size) for f in frames])


def export_onnx(head, size: int, path: Path, opset: int) -> None:
    import torch

    example = torch.rand(2, 3, size, size)
    previous = os.environ.get("TRANSFORMERS_DISABLE_TORCH_CHECK")
    # transformers' shape checks become graph asserts under tracing; they only hold for the traced size
    os.environ["TRANSFORMERS_DISABLE_TORCH_CHECK"] = "1"
    try:
        with torch.no_grad():
            torch.onnx.export(
                head,
                (example,),
                str(path),
                input_names=["pixel_values"],
                output_names=["logits", "pred_boxes"],
                dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}, "pred_boxes": {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
    except ModuleNotFoundError as exc:
        raise ExportError(f"torch.onnx.export needs the `onnx` package ({exc}); pip install onnx==1.23.2") from exc
    finally:
        if previous is None:
            os.environ.pop("TRANSFORMERS_DISABLE_TORCH_CHECK", None)
        else:
            os.environ["TRANSFORMERS_DISABLE_TORCH_CHECK"] = previous


def check_against_torch(head, onnx_path: Path, images: np.ndarray, tolerance: float) -> dict[str, float]:
    """Max abs difference of logits and boxes, ONNX Runtime vs PyTorch, at batch 1 and at the full batch."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    diffs: dict[str, float] = {}
    for batch in (images[:1], images):
        with torch.no_grad():
            ref_logits, ref_boxes = (t.numpy() for t in head(torch.from_numpy(batch)))
        logits, boxes = session.run(["logits", "pred_boxes"], {"pixel_values": batch})
        if logits.shape != ref_logits.shape or boxes.shape != ref_boxes.shape:
            raise ExportError(f"ONNX output shapes {logits.shape}, {boxes.shape} differ from PyTorch's {ref_logits.shape}, {ref_boxes.shape}")
        n = len(batch)
        diffs[f"logits@{n}"] = float(np.abs(logits - ref_logits).max())
        diffs[f"boxes@{n}"] = float(np.abs(boxes - ref_boxes).max())
    return diffs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.manual_seed(args.seed)
    try:
        model = small_random_model(args.seed) if args.random_small else load_checkpoint(args.checkpoint)
        config = model.config
        fix_position_embeddings(model)
        head = detection_head(model)
        args.out.mkdir(parents=True, exist_ok=True)
        # written under temporary names and renamed only once checked: a failed export never replaces a good one
        onnx_path, final_onnx = args.out / (ONNX_NAME + ".partial"), args.out / ONNX_NAME
        t0 = time.monotonic()
        export_onnx(head, args.size, onnx_path, args.opset)
        print(f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        id2label = [str(config.id2label.get(i, config.id2label.get(str(i), f"class_{i}"))) for i in range(config.num_labels)]
        meta = {
            "head": "rtdetr",
            "input_size": args.size,
            "id2label": id2label,
            "num_queries": int(config.num_queries),
            "num_classes": int(config.num_labels),
            "source": "random-small" if args.random_small else args.checkpoint,
            "opset": args.opset,
        }
        images = sample_images(args.size, args.check_images, seed=args.seed)
        diffs = check_against_torch(head, onnx_path, images, args.tolerance)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("ONNX Runtime vs PyTorch, max abs diff: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    worst = max(diffs.values())
    if worst > args.tolerance:
        onnx_path.unlink(missing_ok=True)
        print(
            f"error: ONNX output differs from PyTorch by {worst:.2e} > tolerance {args.tolerance:g}; "
            "the export is wrong (try another --opset, or a newer torch); nothing was installed",
            file=sys.stderr,
        )
        return 1
    onnx_path.replace(final_onnx)
    meta_tmp = args.out / (META_NAME + ".partial")
    meta_tmp.write_text(json.dumps(meta, indent=1))
    meta_tmp.replace(args.out / META_NAME)
    print(json.dumps({"onnx": str(final_onnx), "meta": str(args.out / META_NAME), "max_abs_diff": worst}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
