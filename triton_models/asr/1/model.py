"""Triton python-backend model: Whisper ASR with faster-whisper (CTranslate2).

Each request carries the PCM of one speech region (16 kHz mono float32). We
decode with ``condition_on_previous_text=False`` (no runaway repetition across
segments), word timestamps on, and drop segments whose ``no_speech_prob`` says
they are silence. Segment times are tightened to their first/last word so a
citation never lands seconds before the words were spoken.

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
from faster_whisper import WhisperModel

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
        self.model = WhisperModel(
            str(path),
            device=device,
            device_index=device_index,
            compute_type=compute_type,
            cpu_threads=int(params.get("cpu_threads", "2")),
        )
        self.beam_size = int(params.get("beam_size", "1"))
        self.no_speech_threshold = float(params.get("no_speech_threshold", "0.6"))
        self.model_name = role

    def transcribe(self, audio: np.ndarray) -> dict:
        if audio.size < 1600:  # under 0.1 s: nothing to say
            return {"model": self.model_name, "language": None, "segments": []}
        segments, info = self.model.transcribe(
            audio.astype(np.float32),
            language="en" if self.english_only else None,
            beam_size=self.beam_size,
            condition_on_previous_text=False,
            word_timestamps=True,
            vad_filter=False,  # the orchestrator already ran VAD
            no_speech_threshold=self.no_speech_threshold,
        )
        out = []
        for seg in segments:
            text = seg.text.strip()
            if not text or seg.no_speech_prob > self.no_speech_threshold:
                continue
            words = [{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word, "probability": round(w.probability, 3)} for w in (seg.words or [])]
            start = words[0]["start"] if words else seg.start
            end = words[-1]["end"] if words else seg.end
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
        return {"model": self.model_name, "language": info.language, "segments": out}

    def execute(self, requests):
        responses = []
        for request in requests:
            audio = pb_utils.get_input_tensor_by_name(request, "AUDIO").as_numpy()
            docs = [json.dumps(self.transcribe(row)).encode() for row in audio]
            out = np.array(docs, dtype=np.object_).reshape(len(docs), 1)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("SEGMENTS_JSON", out)]))
        return responses
