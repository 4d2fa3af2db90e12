"""Build the TensorRT engine for the ``detector_engine`` Triton model from the RT-DETR-v2 ONNX (GPU server tool).

    python scripts/build_trt_engine.py                                   # FP16, batch profile 1/8/32
    python scripts/build_trt_engine.py --int8 --calib-dir /data/calib    # INT8 (entropy calibration), FP16 fallback
    python scripts/build_trt_engine.py --onnx OUT/rtdetr.onnx --out /models/detector_engine/1/model.plan

Reads ``rtdetr.onnx`` (and ``rtdetr.json`` beside it for the input size) written by
``scripts/export_rtdetr.py``. After building, it runs the engine and ONNX Runtime on the same images
(``--check-images`` or synthetic ones) and compares their top detections. Reduced-precision builds of
RT-DETR-v2 are known to miscompile the deformable attention's GridSample (boxes land in the wrong place
while scores look plausible); on disagreement the engine is rebuilt with every GridSample layer and the
layers producing its inputs pinned to FP32 (``OBEY_PRECISION_CONSTRAINTS``), and checked again. The plan
is written only when the check passes. Needs the ``tensorrt`` Python package and a CUDA GPU (torch with
CUDA for device buffers); everything above the TensorRT calls is plain Python and runs anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.weights import models_dir  # noqa: E402

DEFAULT_PLAN = REPO / "triton_models" / "detector_engine" / "1" / "model.plan"
INPUT = "pixel_values"
OUTPUTS = ("logits", "pred_boxes")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
PRODUCER_DEPTH = 3  # how many layers up from a GridSample are pinned with it (the sampling-grid arithmetic)


class EngineBuildError(RuntimeError):
    """The engine cannot be built or does not agree with ONNX Runtime; the message says what to do."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", type=Path, default=models_dir() / "detector-rtdetr" / "rtdetr.onnx")
    parser.add_argument("--out", type=Path, default=DEFAULT_PLAN, help="where Triton's detector_engine reads model.plan")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--fp32", dest="precision", action="store_const", const="fp32")
    precision.add_argument("--int8", dest="precision", action="store_const", const="int8")
    parser.set_defaults(precision="fp16")
    parser.add_argument("--calib-dir", type=Path, default=None, help="images for INT8 calibration")
    parser.add_argument("--calib-cache", type=Path, default=None, help="calibration cache (default: next to --out)")
    parser.add_argument("--calib-batch", type=int, default=8)
    parser.add_argument("--min-batch", type=int, default=1)
    parser.add_argument("--opt-batch", type=int, default=8)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--workspace-gb", type=float, default=4.0)
    parser.add_argument("--size", type=int, default=None, help="input size (default: rtdetr.json's input_size, else 640)")
    parser.add_argument("--check-images", type=Path, default=None, help="images for the TensorRT-vs-ONNX Runtime check")
    parser.add_argument("--score-tol", type=float, default=0.05, help="max |score| difference of the top detections")
    parser.add_argument("--iou-min", type=float, default=0.9, help="min IoU of each top detection with its TensorRT match")
    args = parser.parse_args(argv)
    if not args.onnx.is_file():
        parser.error(f"--onnx {args.onnx} does not exist; export it first with scripts/export_rtdetr.py")
    if not 1 <= args.min_batch <= args.opt_batch <= args.max_batch:
        parser.error(f"need 1 <= --min-batch <= --opt-batch <= --max-batch, got {args.min_batch}/{args.opt_batch}/{args.max_batch}")
    if args.precision == "int8" and (args.calib_dir is None or not args.calib_dir.is_dir()):
        parser.error("--int8 needs --calib-dir: a folder of representative images (a few hundred frames from your cameras)")
    if args.workspace_gb <= 0:
        parser.error("--workspace-gb must be positive")
    if args.size is None:
        meta = args.onnx.with_suffix(".json")
        args.size = int(json.loads(meta.read_text())["input_size"]) if meta.is_file() else 640
    if args.calib_cache is None:
        args.calib_cache = args.out.with_suffix(".calib")
    return args


# -- pure Python: images, detections, comparison --------------------------------------------------


def preprocess_batch(frames: list[np.ndarray], size: int) -> np.ndarray:
    """RGB uint8 frames -> [N,3,S,S] float32 0..1, exactly as the detector's rtdetr head feeds the network."""
    import cv2

    out = np.empty((len(frames), 3, size, size), np.float32)
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1) / np.float32(255.0)
    return out


def image_paths(folder: Path) -> list[Path]:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if not paths:
        raise EngineBuildError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) there")
    return paths


