"""Triton python-backend model: sound-event tagging with BirdNET (LiteRT).

BirdNET scores 3 s of 48 kHz audio against 6,522 labels, among them non-bird
classes useful here (Siren, Engine, Dog, Gun, Fireworks, Human vocal, Power
tools, Noise). Labels are "Scientific_Common"; we report the common name, and
species (birds, frogs, insects) as "<common name> (animal)" only above a higher
threshold. Quiet chunks are skipped: there is nothing to tag in silence.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils
from ai_edge_litert.interpreter import Interpreter
from scipy.signal import resample_poly

CHUNK_S = 3.0
RATE = 48000
# BirdNET classes that are sound sources, not species
GENERIC = {
    "Dog",
    "Engine",
    "Environmental",
    "Fireworks",
    "Gun",
    "Human non-vocal",
    "Human vocal",
    "Human whistle",
    "Noise",
    "Power tools",
    "Siren",
}


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.threshold = float(params.get("threshold", "0.5"))
        self.species_threshold = float(params.get("species_threshold", "0.8"))
        self.sensitivity = float(params.get("sensitivity", "1.0"))
        models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
        path = Path(os.environ.get("VDET_BIRDNET_PATH", models / "birdnet"))
        self.interpreter = Interpreter(model_path=str(path / "model.tflite"), num_threads=int(params.get("num_threads", "2")))
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        names, generic = [], []
        for line in (path / "labels.txt").read_text(encoding="utf-8").splitlines():
            scientific, _, common = line.partition("_")
            common = common or scientific
            is_generic = scientific in GENERIC
            names.append(common.lower() if is_generic else f"{common} (animal)")
            generic.append(is_generic)
        self.names = names
        self.generic = np.array(generic)

    def tag(self, audio16k: np.ndarray) -> list[dict]:
        audio = resample_poly(audio16k.astype(np.float32), 3, 1).astype(np.float32)
        chunk = int(CHUNK_S * RATE)
        tags = []
        for start in range(0, max(len(audio), 1), chunk):
            piece = audio[start : start + chunk]
            if len(piece) < chunk // 3 or float(np.sqrt(np.mean(piece**2))) < 1e-3:
                continue
            if len(piece) < chunk:
                piece = np.pad(piece, (0, chunk - len(piece)))
            self.interpreter.set_tensor(self.input_index, piece[None, :])
            self.interpreter.invoke()
            logits = self.interpreter.get_tensor(self.output_index)[0]
            probs = 1.0 / (1.0 + np.exp(-self.sensitivity * np.clip(logits, -20, 20)))
            limit = np.where(self.generic, self.threshold, self.species_threshold)
            for idx in np.flatnonzero(probs >= limit):
                t0 = start / RATE
                tags.append(
                    {
                        "t_start": round(t0, 3),
                        "t_end": round(min(t0 + CHUNK_S, len(audio) / RATE), 3),
                        "label": self.names[idx],
                        "confidence": round(float(probs[idx]), 3),
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
