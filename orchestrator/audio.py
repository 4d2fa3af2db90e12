"""Audio stage: voice activity and the speech regions sent to ASR.

Speech: Silero VAD (ONNX, run here: it is tiny) marks speech; regions are
padded, merged across short pauses and capped at Whisper's 30 s context. A
region belongs to the window it starts in and may run past the window's end
(the window reads ``boundary_overflow_s`` of extra audio), so an utterance
across a boundary is transcribed once, whole.

Sounds other than speech are named by the sounds lane (``lanes/sounds.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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


# -- transcription ----------------------------------------------------------------------------------------------------

ASR_MODEL = "asr"  # Triton model (triton_models/asr): Whisper with faster-whisper


def transcribe_regions(models, pcm: np.ndarray, spans: list[tuple[float, float]], language: str | None = None) -> list:
    """The speech regions ``spans`` (seconds into ``pcm``) transcribed in one request, decoded as one batch by the
    ``asr`` model: ``TranscriptSegment``s in time order, their times (and their words') in seconds into ``pcm``.
    ``language`` (ISO 639-1) skips the model's language detection; None lets it detect the language of these regions.
    ``models`` is a ``TritonModels`` serving ``asr``."""
    import tritonclient.http as httpclient  # noqa: PLC0415 - the worker imports it with the model client anyway

    from .model_clients import TranscriptSegment  # noqa: PLC0415
    from .profiling import stage  # noqa: PLC0415

    if not spans:
        return []
    audio = httpclient.InferInput("AUDIO", [1, len(pcm)], "FP32")
    audio.set_data_from_numpy(np.ascontiguousarray(pcm, dtype=np.float32)[None, :], binary_data=True)
    where = httpclient.InferInput("SPANS", [1, len(spans), 2], "FP32")
    where.set_data_from_numpy(np.asarray(spans, np.float32).reshape(1, -1, 2), binary_data=True)
    inputs = [audio, where]
    if language:
        said = httpclient.InferInput("LANGUAGE", [1, 1], "BYTES")
        said.set_data_from_numpy(np.array([[language.encode()]], dtype=np.object_), binary_data=True)
        inputs.append(said)
    with stage("ASR (Triton)"):
        result = models.infer(ASR_MODEL, inputs, [httpclient.InferRequestedOutput("SEGMENTS_JSON", binary_data=True)])
    raw = result.as_numpy("SEGMENTS_JSON").reshape(-1)[0]
    doc = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    return sorted(TranscriptSegment.all_from(doc), key=lambda seg: seg.start)


# -- speakers ---------------------------------------------------------------------------------------------------------

SPEAKER_MODEL = "speaker_embedder"  # Triton model (triton_models/speaker_embedder): Resemblyzer's voice encoder, 256-d


def speaker_embeddings(models, pcm: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    """One L2-normalised voice embedding per ``(start, end)`` span (seconds into ``pcm``), ``[len(spans), 256]``; a span
    with no audio gets a zero row. ``models`` is a ``TritonModels`` serving ``speaker_embedder``."""
    import tritonclient.http as httpclient  # noqa: PLC0415 - the worker imports it with the model client anyway

    if not spans:
        return np.zeros((0, 256), np.float32)
    audio = httpclient.InferInput("AUDIO", [1, len(pcm)], "FP32")
    audio.set_data_from_numpy(np.ascontiguousarray(pcm, dtype=np.float32)[None, :], binary_data=True)
    where = httpclient.InferInput("SPANS", [1, len(spans), 2], "FP32")
    where.set_data_from_numpy(np.asarray(spans, np.float32).reshape(1, -1, 2), binary_data=True)
    result = models.infer(SPEAKER_MODEL, [audio, where], [httpclient.InferRequestedOutput("EMBEDDINGS", binary_data=True)])
    return result.as_numpy("EMBEDDINGS").reshape(-1, 256).astype(np.float32)


@dataclass(frozen=True)
class SpeakerConfig:
    """How utterances are grouped into speakers (measured on the pyannote call and the held-out clips: README)."""

    same_speaker: float = 0.7  # cosine similarity to a speaker's centroid from which an utterance is theirs
    min_new_speaker_s: float = 1.0  # a shorter utterance is too little voice to found a speaker: it joins the nearest


# A voice's median speaking pitch: most men's lie below LOW_VOICE_MAX_HZ (85-155 Hz), most women's and children's above
# HIGH_VOICE_MIN_HZ (165-255 Hz); in between, or for a raised voice (an orator shouting reaches 250 Hz), pitch alone
# cannot tell, and the product says how it told
VOICE_PITCH_RANGE_HZ = (65.0, 400.0)
LOW_VOICE_MAX_HZ = 150.0
HIGH_VOICE_MIN_HZ = 170.0


def voice_pitch(pcm: np.ndarray, rate: int = AUDIO_RATE) -> float | None:
    """An utterance's median fundamental frequency in Hz: YIN (librosa) over its louder half of 64 ms frames, where
    speech is voiced; None when it is too short to tell.

    >>> t = np.arange(AUDIO_RATE) / AUDIO_RATE
    >>> round(voice_pitch((0.3 * np.sign(np.sin(2 * np.pi * 120 * t))).astype(np.float32)))
    120
    >>> voice_pitch(np.zeros(800, np.float32)) is None
    True
    """
    import librosa  # noqa: PLC0415

    y = np.asarray(pcm, np.float32)
    frame, hop = 1024 * rate // 16000, 160 * rate // 16000
    if len(y) < 2 * frame or not np.any(y):
        return None
    lo, hi = VOICE_PITCH_RANGE_HZ
    f0 = librosa.yin(y, fmin=lo, fmax=hi, sr=rate, frame_length=frame, hop_length=hop)
    rms = librosa.feature.rms(y=y, frame_length=frame, hop_length=hop)[0][: len(f0)]
    f0 = f0[: len(rms)][rms >= np.quantile(rms, 0.5)]
    f0 = f0[(f0 > lo + 5) & (f0 < hi - 20)]  # YIN's edges are where it lands on unvoiced frames
    return round(float(np.median(f0)), 1) if len(f0) >= 5 else None


def voice_register(pitch_hz: float | None) -> str:
    """ "low" (a man's voice, as pitch goes), "high" (a woman's or a child's), or "" where pitch cannot tell."""
    if pitch_hz is None:
        return ""
    return "low" if pitch_hz <= LOW_VOICE_MAX_HZ else "high" if pitch_hz >= HIGH_VOICE_MIN_HZ else ""


@dataclass
class Speakers:
    """The voices heard so far in a video, in order of first appearance: a duration-weighted sum of embeddings each.

    Online (one utterance at a time, in time order) because a window's events are final once written: a label given
    is never changed by what is heard later. Carried in the speech lane's state, so it survives checkpoints; it grows
    with the number of voices, not with the video's length.

    >>> s = Speakers()
    >>> a, b = np.eye(3)[0], np.eye(3)[1]
    >>> s.assign(a, 2.0), s.assign(b, 2.0), s.assign(a * 0.9 + b * 0.1, 1.5)
    (('speaker 1', 1.0), ('speaker 2', 1.0), ('speaker 1', 0.994))
    """

    sums: list[np.ndarray] = field(default_factory=list)
    config: SpeakerConfig = field(default_factory=SpeakerConfig)

    def assign(self, embedding: np.ndarray, duration_s: float) -> tuple[str, float] | None:
        """The speaker of one utterance (``speaker N``) and its similarity to that speaker; None for no voice."""
        norm = float(np.linalg.norm(embedding))
        if norm == 0 or not np.isfinite(norm):
            return None
        v = np.asarray(embedding, np.float64) / norm
        best, similarity = -1, -1.0
        if self.sums:
            centroids = np.stack(self.sums)
            centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
            scores = centroids @ v
            best, similarity = int(np.argmax(scores)), float(scores.max())
        if best < 0 or (similarity < self.config.same_speaker and duration_s >= self.config.min_new_speaker_s):
            self.sums.append(v * max(duration_s, 1e-3))
            return f"speaker {len(self.sums)}", 1.0
        self.sums[best] = self.sums[best] + v * max(duration_s, 1e-3)
        return f"speaker {best + 1}", round(similarity, 3)
