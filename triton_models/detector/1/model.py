"""Triton python-backend model: COCO object detection on raw RGB uint8 frames.

Two heads behind the same inputs and outputs, chosen by the ``head`` parameter:

``centernet`` (default) runs the CenterNet MobileNetV3 ONNX graph (512x512 NHWC float 0..255 in,
[N,100,6] = x1,y1,x2,y2 (input px), score, class out) with ONNX Runtime.
Frames of any size are letterboxed to 512x512; boxes come back normalised to
the original frame, filtered by score, with class-aware NMS, padded to 100 rows.
All requests in a dynamic batch that share a frame size run as one ONNX batch.

``rtdetr`` runs RT-DETR-v2 (``scripts/export_rtdetr.py``): frames are resized (no letterbox) to the
model size, scaled to 0..1, NCHW; the network gives ``logits`` [N,Q,C] and ``pred_boxes`` [N,Q,4]
(cx,cy,w,h normalised); scores are sigmoid, the top Q of queries x classes are kept (as transformers'
``post_process_object_detection``), thresholded, padded to 100. The network runs in ONNX Runtime
(``rtdetr.onnx`` from ``VDET_RTDETR_PATH``, the ``model_path`` parameter, or
``$VDET_MODELS/detector-rtdetr``), or, when the ``engine_model`` parameter names a model (the GPU's
TensorRT ``detector_engine``), through Triton BLS with the same pre/post-processing.

``yolov10`` (opt-in: AGPL-3.0 weights) runs YOLOv10-N (``scripts/build_yolov10_onnx.py``; ``yolov10n.onnx`` from
``VDET_YOLOV10_PATH``, the ``model_path`` parameter, or ``$VDET_MODELS/yolov10``): frames are letterboxed to
640x640 (top-left, pad 114), RGB/255, NCHW, frame by frame, or one ONNX batch per Triton batch (``onnx_batching`` batch);
the NMS-free network gives [N,300,6] = x1,y1,x2,y2 (input px), score, class, sorted; boxes come back
normalised to the frame, kept at the per-class thresholds (``score_threshold`` where uncalibrated), top 100.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

# the 80 COCO class names in class-id order (shared with scripts/export_rtdetr.py)
COCO_LABELS = tuple((Path(__file__).resolve().parent / "coco_labels.txt").read_text().split("\n")[:-1])
MAX_DETS = 100
INPUT_SIZE = 512
# per-class score thresholds calibrated on annotated real images (scripts/eval_objects.py --calibrate)
CLASS_THRESHOLDS = Path(__file__).resolve().parent / "class_thresholds.json"


def class_thresholds(names: tuple[str, ...], default: float, head: str, path: Path = CLASS_THRESHOLDS) -> np.ndarray:
    """One score threshold per class id: the calibrated ``detect`` value where the file has one for this
    head, else ``default`` (classes without enough annotated data, or no file)."""
    thresholds = np.full(len(names), default, np.float32)
    try:
        classes = json.loads(path.read_text()).get(head, {}).get("classes", {})
    except (OSError, ValueError):
        return thresholds
    for i, name in enumerate(names):
        if "detect" in classes.get(name, {}):
            thresholds[i] = float(classes[name]["detect"])
    return thresholds


def letterbox(frame: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio into a size x size canvas (top-left aligned); return canvas and scale."""
    h, w = frame.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    canvas = np.zeros((size, size, 3), dtype=np.float32)
    canvas[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, scale


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def rtdetr_preprocess(frame: np.ndarray, size: int) -> np.ndarray:
    """RGB uint8 HxWx3 -> float32 3xSxS in 0..1 (RT-DETR is trained on a plain resize, not a letterbox)."""
    resized = cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR)
    return resized.transpose(2, 0, 1).astype(np.float32) / 255.0


