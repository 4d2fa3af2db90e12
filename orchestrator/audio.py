"""Audio stage: voice activity and the speech regions sent to ASR.

Speech: Silero VAD (ONNX, run here: it is tiny) marks speech; regions are
padded, merged across short pauses and capped at Whisper's 30 s context. A
region belongs to the window it starts in and may run past the window's end
(the window reads ``boundary_overflow_s`` of extra audio), so an utterance
across a boundary is transcribed once, whole.

Sounds other than speech are named by the sounds lane (``lanes/sounds.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import AudioConfig
from .media import AUDIO_RATE
from .weights import require

VAD_CHUNK = 512  # samples at 16 kHz (32 ms), Silero's frame
VAD_CONTEXT = 64


@dataclass(frozen=True)
class SpeechRegion:
    t_start: float
    t_end: float


class VoiceActivity:
    """Silero VAD v6 over 16 kHz PCM → per-chunk speech probabilities."""

    def __init__(self):
        import onnxruntime as ort  # noqa: PLC0415

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        path = require("silero-vad") / "silero_vad.onnx"
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def probabilities(self, pcm: np.ndarray) -> np.ndarray:
        n = len(pcm) // VAD_CHUNK
        probs = np.zeros(n, np.float32)
        state = np.zeros((2, 1, 128), np.float32)
        context = np.zeros((1, VAD_CONTEXT), np.float32)
        sr = np.array(AUDIO_RATE, dtype=np.int64)
        for i in range(n):
            chunk = pcm[i * VAD_CHUNK : (i + 1) * VAD_CHUNK][None, :].astype(np.float32)
            if not chunk.any():
                context = chunk[:, -VAD_CONTEXT:]
                continue  # digital silence: no speech, skip the model
            x = np.concatenate([context, chunk], axis=1)
            out, state = self.session.run(None, {"input": x, "state": state, "sr": sr})
            probs[i] = float(out[0, 0])
            context = chunk[:, -VAD_CONTEXT:]
        return probs

    def regions(self, pcm: np.ndarray, cfg: AudioConfig, offset_s: float = 0.0) -> list[SpeechRegion]:
        """Speech regions (seconds, plus ``offset_s``) with hysteresis, padding and merging."""
        probs = self.probabilities(pcm)
        step = VAD_CHUNK / AUDIO_RATE
        on, off = cfg.vad_threshold, max(cfg.vad_threshold - 0.15, 0.01)
        raw: list[list[float]] = []
        active = False
        for i, p in enumerate(probs):
            if not active and p >= on:
                active = True
                raw.append([i * step, (i + 1) * step])
            elif active:
                if p >= off:
                    raw[-1][1] = (i + 1) * step
                else:
                    active = False
        merged: list[list[float]] = []
        for start, end in raw:
            if merged and start - merged[-1][1] < cfg.min_silence_s and end - merged[-1][0] <= cfg.max_region_s:
                merged[-1][1] = end
            else:
                merged.append([start, end])
        total = len(pcm) / AUDIO_RATE
        out = []
        for start, end in merged:
            if end - start < cfg.min_speech_s:
                continue
            start, end = max(0.0, start - cfg.speech_pad_s), min(total, end + cfg.speech_pad_s)
            while end - start > cfg.max_region_s:  # split long monologues at the cap
                out.append(SpeechRegion(round(start + offset_s, 3), round(start + cfg.max_region_s + offset_s, 3)))
                start += cfg.max_region_s
            out.append(SpeechRegion(round(start + offset_s, 3), round(end + offset_s, 3)))
        return out
