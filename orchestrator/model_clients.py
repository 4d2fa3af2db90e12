"""Thin Triton clients for the four models (HTTP, ``tritonclient``).

Clients send raw data (uint8 frames, float32 PCM, text) and get back plain
dataclasses; all model pre/post-processing lives in ``triton_models/``.
The detector sends several frames per request and keeps several requests in
flight, so Triton's dynamic batcher can group them.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass

import numpy as np
import tritonclient.http as httpclient
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential
from tritonclient.utils import InferenceServerException

from .profiling import stage

RETRYABLE = ("connection", "timed out", "broken pipe", "reset by peer", "service unavailable", "502", "503")
# What a call to a Triton that died or restarted can raise: the HTTP client's own errors, socket errors, and
# http.client.HTTPException (geventhttpclient's HTTPConnectionClosed, "connection closed.").
TRANSPORT_ERRORS = (InferenceServerException, ConnectionError, OSError, http.client.HTTPException)


def _transient(exc: BaseException) -> bool:
    """A failure worth another try: the connection dropped (HTTPException: the server died mid-reply) or the server
    said it is busy or unreachable. A model's own error (bad input) is not retried."""
    if not isinstance(exc, TRANSPORT_ERRORS):
        return False
    return isinstance(exc, http.client.HTTPException) or any(s in str(exc).lower() for s in RETRYABLE)


class ModelError(RuntimeError):
    """A model call failed for good; the message names the model."""


@dataclass(frozen=True)
class FrameDetections:
    """Detections on one frame: boxes normalised 0..1 (x1, y1, x2, y2)."""

    boxes: np.ndarray  # [n, 4] float32
    scores: np.ndarray  # [n] float32
    class_ids: np.ndarray  # [n] int32
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class TranscriptSegment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    words: tuple[Word, ...]
    language: str | None = None  # what the model heard (ISO 639-1), per request

    @classmethod
    def all_from(cls, doc: dict) -> list[TranscriptSegment]:
        """The segments of the asr model's SEGMENTS_JSON document, in its order."""
        return [
            cls(
                s["start"],
                s["end"],
                s["text"],
                s["avg_logprob"],
                s["no_speech_prob"],
                tuple(Word(w["start"], w["end"], w["word"], w["probability"]) for w in s["words"]),
                doc.get("language"),
            )
            for s in doc["segments"]
        ]


@dataclass(frozen=True)
class SoundTag:
    t_start: float
    t_end: float
    label: str
    confidence: float


class TritonModels:
    """One client for the model repository served at ``url`` (host:port, HTTP)."""

    def __init__(self, url: str, concurrency: int = 4, retries: int = 3, timeout_s: float = 300.0):
        self.url = url.removeprefix("http://")
        self.retries = retries
        self._served: dict[str, bool] = {}  # model -> loaded, asked once (``serves``)
        self.client = httpclient.InferenceServerClient(self.url, concurrency=concurrency, connection_timeout=timeout_s, network_timeout=timeout_s)

    def close(self) -> None:
        self.client.close()

    def ready(self, models: tuple[str, ...] = ("detector", "asr", "sound_tagger", "audio_tagger", "embedder")) -> dict[str, bool]:
        out = {}
        for model in models:
            try:
                out[model] = bool(self.client.is_model_ready(model))
            except Exception:  # noqa: BLE001 - any failure means not ready
                out[model] = False
        return out

    def infer(self, model: str, inputs, outputs):
        """One request; a dropped connection or a busy server is retried (0.5 s, 1 s, 2 s ... apart, ``retries`` times)."""
        try:
            for attempt in Retrying(
                retry=retry_if_exception(_transient), stop=stop_after_attempt(self.retries + 1), wait=wait_exponential(multiplier=0.5, max=8.0), reraise=True
            ):
                with attempt:
                    return self.client.infer(model, inputs, outputs=outputs)
        except TRANSPORT_ERRORS as exc:
            raise ModelError(f"model '{model}' failed: {exc}") from exc
        raise AssertionError("unreachable")

    # -- detector ---------------------------------------------------------------------------
    def _detector_request(self, frames: np.ndarray):
        inp = httpclient.InferInput("IMAGE", list(frames.shape), "UINT8")
        inp.set_data_from_numpy(np.ascontiguousarray(frames), binary_data=True)
        outs = [httpclient.InferRequestedOutput(n, binary_data=True) for n in ("BOXES", "SCORES", "CLASS_IDS", "LABELS")]
        return [inp], outs

    @staticmethod
    def _parse_detections(result) -> list[FrameDetections]:
        boxes, scores = result.as_numpy("BOXES"), result.as_numpy("SCORES")
        classes, labels = result.as_numpy("CLASS_IDS"), result.as_numpy("LABELS")
        out = []
        for b, s, c, l in zip(boxes, scores, classes, labels):
            keep = c >= 0
            out.append(
                FrameDetections(
                    b[keep].astype(np.float32),
                    s[keep].astype(np.float32),
                    c[keep].astype(np.int32),
                    tuple(x.decode() if isinstance(x, bytes) else str(x) for x in l[keep]),
                )
            )
        return out

    def detect(self, frames: list[np.ndarray], batch: int = 8, in_flight: int = 2) -> list[FrameDetections]:
        """Detect objects on frames (same size, RGB uint8), ``batch`` per request, ``in_flight`` requests at once."""
        if not frames:
            return []
        with stage("detector (Triton)"):
            return self._detect(frames, batch, in_flight)

    def _detect(self, frames: list[np.ndarray], batch: int, in_flight: int) -> list[FrameDetections]:
        chunks = [np.stack(frames[i : i + batch]) for i in range(0, len(frames), batch)]
        results: list[list[FrameDetections] | None] = [None] * len(chunks)
        pending: list[tuple[int, object]] = []
        for i, chunk in enumerate(chunks):
            inputs, outputs = self._detector_request(chunk)
            pending.append((i, self.client.async_infer("detector", inputs, outputs=outputs)))
            if len(pending) >= in_flight:
                j, handle = pending.pop(0)
                results[j] = self._collect(handle, chunks[j])
        for j, handle in pending:
            results[j] = self._collect(handle, chunks[j])
        return [d for part in results for d in part]  # type: ignore[union-attr]

    def _collect(self, handle, chunk: np.ndarray) -> list[FrameDetections]:
        try:
            return self._parse_detections(handle.get_result())
        except TRANSPORT_ERRORS:
            inputs, outputs = self._detector_request(chunk)  # retried synchronously, with backoff
            return self._parse_detections(self.infer("detector", inputs, outputs))

    # -- audio ------------------------------------------------------------------------------
    def _audio_json(self, model: str, pcm: np.ndarray, output: str):
        inp = httpclient.InferInput("AUDIO", [1, len(pcm)], "FP32")
        inp.set_data_from_numpy(np.ascontiguousarray(pcm, dtype=np.float32)[None, :], binary_data=True)
        result = self.infer(model, [inp], [httpclient.InferRequestedOutput(output, binary_data=True)])
        raw = result.as_numpy(output).reshape(-1)[0]
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)

    def transcribe(self, pcm: np.ndarray) -> list[TranscriptSegment]:
        with stage("ASR (Triton)"):
            doc = self._audio_json("asr", pcm, "SEGMENTS_JSON")
        return TranscriptSegment.all_from(doc)

    def tag_sounds(self, pcm: np.ndarray) -> list[SoundTag]:
        with stage("sound tagger (Triton)"):
            return [SoundTag(**t) for t in self._audio_json("sound_tagger", pcm, "TAGS_JSON")]

    def tag_audioset(self, pcm: np.ndarray) -> list[SoundTag]:
        """AudioSet classes (display names) per 0.96 s patch, from the ``audio_tagger`` model."""
        with stage("AudioSet tagger (Triton)"):
            return [SoundTag(**t) for t in self._audio_json("audio_tagger", pcm, "TAGS_JSON")]

    def serves(self, model: str) -> bool:
        """Whether the server has ``model`` loaded (asked once per client)."""
        if model not in self._served:
            self._served[model] = self.ready((model,))[model]
        return self._served[model]

    # -- text -------------------------------------------------------------------------------
    def embed(self, texts: list[str], batch: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), np.float32)
        with stage("embeddings (Triton)"):
            return self._embed(texts, batch)

    def _embed(self, texts: list[str], batch: int) -> np.ndarray:
        parts = []
        for i in range(0, len(texts), batch):
            rows = np.array([[t.encode("utf-8")] for t in texts[i : i + batch]], dtype=np.object_)
            inp = httpclient.InferInput("TEXT", list(rows.shape), "BYTES")
            inp.set_data_from_numpy(rows, binary_data=True)
            result = self.infer("embedder", [inp], [httpclient.InferRequestedOutput("EMBEDDING", binary_data=True)])
            parts.append(result.as_numpy("EMBEDDING"))
        return np.concatenate(parts).astype(np.float32)

    def parameters(self, model: str) -> dict[str, str]:
        """The ``parameters`` of the config Triton is serving for ``model`` (e.g. the detector's ``head``)."""
        config = self.client.get_model_config(model)
        return {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}

    def batch_stats(self, model: str = "detector") -> dict[int, int]:
        """Batch sizes Triton actually executed for ``model``: {batch_size: count}."""
        stats = self.client.get_inference_statistics(model)
        out: dict[int, int] = {}
        for entry in stats.get("model_stats", []):
            for b in entry.get("batch_stats", []):
                out[int(b["batch_size"])] = out.get(int(b["batch_size"]), 0) + int(b["compute_infer"]["count"])
        return dict(sorted(out.items()))