def rtdetr_postprocess(logits: np.ndarray, pred_boxes: np.ndarray, score_threshold: float):
    """One frame: [Q,C] logits, [Q,4] cxcywh -> (boxes [100,4] x1y1x2y2 0..1, scores [100], classes [100]).

    Like transformers' ``post_process_object_detection`` with focal loss: the top Q scores over all
    queries x classes (one query may give two classes), then the threshold; sorted by score.
    """
    boxes = np.zeros((MAX_DETS, 4), np.float32)
    scores = np.zeros(MAX_DETS, np.float32)
    classes = np.full(MAX_DETS, -1, np.int32)
    num_queries, num_classes = logits.shape
    prob = sigmoid(logits.astype(np.float32)).reshape(-1)
    top = np.argpartition(-prob, num_queries - 1)[:num_queries] if len(prob) > num_queries else np.arange(len(prob))
    top = top[np.argsort(-prob[top], kind="stable")]
    top = top[prob[top] >= score_threshold][:MAX_DETS]
    n = len(top)
    if n:
        cx, cy, w, h = pred_boxes[top // num_classes].astype(np.float32).T
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        boxes[:n] = np.clip(xyxy, 0.0, 1.0)
        scores[:n] = prob[top]
        classes[:n] = (top % num_classes).astype(np.int32)
    return boxes, scores, classes


def rtdetr_onnx_path(params: dict) -> Path:
    """Where ``rtdetr.onnx`` / ``rtdetr.json`` live: a folder, or the .onnx file itself."""
    models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
    path = Path(os.environ.get("VDET_RTDETR_PATH") or params.get("model_path") or models / "detector-rtdetr").expanduser()
    return path if path.suffix == ".onnx" else path / "rtdetr.onnx"


YOLOV10_SIZE = 640
YOLOV10_PAD = 114  # the letterbox grey YOLO is trained with


def yolov10_onnx_path(params: dict) -> Path:
    """Where ``yolov10n.onnx`` lives: a folder, or the .onnx file itself."""
    models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
    path = Path(os.environ.get("VDET_YOLOV10_PATH") or params.get("model_path") or models / "yolov10").expanduser()
    return path if path.suffix == ".onnx" else path / "yolov10n.onnx"


def yolov10_preprocess(frame: np.ndarray, size: int = YOLOV10_SIZE) -> tuple[np.ndarray, float]:
    """RGB uint8 HxWx3 -> (float32 3xSxS in 0..1, scale): aspect kept, top-left aligned, pad 114."""
    h, w = frame.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    canvas = np.full((size, size, 3), YOLOV10_PAD, np.uint8)
    canvas[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas.transpose(2, 0, 1).astype(np.float32) / 255.0, scale


def yolov10_postprocess(raw: np.ndarray, scale: float, h: int, w: int, thresholds: np.ndarray):
    """One frame's [300,6] (x1,y1,x2,y2 input px, score, class) -> (boxes [100,4] 0..1, scores [100], classes [100]).

    NMS-free: keep rows at their class's threshold, best first, at most 100."""
    boxes = np.zeros((MAX_DETS, 4), np.float32)
    scores = np.zeros(MAX_DETS, np.float32)
    classes = np.full(MAX_DETS, -1, np.int32)
    cls = raw[:, 5].astype(np.int64)
    valid = (cls >= 0) & (cls < len(thresholds))
    det = raw[valid]
    det = det[det[:, 4] >= thresholds[cls[valid]]]
    det = det[np.argsort(-det[:, 4], kind="stable")][:MAX_DETS]
    n = len(det)
    if n:
        xyxy = det[:, :4] / scale
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
        boxes[:n] = xyxy / np.array([w, h, w, h], np.float32)
        scores[:n] = det[:, 4]
        classes[:n] = det[:, 5].astype(np.int32)
    return boxes, scores, classes


def session_options(params: dict) -> "ort.SessionOptions":
    """ONNX Runtime options for the detector's session: ``intra_op_threads`` threads (2), one inter-op thread, and
    ``allow_spinning`` "0": the threads sleep between work instead of spinning. On the 2-core machine the detector shares
    the cores with decoding, OCR and Whisper; spinning threads there cost CPU the others need (measured on CenterNet,
    2 threads, cores busy: 229 -> 136 ms CPU and 701 -> 407 ms wall per frame; the same outputs)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(params.get("intra_op_threads", "2"))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", params.get("allow_spinning", "0"))
    return options


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.head = params.get("head", "centernet")
        if self.head not in ("centernet", "rtdetr", "yolov10"):
            raise pb_utils.TritonModelException(f"detector: parameter head must be 'centernet', 'rtdetr' or 'yolov10', got {self.head!r}")
        if self.head == "rtdetr":
            self._initialize_rtdetr(params)
            return
        if self.head == "yolov10":
            self._initialize_yolov10(params)
            return
        self.score_threshold = float(params.get("score_threshold", "0.3"))
        self.nms_iou = float(params.get("nms_iou", "0.6"))
        models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
        path = Path(os.environ.get("VDET_DETECTOR_PATH", models / "detector")) / "centernet.onnx"
        options = session_options(params)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        batch_dim = self.session.get_inputs()[0].shape[0]
        # On a small CPU, ONNX Runtime runs this graph slower per frame as one batch than frame by frame
        # (measured: 35 vs 30 ms/frame on 2 cores); batching still pays by sharing the request overhead.
        self.dynamic_batch = not isinstance(batch_dim, int) and params.get("onnx_batching", "frame") == "batch"
        self.labels = np.array(COCO_LABELS + ("",), dtype=object)
        # "" turns the calibrated per-class thresholds off (every class at score_threshold)
        name = params.get("class_thresholds", CLASS_THRESHOLDS.name)
        self.thresholds = (
            class_thresholds(COCO_LABELS, self.score_threshold, "centernet", CLASS_THRESHOLDS.parent / name)
            if name
            else np.full(len(COCO_LABELS), self.score_threshold, np.float32)
        )

    def _initialize_rtdetr(self, params: dict) -> None:
        self.score_threshold = float(params.get("score_threshold", "0.5"))
        self.engine_model = params.get("engine_model", "").strip()
        onnx_path = rtdetr_onnx_path(params)
        meta_path = onnx_path.with_suffix(".json")
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            self.input_size = int(meta["input_size"])
            names = tuple(str(n) for n in meta["id2label"])
        elif self.engine_model:
            # the engine is exported at 640 from a COCO checkpoint unless its json says otherwise
            self.input_size, names = int(params.get("input_size", "640")), COCO_LABELS
        else:
            raise pb_utils.TritonModelException(
                f"detector (rtdetr): {meta_path} not found; export the model with scripts/export_rtdetr.py "
                "or point VDET_RTDETR_PATH / the model_path parameter at its folder"
            )
        self.labels = np.array(names + ("",), dtype=object)
        if self.engine_model:
            self.session = None
            self.dynamic_batch = True
            return
        if not onnx_path.is_file():
            raise pb_utils.TritonModelException(f"detector (rtdetr): {onnx_path} not found; export it with scripts/export_rtdetr.py")
        options = session_options(params)
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        batch_dim = self.session.get_inputs()[0].shape[0]
        self.dynamic_batch = not isinstance(batch_dim, int) and params.get("onnx_batching", "frame") == "batch"

    def _initialize_yolov10(self, params: dict) -> None:
        self.score_threshold = float(params.get("score_threshold", "0.3"))
        onnx_path = yolov10_onnx_path(params)
        if not onnx_path.is_file():
            raise pb_utils.TritonModelException(f"detector (yolov10): {onnx_path} not found; build it with `python -m orchestrator.weights fetch yolov10`")
        options = session_options(params)
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        batch_dim = self.session.get_inputs()[0].shape[0]
        self.dynamic_batch = not isinstance(batch_dim, int) and params.get("onnx_batching", "frame") == "batch"
        self.labels = np.array(COCO_LABELS + ("",), dtype=object)
        name = params.get("class_thresholds", CLASS_THRESHOLDS.name)
        self.thresholds = (
            class_thresholds(COCO_LABELS, self.score_threshold, "yolov10", CLASS_THRESHOLDS.parent / name)
            if name
            else np.full(len(COCO_LABELS), self.score_threshold, np.float32)
        )

    def detect_yolov10(self, frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """RGB uint8 frames (any sizes) -> per frame (boxes [100,4] 0..1, scores [100], classes [100])."""
        if not frames:
            return []
        prepared = [yolov10_preprocess(frame) for frame in frames]
        raw = self._infer(np.ascontiguousarray(np.stack([x for x, _ in prepared])))
        return [yolov10_postprocess(raw[i], scale, *frame.shape[:2], self.thresholds) for i, ((_, scale), frame) in enumerate(zip(prepared, frames))]

    def _run_rtdetr(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.engine_model:
            request = pb_utils.InferenceRequest(
                model_name=self.engine_model,
                requested_output_names=["logits", "pred_boxes"],
                inputs=[pb_utils.Tensor("pixel_values", batch)],
            )
            response = request.exec()
            if response.has_error():
                raise pb_utils.TritonModelException(f"detector: {self.engine_model} failed: {response.error().message()}")
            logits = pb_utils.get_output_tensor_by_name(response, "logits").as_numpy()
            boxes = pb_utils.get_output_tensor_by_name(response, "pred_boxes").as_numpy()
            return logits, boxes
        if self.dynamic_batch:
            return tuple(self.session.run(["logits", "pred_boxes"], {"pixel_values": batch}))
        parts = [self.session.run(["logits", "pred_boxes"], {"pixel_values": batch[i : i + 1]}) for i in range(len(batch))]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _detect_rtdetr(self, images_per_request: list[np.ndarray]):
        frames = [rtdetr_preprocess(image, self.input_size) for images in images_per_request for image in images]
        results = []
        if frames:
            logits, boxes = self._run_rtdetr(np.ascontiguousarray(np.stack(frames)))
            results = [rtdetr_postprocess(logits[i], boxes[i], self.score_threshold) for i in range(len(frames))]
        per_request, start = [], 0
        for images in images_per_request:
            per_request.append(results[start : start + len(images)])
            start += len(images)
        return per_request

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        if self.dynamic_batch:
            return self.session.run(None, {self.input_name: batch})[0]
        return np.concatenate([self.session.run(None, {self.input_name: batch[i : i + 1]})[0] for i in range(len(batch))])

    def _postprocess(self, raw: np.ndarray, scale: float, h: int, w: int):
        boxes = np.zeros((MAX_DETS, 4), np.float32)
        scores = np.zeros(MAX_DETS, np.float32)
        classes = np.full(MAX_DETS, -1, np.int32)
        cls = np.clip(raw[:, 5].astype(int), 0, len(self.thresholds) - 1)
        keep = raw[:, 4] >= self.thresholds[cls]
        det = raw[keep]
        if len(det):
            xyxy = det[:, :4] / scale
            xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
            xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
            xywh = np.column_stack([xyxy[:, 0], xyxy[:, 1], xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]])
            idx = cv2.dnn.NMSBoxesBatched(xywh.tolist(), det[:, 4].tolist(), det[:, 5].astype(int).tolist(), float(self.thresholds.min()), self.nms_iou)
            idx = np.asarray(idx, dtype=int).reshape(-1)[:MAX_DETS]
            n = len(idx)
            boxes[:n] = xyxy[idx] / np.array([w, h, w, h], np.float32)
            scores[:n] = det[idx, 4]
            classes[:n] = det[idx, 5].astype(np.int32)
        return boxes, scores, classes

    def execute(self, requests):
        if self.head == "rtdetr":
            per_frame = self._detect_rtdetr([pb_utils.get_input_tensor_by_name(r, "IMAGE").as_numpy() for r in requests])
            return [self._response(*zip(*dets)) for dets in per_frame]
        if self.head == "yolov10":
            images = [pb_utils.get_input_tensor_by_name(r, "IMAGE").as_numpy() for r in requests]
            results = self.detect_yolov10([image for batch in images for image in batch])
            responses, start = [], 0
            for batch in images:
                responses.append(self._response(*zip(*results[start : start + len(batch)])))
                start += len(batch)
            return responses
        frames, owners, scales = [], [], []
        for r, request in enumerate(requests):
            images = pb_utils.get_input_tensor_by_name(request, "IMAGE").as_numpy()
            for image in images:
                canvas, scale = letterbox(image)
                frames.append(canvas)
                scales.append((scale, image.shape[0], image.shape[1]))
                owners.append(r)
        raw = self._infer(np.stack(frames)) if frames else np.zeros((0, MAX_DETS, 6), np.float32)
        per_request = [([], [], []) for _ in requests]
        for i, owner in enumerate(owners):
            b, s, c = self._postprocess(raw[i], *scales[i])
            per_request[owner][0].append(b)
            per_request[owner][1].append(s)
            per_request[owner][2].append(c)
        return [self._response(boxes, scores, classes) for boxes, scores, classes in per_request]

    def _response(self, boxes, scores, classes):
        classes_arr = np.stack(classes)
        outputs = [
            pb_utils.Tensor("BOXES", np.stack(boxes)),
            pb_utils.Tensor("SCORES", np.stack(scores)),
            pb_utils.Tensor("CLASS_IDS", classes_arr),
            pb_utils.Tensor("LABELS", self.labels[classes_arr].astype(np.object_)),
        ]
        return pb_utils.InferenceResponse(output_tensors=outputs)
