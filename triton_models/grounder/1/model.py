"""Triton python-backend model: open-vocabulary boxes with Grounding DINO (transformers, torch).

A prompt is a list of phrases separated by full stops ("forklift. ladder. open boot."), as Grounding DINO was trained
on. Each query's box is scored against every phrase: the highest sigmoid of the query's token logits over the tokens of
that phrase (the tokenizer's offsets say which tokens belong to which phrase); the box takes its best phrase and that
score, and is kept from ``box_threshold`` on. So every box comes back named by one phrase of the prompt, never by a
run of sub-word tokens.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import triton_python_backend_utils as pb_utils


def weights_dir(params: dict[str, str]) -> Path:
    """``model_path`` of the config, else ``$VDET_GROUNDER_PATH``, else ``<models>/grounder``."""
    if params.get("model_path"):
        return Path(params["model_path"])
    if os.environ.get("VDET_GROUNDER_PATH"):
        return Path(os.environ["VDET_GROUNDER_PATH"])
    return Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models")) / "grounder"


def phrases_of(prompt: str) -> list[str]:
    """The prompt's phrases, lower-cased, in order, each once."""
    return list(dict.fromkeys(p.strip().lower() for p in prompt.replace("\n", ".").split(".") if p.strip()))


class TritonPythonModel:
    def initialize(self, args):
        from transformers import AutoProcessor, GroundingDinoForObjectDetection

        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        torch.set_num_threads(int(params.get("torch_threads", "2")))
        self.box_threshold = float(params.get("box_threshold", "0.35"))
        self.max_boxes = int(params.get("max_boxes", "50"))
        path = weights_dir(params)
        if not (path / "config.json").is_file():
            raise pb_utils.TritonModelException(f"no Grounding DINO weights in {path} (config.json missing)")
        self.processor = AutoProcessor.from_pretrained(str(path))
        self.model = GroundingDinoForObjectDetection.from_pretrained(str(path)).eval()
        self.max_text_len = int(self.model.config.max_text_len)

    def ground(self, image: np.ndarray, prompt: str, threshold: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
        phrases = phrases_of(prompt)
        if not phrases:
            raise ValueError("the prompt names nothing to look for: send phrases separated by full stops, e.g. 'forklift. ladder.'")
        text = ". ".join(phrases) + "."
        enc = self.processor.tokenizer(text, return_offsets_mapping=True)
        if len(enc["input_ids"]) > self.max_text_len:
            raise ValueError(f"the prompt is {len(enc['input_ids'])} tokens long; this model reads at most {self.max_text_len}: send fewer phrases")
        # which tokens belong to which phrase, from their character offsets in ``text``
        owners = np.full(len(enc["input_ids"]), -1)
        start = 0
        for j, phrase in enumerate(phrases):
            end = start + len(phrase)
            for k, (a, b) in enumerate(enc["offset_mapping"]):
                if b > a and a >= start and b <= end:
                    owners[k] = j
            start = end + 2  # ". "
        h, w = image.shape[:2]
        inputs = self.processor(images=image, text=text, return_tensors="pt")
        with torch.no_grad():
            out = self.model(**inputs)
        probs = torch.sigmoid(out.logits[0]).numpy()[:, : len(owners)]  # [queries, tokens]
        per_phrase = np.stack([probs[:, owners == j].max(axis=1) if (owners == j).any() else np.zeros(len(probs)) for j in range(len(phrases))], axis=1)
        best = per_phrase.argmax(axis=1)
        scores = per_phrase[np.arange(len(best)), best]
        cx, cy, bw, bh = out.pred_boxes[0].numpy().T
        boxes = np.clip(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1), 0.0, 1.0)
        keep = np.flatnonzero((scores >= threshold) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]) & (w > 0) & (h > 0))
        keep = keep[np.argsort(-scores[keep], kind="stable")][: self.max_boxes]
        return boxes[keep].astype(np.float32), scores[keep].astype(np.float32), [phrases[j] for j in best[keep]]

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                image = pb_utils.get_input_tensor_by_name(request, "IMAGE").as_numpy()[0]  # [H, W, 3]
                raw = pb_utils.get_input_tensor_by_name(request, "PROMPT").as_numpy().reshape(-1)[0]
                prompt = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                given = pb_utils.get_input_tensor_by_name(request, "THRESHOLD")
                threshold = float(given.as_numpy().reshape(-1)[0]) if given is not None else self.box_threshold
                if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 8:
                    raise ValueError(f"IMAGE must be an RGB frame of at least 8x8 pixels; got shape {list(image.shape)}")
                boxes, scores, phrases = self.ground(image, prompt, threshold)
            except ValueError as exc:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))))
                continue
            outputs = [
                pb_utils.Tensor("BOXES", boxes[None]),
                pb_utils.Tensor("SCORES", scores[None]),
                pb_utils.Tensor("PHRASES", np.array([[p.encode("utf-8") for p in phrases]], dtype=np.object_).reshape(1, -1)),
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses
