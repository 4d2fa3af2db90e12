"""Audio stage: voice activity, speech regions for ASR, and sound events read from the signal.

Speech: Silero VAD (ONNX, run here: it is tiny) marks speech; regions are
padded, merged across short pauses and capped at Whisper's 30 s context. A
region belongs to the window it starts in and may run past the window's end
(the window reads ``boundary_overflow_s`` of extra audio), so an utterance
across a boundary is transcribed once, whole.

Signal events need no model: loud onsets (a jump over the recent loudness
floor), tonal sounds (beeps, rings, alarms: energy concentrated in a narrow
band, sustained), and silence is simply the absence of both.
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


@dataclass(frozen=True)
class SignalEvent:
    label: str  # "loud onset", "tone"
    t_start: float
    t_end: float
    confidence: float
    attrs: dict


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


def _frames_db(pcm: np.ndarray, hop: int) -> np.ndarray:
    n = len(pcm) // hop
    if n == 0:
        return np.zeros(0, np.float32)
    frames = pcm[: n * hop].reshape(n, hop)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)


def signal_events(pcm: np.ndarray, cfg: AudioConfig, offset_s: float = 0.0) -> list[SignalEvent]:
    """Loud onsets and sustained tones found in the waveform itself."""
    events: list[SignalEvent] = []
    hop = 800  # 50 ms
    step = hop / AUDIO_RATE
    db = _frames_db(pcm, hop)
    if len(db) == 0:
        return events
    # loud onsets: a frame well above the median of the previous second, and loud in absolute terms
    last_onset = -1e9
    for i in range(1, len(db)):
        floor = float(np.median(db[max(0, i - 20) : i]))
        jump = db[i] - floor
        if jump >= cfg.onset_db and db[i] > -30 and (i * step - last_onset) > 1.0:
            end = i
            while end + 1 < len(db) and db[end + 1] > floor + cfg.onset_db / 2:
                end += 1
            events.append(SignalEvent("loud onset", round(offset_s + i * step, 3), round(offset_s + (end + 1) * step, 3),
                                      round(min(1.0, jump / (2 * cfg.onset_db)), 3), {"jump_db": round(float(jump), 1), "level_db": round(float(db[i]), 1)}))
            last_onset = i * step
    # tones: a narrow spectral peak holding most of the energy over >= 0.3 s
    n_fft = 2048
    spec_hop = 1024
    if len(pcm) >= n_fft:
        win = np.hanning(n_fft).astype(np.float32)
        idx = np.arange(0, len(pcm) - n_fft + 1, spec_hop)
        frames = np.stack([pcm[i : i + n_fft] * win for i in idx])
        mag = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        total = mag.sum(axis=1) + 1e-12
        peak = mag.argmax(axis=1)
        # energy within +-2 bins of the peak
        band = np.stack([mag[np.arange(len(mag)), np.clip(peak + k, 0, mag.shape[1] - 1)] for k in range(-2, 3)]).sum(axis=0)
        ratio = band / total
        level = 10 * np.log10(total / n_fft + 1e-12)
        tonal = (ratio > 0.6) & (level > -45) & (peak > 5)
        freqs = peak * AUDIO_RATE / n_fft
        i = 0
        while i < len(tonal):
            if not tonal[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(tonal) and tonal[j + 1] and abs(freqs[j + 1] - freqs[i]) < 60:
                j += 1
            t0, t1 = idx[i] / AUDIO_RATE, (idx[j] + n_fft) / AUDIO_RATE
            if t1 - t0 >= 0.3:
                events.append(SignalEvent("tone", round(offset_s + t0, 3), round(offset_s + t1, 3), round(float(ratio[i : j + 1].mean()), 3),
                                          {"frequency_hz": round(float(np.median(freqs[i : j + 1])), 1)}))
            i = j + 1
    return events
