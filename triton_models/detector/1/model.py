"""Triton python-backend model: COCO object detection on raw RGB uint8 frames.

Runs the CenterNet MobileNetV3 ONNX graph (512x512 NHWC float 0..255 in,
[N,100,6] = x1,y1,x2,y2 (input px), score, class out) with ONNX Runtime.
Frames of any size are letterboxed to 512x512; boxes come back normalised to
the original frame, filtered by score, with class-aware NMS, padded to 100 rows.
All requests in a dynamic batch that share a frame size run as one ONNX batch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

COCO_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)
MAX_DETS = 100
INPUT_SIZE = 512


def letterbox(frame: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio into a size x size canvas (top-left aligned); return canvas and scale."""
    h, w = frame.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    canvas = np.zeros((size, size, 3), dtype=np.float32)
    canvas[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, scale


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.score_threshold = float(params.get("score_threshold", "0.3"))
        self.nms_iou = float(params.get("nms_iou", "0.6"))
        models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
        path = Path(os.environ.get("VDET_DETECTOR_PATH", models / "detector")) / "centernet.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params.get("intra_op_threads", "2"))
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        batch_dim = self.session.get_inputs()[0].shape[0]
        # On a small CPU, ONNX Runtime runs this graph slower per frame as one batch than frame by frame
        # (measured: 35 vs 30 ms/frame on 2 cores); batching still pays by sharing the request overhead.
        self.dynamic_batch = not isinstance(batch_dim, int) and params.get("onnx_batching", "frame") == "batch"
        self.labels = np.array(COCO_LABELS + ("",), dtype=object)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        if self.dynamic_batch:
            return self.session.run(None, {self.input_name: batch})[0]
        return np.concatenate([self.session.run(None, {self.input_name: batch[i : i + 1]})[0] for i in range(len(batch))])

    def _postprocess(self, raw: np.ndarray, scale: float, h: int, w: int):
        boxes = np.zeros((MAX_DETS, 4), np.float32)
        scores = np.zeros(MAX_DETS, np.float32)
        classes = np.full(MAX_DETS, -1, np.int32)
        keep = raw[:, 4] >= self.score_threshold
        det = raw[keep]
        if len(det):
            xyxy = det[:, :4] / scale
            xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
            xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
            xywh = np.column_stack([xyxy[:, 0], xyxy[:, 1], xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]])
            idx = cv2.dnn.NMSBoxesBatched(
                xywh.tolist(), det[:, 4].tolist(), det[:, 5].astype(int).tolist(), self.score_threshold, self.nms_iou
            )
            idx = np.asarray(idx, dtype=int).reshape(-1)[:MAX_DETS]
            n = len(idx)
            boxes[:n] = xyxy[idx] / np.array([w, h, w, h], np.float32)
            scores[:n] = det[idx, 4]
            classes[:n] = det[idx, 5].astype(np.int32)
        return boxes, scores, classes

    def execute(self, requests):
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
        responses = []
        for boxes, scores, classes in per_request:
            classes_arr = np.stack(classes)
            outputs = [
                pb_utils.Tensor("BOXES", np.stack(boxes)),
                pb_utils.Tensor("SCORES", np.stack(scores)),
                pb_utils.Tensor("CLASS_IDS", classes_arr),
                pb_utils.Tensor("LABELS", self.labels[classes_arr].astype(np.object_)),
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses
