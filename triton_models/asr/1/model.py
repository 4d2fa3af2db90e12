"""Triton python-backend model: Whisper ASR with faster-whisper (CTranslate2).

A request carries 16 kHz mono float32 PCM and, optionally, ``SPANS``: the speech regions in it (seconds from its
start, ``[k, 2]``). The speech lane sends one request per window: the window's audio and its VAD regions, which are
decoded together as one batch (faster-whisper's ``BatchedInferencePipeline`` with the regions as
``clip_timestamps``), so the encoder and the beam search run over all of a window's regions at once. Without
``SPANS`` the whole audio is transcribed as one stretch (sequentially, 30 s at a time).

Decoding: ``condition_on_previous_text=False`` (no runaway repetition across segments), word timestamps on, and
segments whose ``no_speech_prob`` says they are silence dropped. Segment times are tightened to their first/last word
so a citation never lands seconds before the words were spoken. ``LANGUAGE`` (optional, e.g. ``en``) skips language
detection: the lane detects it once per video and sends it with the later windows.

Whisper's first timestamp is held to the first second of the audio it decodes (``max_initial_timestamp``): right
for a VAD region, which starts where the speech does, but on audio that opens with seconds of silence it forces a
segment to start in that silence, and beam search then prefers the lower-case, unpunctuated caption style the model
also learnt (measured on the pyannote call, 6.7 s of silence first: beam 5 gave "hello hello hello I didn't know you
were there ..."). Unsegmented audio is therefore decoded with the limit at ``unsegmented_initial_timestamp_s``.

Device: a KIND_GPU instance (the GPU configs in ``configs/``) runs on ``cuda:<its device id>``
with the config's ``compute_type`` (float16); a KIND_CPU instance runs on the CPU. A GPU instance
on a machine where CTranslate2 sees no CUDA device falls back to the CPU with a warning in the
Triton log, using ``compute_type`` only if the CPU supports it (int8 otherwise).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import ctranslate2
import numpy as np
import triton_python_backend_utils as pb_utils
from faster_whisper import BatchedInferencePipeline, WhisperModel

CPU_FALLBACK_COMPUTE_TYPE = "int8"


def choose_device(kind: str, device_id: str, compute_type: str, cuda_devices: int, cpu_compute_types: set[str]):
    """(device, device_index, compute_type, warning or None) for a Triton instance kind and device id."""
    if kind == "GPU":
        index = int(device_id or 0)
        if index < cuda_devices:
            return "cuda", index, compute_type, None
        why = "no CUDA device is visible" if cuda_devices == 0 else f"only {cuda_devices} CUDA device(s) are visible"
        cpu_type = compute_type if compute_type in cpu_compute_types else CPU_FALLBACK_COMPUTE_TYPE
        warning = (
            f"asr: the instance is placed on GPU {index} but {why} to CTranslate2; running on the CPU "
            f"with compute_type {cpu_type} (much slower). Check the container has the GPU "
            "(docker run --gpus) and a CUDA build of ctranslate2."
        )
        return "cpu", 0, cpu_type, warning
    return "cpu", 0, compute_type, None


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        role = os.environ.get("VDET_ASR_MODEL") or params.get("model", "whisper-tiny.en")  # e.g. whisper-base for other languages
        models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
        env_key = "VDET_" + role.upper().replace("-", "_").replace(".", "_") + "_PATH"
        path = Path(os.environ.get(env_key, models / role))
        self.english_only = role.endswith(".en")
        device, device_index, compute_type, warning = choose_device(
            args.get("model_instance_kind", "CPU"),
            args.get("model_instance_device_id", "0"),
            params.get("compute_type", "int8"),
            ctranslate2.get_cuda_device_count(),
            ctranslate2.get_supported_compute_types("cpu"),
        )
        if warning:
            pb_utils.Logger.log_warn(warning)
        threads = params.get("cpu_threads", "auto")
        self.model = WhisperModel(
            str(path),
            device=device,
            device_index=device_index,
            compute_type=compute_type,
            cpu_threads=len(os.sched_getaffinity(0)) if threads == "auto" else int(threads),  # the cores this server may use
        )
        self.batched = BatchedInferencePipeline(self.model)
        self.beam_size = int(os.environ.get("VDET_ASR_BEAM_SIZE") or params.get("beam_size", "5"))
        self.batch_size = int(params.get("batch_size", "8"))
        self.no_speech_threshold = float(params.get("no_speech_threshold", "0.6"))
        self.unsegmented_initial_timestamp_s = float(params.get("unsegmented_initial_timestamp_s", "30"))
        self.resume_after_s = float(params.get("resume_after_s", "1.0"))
        self.resume_passes = int(params.get("resume_passes", "2"))
        self.model_name = role

    def _language(self, language: str | None) -> str | None:
        return "en" if self.english_only else (language or None)

    def _document(self, segments, language: str | None, offset_s: float = 0.0) -> dict:
        out = []
        for seg in segments:
            text = seg.text.strip()
            if not text or seg.no_speech_prob > self.no_speech_threshold:
                continue
            words = [
                {"start": round(w.start + offset_s, 3), "end": round(w.end + offset_s, 3), "word": w.word, "probability": round(w.probability, 3)}
                for w in (seg.words or [])
            ]
            start = words[0]["start"] if words else seg.start + offset_s
            end = words[-1]["end"] if words else seg.end + offset_s
            out.append(
                {
                    "start": round(start, 3),
                    "end": round(max(end, start), 3),
                    "text": text,
                    "avg_logprob": round(seg.avg_logprob, 3),
                    "no_speech_prob": round(seg.no_speech_prob, 3),
                    "words": words,
                }
            )
        return {"model": self.model_name, "language": language, "segments": out}

    def transcribe_spans(self, audio: np.ndarray, spans: np.ndarray, language: str | None = None) -> dict:
        """The speech regions ``spans`` (seconds into ``audio``) decoded as one batch; times relative to ``audio``."""
        duration = len(audio) / 16000
        clips = [{"start": float(max(0.0, a)), "end": float(min(b, duration))} for a, b in np.asarray(spans, np.float64).reshape(-1, 2)]
        clips = [c for c in clips if c["end"] - c["start"] >= 0.1]  # under 0.1 s: nothing to say
        if not clips:
            return {"model": self.model_name, "language": None, "segments": []}
        audio = audio.astype(np.float32)
        language = self._language(language)
        found, todo = [], clips
        for _ in range(1 + self.resume_passes):
            segments, info = self.batched.transcribe(
                audio,
                language=language,
                beam_size=self.beam_size,
                word_timestamps=True,
                without_timestamps=False,  # timestamps split a region into its sentences (one event each)
                vad_filter=False,  # the orchestrator already ran VAD
                clip_timestamps=todo,
                batch_size=min(len(todo), self.batch_size),
            )
            segments = list(segments)
            found += segments
            language = language or info.language  # the later passes need not detect it again
            todo = self._unfinished(todo, segments)
            if not todo:
                break
        return self._document(sorted(found, key=lambda s: s.start), language)

    def _unfinished(self, clips: list[dict], segments) -> list[dict]:
        """What is left of each clip after its decode stopped early (its last word ends ``resume_after_s`` or more before
        the clip's end, inside a VAD region: speech). One decode per clip does not seek on as sequential decoding does,
        so a long region's decode that ends early would lose its last sentences (measured: whisper-base dropped the
        last 8 s of the pyannote call's 23 s region)."""
        left = []
        for clip in clips:
            words = [w for s in segments if clip["start"] - 0.05 <= s.start < clip["end"] for w in (s.words or [])]
            last = max((w.end for w in words), default=None)
            if last is not None and clip["end"] - last >= self.resume_after_s:
                left.append({"start": last, "end": clip["end"]})
        return left

    def transcribe(self, audio: np.ndarray, language: str | None = None) -> dict:
        """The whole of ``audio``, unsegmented (no VAD regions given)."""
        if audio.size < 1600:  # under 0.1 s: nothing to say
            return {"model": self.model_name, "language": None, "segments": []}
        segments, info = self.model.transcribe(
            audio.astype(np.float32),
            language=self._language(language),
            beam_size=self.beam_size,
            condition_on_previous_text=False,
            word_timestamps=True,
            vad_filter=False,
            no_speech_threshold=self.no_speech_threshold,
            max_initial_timestamp=self.unsegmented_initial_timestamp_s,  # speech need not start in the first second
        )
        return self._document(segments, info.language)

    def execute(self, requests):
        responses = []
        for request in requests:
            audio = pb_utils.get_input_tensor_by_name(request, "AUDIO").as_numpy()
            spans = pb_utils.get_input_tensor_by_name(request, "SPANS")
            language = pb_utils.get_input_tensor_by_name(request, "LANGUAGE")
            spans = None if spans is None else spans.as_numpy().reshape(len(audio), -1, 2)
            languages = [None] * len(audio)
            if language is not None:
                languages = [(x.decode() if isinstance(x, bytes) else str(x)) or None for x in language.as_numpy().reshape(-1)]
            docs = [
                json.dumps(self.transcribe(row, lang) if spans is None else self.transcribe_spans(row, spans[i], lang)).encode()
                for i, (row, lang) in enumerate(zip(audio, languages))
            ]
            out = np.array(docs, dtype=np.object_).reshape(len(docs), 1)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("SEGMENTS_JSON", out)]))
        return responses
