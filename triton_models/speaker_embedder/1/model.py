"""Triton python-backend model: speaker embeddings with Resemblyzer's voice encoder (torch).

The encoder (GE2E, Wan et al. 2018, as packaged by Resemblyzer) is a 3-layer LSTM over 40-band mel
spectrograms (25 ms windows every 10 ms) of 1.6 s "partial utterances" taken 1.3 times a second; an
utterance's embedding is the L2-normalised mean of its partials'. Audio is first raised to -30 dBFS
(never lowered), as Resemblyzer's own preprocessing does; Resemblyzer's webrtcvad trim is not needed:
the spans sent here are voice already (Silero VAD and Whisper's word times).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import librosa
import numpy as np
import torch
import triton_python_backend_utils as pb_utils
from torch import nn

RATE = 16000
HOP = 160  # 10 ms
N_FFT = 400  # 25 ms
N_MELS = 40
PARTIAL = 160  # frames: 1.6 s
PARTIALS_PER_S = 1.3
MIN_COVERAGE = 0.75  # a last partial shorter than this share of 1.6 s is dropped (unless it is the only one)
TARGET_DBFS = -30.0
DIM = 256


class VoiceEncoder(nn.Module):
    """Resemblyzer's network: LSTM(40 -> 256, 3 layers) -> Linear(256) -> ReLU -> L2 norm of the last hidden state."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, DIM, 3, batch_first=True)
        self.linear = nn.Linear(DIM, DIM)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = torch.relu(self.linear(hidden[-1]))
        return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)


def partial_starts(n_samples: int) -> list[int]:
    """First mel frame of each 1.6 s partial covering ``n_samples`` (Resemblyzer's ``compute_partial_slices``)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(round(RATE / PARTIALS_PER_S / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL + step + 1), step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    return starts


def utterance_mels(wav: np.ndarray) -> np.ndarray:
    """[n_partials, 160, 40] mel frames of one utterance, volume-normalised and zero-padded to whole partials."""
    rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2)))
    if rms > 0:
        change = TARGET_DBFS - 20 * np.log10(rms)
        if change > 0:
            wav = wav * np.float32(10 ** (change / 20))
    starts = partial_starts(len(wav))
    need = (starts[-1] + PARTIAL) * HOP
    if need >= len(wav):
        wav = np.pad(wav, (0, need - len(wav)))
    mel = librosa.feature.melspectrogram(y=wav, sr=RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS).astype(np.float32).T
    return np.stack([mel[s : s + PARTIAL] for s in starts])


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        torch.set_num_threads(int(params.get("torch_threads", "1")))
        models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
        path = Path(os.environ.get("VDET_RESEMBLYZER_PATH", models / "resemblyzer"))
        checkpoint = torch.load(str(path / "pretrained.pt"), map_location="cpu", weights_only=True)
        state = {k: v for k, v in checkpoint["model_state"].items() if k.startswith(("lstm.", "linear."))}  # not GE2E's loss scale
        self.encoder = VoiceEncoder()
        self.encoder.load_state_dict(state)
        self.encoder.eval()

    def embed(self, audio: np.ndarray, spans: np.ndarray) -> np.ndarray:
        audio = np.nan_to_num(audio.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        out = np.zeros((len(spans), DIM), np.float32)
        batches, owners = [], []
        for i, (t0, t1) in enumerate(spans):
            wav = audio[max(0, int(round(t0 * RATE))) : max(0, int(round(t1 * RATE)))]
            if len(wav) < HOP or not wav.any():
                continue  # nothing to hear: a zero vector, which the lane does not cluster
            mels = utterance_mels(wav)
            batches.append(mels)
            owners.extend([i] * len(mels))
        if not batches:
            return out
        with torch.no_grad():
            partials = self.encoder(torch.from_numpy(np.concatenate(batches))).numpy()
        owners = np.asarray(owners)
        for i in np.unique(owners):
            mean = partials[owners == i].mean(axis=0)
            out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out

    def execute(self, requests):
        responses = []
        for request in requests:
            audio = pb_utils.get_input_tensor_by_name(request, "AUDIO").as_numpy()  # [1, samples]
            spans = pb_utils.get_input_tensor_by_name(request, "SPANS").as_numpy()  # [1, n, 2]
            out = np.stack([self.embed(a, s.reshape(-1, 2)) for a, s in zip(audio, spans)])
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("EMBEDDINGS", out)]))
        return responses
