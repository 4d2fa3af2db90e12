"""Triton python-backend model: AudioSet tagging with YAMNet (ONNX Runtime).

YAMNet scores 0.96 s log-mel patches (64 mel bands, 125-7500 Hz, 25 ms windows every 10 ms,
log(mel + 0.001)) against the 521 classes of AudioSet's ontology, every 0.48 s. The export used
here is quantised (uint8 in, uint8 out); its scales and zero points are read from the graph.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import librosa
import numpy as np
import onnx
import onnxruntime as ort
import triton_python_backend_utils as pb_utils
from onnx import numpy_helper

RATE = 16000
WIN, HOP, NFFT = 400, 160, 512
PATCH, PATCH_HOP = 96, 48  # frames of 10 ms
LOG_OFFSET = 0.001
QUANT = ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")


def log_mel_patches(audio: np.ndarray, mel: np.ndarray) -> np.ndarray:
    """[N, 1, 96, 64] log-mel patches of 16 kHz audio, YAMNet's front end."""
    shortest = NFFT + HOP * (PATCH - 1)  # one whole patch of frames
    if len(audio) < shortest:
        audio = np.pad(audio, (0, shortest - len(audio)))
    spec = np.abs(librosa.stft(audio, n_fft=NFFT, hop_length=HOP, win_length=WIN, window="hann", center=False))
    frames = np.log(mel @ spec + LOG_OFFSET).T.astype(np.float32)  # [T, 64]
    starts = range(0, frames.shape[0] - PATCH + 1, PATCH_HOP)
    return np.stack([frames[s : s + PATCH] for s in starts])[:, None]


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.threshold = float(params.get("threshold", "0.3"))
        self.silence_rms = float(params.get("silence_rms", "0.001"))
        models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
        path = Path(os.environ.get("VDET_YAMNET_PATH", models / "yamnet"))
        graph = onnx.load(str(path / "model.onnx"), load_external_data=False).graph
        q = {i.name: float(numpy_helper.to_array(i)) for i in graph.initializer if i.name in QUANT}
        self.quantised = len(q) == len(QUANT)
        self.q = q
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params.get("num_threads", "1"))
        providers = ["CPUExecutionProvider"]
        if args.get("model_instance_kind") == "GPU" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers = [("CUDAExecutionProvider", {"device_id": int(args["model_instance_device_id"])}), "CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path / "model.onnx"), options, providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        with open(path / "class_map.csv", newline="", encoding="utf-8") as fh:
            self.names = [row["display_name"] for row in csv.DictReader(fh)]
        self.mel = librosa.filters.mel(sr=RATE, n_fft=NFFT, n_mels=64, fmin=125.0, fmax=7500.0, htk=True, norm=None)

    def scores(self, patches: np.ndarray) -> np.ndarray:
        """Per-patch class probabilities [N, 521]."""
        if self.quantised:
            x = np.clip(np.round(patches / self.q["audio_scale"] + self.q["audio_zero_point"]), 0, 255).astype(np.uint8)
        else:
            x = patches.astype(np.float32)
        # the export's batch dimension is fixed at 1
        raw = np.concatenate([self.session.run(None, {self.input_name: x[i : i + 1]})[0] for i in range(len(x))])
        logits = raw.astype(np.float64)
        if self.quantised:
            logits = self.q["class_scores_scale"] * (logits - self.q["class_scores_zero_point"])
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))

    def tag(self, audio: np.ndarray) -> list[dict]:
        audio = np.nan_to_num(audio.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if not len(audio):
            return []
        patches = log_mel_patches(audio, self.mel)
        span = (WIN + HOP * (PATCH - 1)) / RATE
        loud = []
        for i in range(len(patches)):
            a = i * PATCH_HOP * HOP
            piece = audio[a : a + WIN + HOP * (PATCH - 1)]
            if len(piece) and float(np.sqrt(np.mean(piece**2))) >= self.silence_rms:
                loud.append(i)
        if not loud:
            return []
        probs = self.scores(patches[loud])
        tags = []
        for row, i in zip(probs, loud):
            t0 = i * PATCH_HOP * HOP / RATE
            for idx in np.flatnonzero(row >= self.threshold):
                tags.append(
                    {
                        "t_start": round(t0, 3),
                        "t_end": round(min(t0 + span, len(audio) / RATE), 3),
                        "label": self.names[idx],
                        "confidence": round(float(row[idx]), 3),
                    }
                )
        return tags

    def execute(self, requests):
        responses = []
        for request in requests:
            audio = pb_utils.get_input_tensor_by_name(request, "AUDIO").as_numpy()
            docs = np.array([json.dumps(self.tag(row)).encode() for row in audio], dtype=np.object_).reshape(-1, 1)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("TAGS_JSON", docs)]))
        return responses