def load_rgb(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path))
    if bgr is None:
        raise EngineBuildError(f"cannot decode image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def sample_batch(folder: Path | None, size: int, count: int = 4, seed: int = 0) -> np.ndarray:
    """Check images: the first ``count`` of ``folder`` (cycled), or synthetic shapes on a gradient."""
    import cv2

    if folder is not None:
        paths = image_paths(folder)
        return preprocess_batch([load_rgb(p) for p in (paths * count)[:count]], size)
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        img = np.zeros((360, 640, 3), np.uint8)
        img[:] = np.linspace(30, 220, 640, dtype=np.uint8)[None, :, None]
        for _ in range(8):
            x, y = int(rng.integers(0, 560)), int(rng.integers(0, 280))
            cv2.rectangle(img, (x, y), (x + int(rng.integers(15, 80)), y + int(rng.integers(15, 80))), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
        frames.append(img)
    return preprocess_batch(frames, size)


def top_detections(logits: np.ndarray, boxes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image: the k best (score, class, x1y1x2y2 box) over queries x classes, sorted by score."""
    prob = 1.0 / (1.0 + np.exp(-logits.astype(np.float64).reshape(-1)))
    k = min(k, len(prob))
    idx = np.argsort(-prob, kind="stable")[:k]
    num_classes = logits.shape[-1]
    cx, cy, w, h = boxes[idx // num_classes].astype(np.float64).T
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return prob[idx], idx % num_classes, xyxy


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of x1y1x2y2 boxes [n,4] x [m,4]."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


@dataclass(frozen=True)
class Agreement:
    ok: bool
    max_score_diff: float
    box_iou_min: float
    message: str


def compare_detections(reference, candidate, top_k: int = 10, score_tol: float = 0.05, iou_min: float = 0.9) -> Agreement:
    """Do two runs of the network (``(logits, pred_boxes)`` batches) give the same top detections?

    Per image: the top-k scores, rank by rank, must agree within ``score_tol``; each reference detection
    must have a candidate detection of the same class among the candidate's top 2k with IoU >= ``iou_min``
    (a matching, not rank order, so near-tied scores may swap places).
    """
    ref_logits, ref_boxes = reference
    got_logits, got_boxes = candidate
    if ref_logits.shape != got_logits.shape or ref_boxes.shape != got_boxes.shape:
        return Agreement(False, float("inf"), 0.0, f"output shapes differ: {got_logits.shape}/{got_boxes.shape} vs {ref_logits.shape}/{ref_boxes.shape}")
    worst_score, worst_iou = 0.0, 1.0
    for i in range(len(ref_logits)):
        r_scores, r_classes, r_boxes = top_detections(ref_logits[i], ref_boxes[i], top_k)
        g_scores, g_classes, g_boxes = top_detections(got_logits[i], got_boxes[i], 2 * top_k)
        worst_score = max(worst_score, float(np.abs(r_scores - g_scores[: len(r_scores)]).max()))
        ious = box_iou(r_boxes, g_boxes)
        # tiny or degenerate boxes have a meaningless IoU: corners within 0.005 of each other count as a match
        ious = np.where(np.abs(r_boxes[:, None, :] - g_boxes[None, :, :]).max(-1) <= 0.005, 1.0, ious)
        ious = ious * (r_classes[:, None] == g_classes[None, :])
        worst_iou = min(worst_iou, float(ious.max(axis=1).min()))
    ok = worst_score <= score_tol and worst_iou >= iou_min
    message = f"top-{top_k} detections: max score difference {worst_score:.4f} (tolerance {score_tol}), worst box IoU {worst_iou:.3f} (minimum {iou_min})"
    return Agreement(ok, worst_score, worst_iou, message)


# -- TensorRT (GPU server only) ---------------------------------------------------------------------


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise EngineBuildError(
            "the `tensorrt` Python package is not installed: this is a GPU-server tool. Run it on the GPU host "
            "(NVIDIA's TensorRT or Triton container, or `pip install tensorrt` matching its CUDA), with the ONNX from "
            "scripts/export_rtdetr.py"
        ) from exc
    return trt


def cuda_torch():
    import torch

    if not torch.cuda.is_available():
        raise EngineBuildError("no CUDA device visible to torch: TensorRT engines are built and checked on the GPU")
    return torch


def make_calibrator(trt, args):
    """An IInt8EntropyCalibrator2 that feeds preprocessed calibration images, caching the scales."""
    torch = cuda_torch()
    paths = image_paths(args.calib_dir)

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()
            self.position = 0
            self.device_batch = torch.empty((args.calib_batch, 3, args.size, args.size), dtype=torch.float32, device="cuda")

        def get_batch_size(self):
            return args.calib_batch

        def get_batch(self, names):
            if self.position + args.calib_batch > len(paths):
                return None
            chunk = paths[self.position : self.position + args.calib_batch]
            self.position += args.calib_batch
            self.device_batch.copy_(torch.from_numpy(preprocess_batch([load_rgb(p) for p in chunk], args.size)))
            return [int(self.device_batch.data_ptr())]

        def read_calibration_cache(self):
            return args.calib_cache.read_bytes() if args.calib_cache.is_file() else None

        def write_calibration_cache(self, cache):
            args.calib_cache.parent.mkdir(parents=True, exist_ok=True)
            args.calib_cache.write_bytes(bytes(cache))

    if len(paths) < args.calib_batch:
        raise EngineBuildError(f"--calib-dir has {len(paths)} images, fewer than one calibration batch ({args.calib_batch})")
    return EntropyCalibrator()


def is_float_compute(trt, layer) -> bool:
    """A layer whose precision can be pinned: every input and output a float tensor, and not a constant or shape op
    (pinning those makes TensorRT refuse the build under OBEY_PRECISION_CONSTRAINTS)."""
    if layer.type in (trt.LayerType.CONSTANT, trt.LayerType.SHAPE):
        return False
    floats = (trt.float32, trt.float16)
    tensors = [layer.get_input(j) for j in range(layer.num_inputs)] + [layer.get_output(j) for j in range(layer.num_outputs)]
    return all(t is None or t.dtype in floats for t in tensors)


def pin_gridsample_fp32(trt, network) -> int:
    """Pin GridSample layers and the layers computing their inputs (up to PRODUCER_DEPTH up) to FP32."""
    producer = {}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        for j in range(layer.num_outputs):
            producer[layer.get_output(j).name] = layer
    pinned: set[str] = set()  # visited
    count = 0  # actually pinned
    frontier = [network.get_layer(i) for i in range(network.num_layers) if network.get_layer(i).type == trt.LayerType.GRID_SAMPLE]
    for _ in range(PRODUCER_DEPTH + 1):
        following = []
        for layer in frontier:
            if layer.name in pinned:
                continue
            pinned.add(layer.name)
            if is_float_compute(trt, layer):  # shape/index arithmetic (int64 Shape, Gather, Concat...) keeps its type
                count += 1
                layer.precision = trt.float32
                for j in range(layer.num_outputs):
                    layer.set_output_type(j, trt.float32)
            for j in range(layer.num_inputs):
                tensor = layer.get_input(j)
                if tensor is not None and tensor.name in producer:
                    following.append(producer[tensor.name])
        frontier = following
    return count


def build_engine(trt, args, pin_gridsample: bool) -> bytes:
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: networks are always explicit-batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(args.onnx)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT cannot parse {args.onnx}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(args.workspace_gb * (1 << 30)))
    profile = builder.create_optimization_profile()
    shape = lambda n: (n, 3, args.size, args.size)  # noqa: E731
    profile.set_shape(INPUT, shape(args.min_batch), shape(args.opt_batch), shape(args.max_batch))
    config.add_optimization_profile(profile)
    if args.precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)  # INT8 builds fall back to FP16, not FP32, where INT8 is unsupported
    if args.precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = make_calibrator(trt, args)
        config.set_calibration_profile(profile)
    if pin_gridsample:
        count = pin_gridsample_fp32(trt, network)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        print(f"pinned {count} layers (GridSample and producers) to FP32", file=sys.stderr)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError("TensorRT failed to build the engine (see its log above); try --workspace-gb 8 or --fp32")
    return bytes(serialized)


def run_engine(trt, plan: bytes, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    torch = cuda_torch()
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(plan)
    context = engine.create_execution_context()
    context.set_input_shape(INPUT, batch.shape)
    inp = torch.from_numpy(batch).cuda()
    context.set_tensor_address(INPUT, int(inp.data_ptr()))
    outputs = {}
    for name in OUTPUTS:
        outputs[name] = torch.empty(tuple(context.get_tensor_shape(name)), dtype=torch.float32, device="cuda")
        context.set_tensor_address(name, int(outputs[name].data_ptr()))
    stream = torch.cuda.current_stream()
    if not context.execute_async_v3(stream.cuda_stream):
        raise EngineBuildError("TensorRT execution failed")
    stream.synchronize()
    return outputs["logits"].cpu().numpy(), outputs["pred_boxes"].cpu().numpy()


def run_onnxruntime(onnx_path: Path, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits, boxes = session.run(list(OUTPUTS), {INPUT: batch})
    return logits, boxes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        trt = import_tensorrt()
        count = max(args.min_batch, min(4, args.max_batch))
        batch = sample_batch(args.check_images, args.size, count=count)
        reference = run_onnxruntime(args.onnx, batch)
        plan, agreement = None, None
        for pin in (False, True):
            plan = build_engine(trt, args, pin_gridsample=pin)
            agreement = compare_detections(reference, run_engine(trt, plan, batch), score_tol=args.score_tol, iou_min=args.iou_min)
            print(f"TensorRT ({args.precision}{', GridSample FP32' if pin else ''}) vs ONNX Runtime: {agreement.message}", file=sys.stderr)
            if agreement.ok:
                break
            if not pin:
                print(
                    "TensorRT disagrees with ONNX Runtime: the known RT-DETR-v2 GridSample miscompile; rebuilding with GridSample layers pinned to FP32",
                    file=sys.stderr,
                )
        if not agreement.ok:
            raise EngineBuildError(
                f"the {args.precision} engine still disagrees with ONNX Runtime with GridSample in FP32 ({agreement.message}); "
                "try --fp32, another TensorRT version, or a different --opset for the export"
            )
    except EngineBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(plan)
    print(
        json.dumps(
            {
                "plan": str(args.out),
                "precision": args.precision,
                "bytes": len(plan),
                "max_score_diff": agreement.max_score_diff,
                "box_iou_min": agreement.box_iou_min,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
