"""Shared by the ``image_text`` and ``audio_text`` Triton models: a transformers dual encoder (CLIP/SigLIP, CLAP)
loaded from a Hugging Face folder (``config.json`` + weights + tokenizer and processor files), and the requests
both models answer: TEXT (BYTES) or the model's media input -> an L2-normalised EMBEDDING per row, plus the
model's own LOGIT (its learned temperature and bias: what turns a cosine into a probability, for ``zero_shot.py``).

Not a model folder itself (Triton loads only the models it is told to); each ``model.py`` imports it from here.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402


def weights_folder(env: str, role: str) -> Path:
    """``$env`` when set, else ``$VDET_MODELS/<role>``."""
    models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
    return Path(os.environ.get(env) or models / role)


def features(out) -> torch.Tensor:
    """A ``get_*_features`` result as a tensor (transformers 5 returns an output object with ``pooler_output``)."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def normalised(x: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(x.float(), dim=-1).numpy().astype(np.float32)


def model_logit(model) -> tuple[float, float]:
    """(temperature, bias) the model was trained with: CLIP's ``exp(logit_scale)`` and no bias; SigLIP's scale and
    ``logit_bias``; CLAP's text scale (``logit_scale_t``)."""
    raw = getattr(model, "logit_scale", None)
    if raw is None:
        raw = getattr(model, "logit_scale_t")
    bias = getattr(model, "logit_bias", None)
    return float(math.exp(float(raw.detach().reshape(-1)[0]))), float(bias.detach().reshape(-1)[0]) if bias is not None else float("nan")


class DualEncoderModel:
    """Base of both models: ``media_input`` names the input of the non-text tower, ``processor`` the transformers
    class that prepares it, ``embed_media`` embeds its rows."""

    media_input: str
    processor: str  # e.g. "AutoImageProcessor"
    weights_env: str
    role: str

    def initialize(self, args):
        import transformers

        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        torch.set_num_threads(int(params.get("torch_threads", "1")))
        self.path = weights_folder(self.weights_env, self.role)
        if not (self.path / "config.json").is_file():
            raise pb_utils.TritonModelException(f"{self.path} has no config.json: set {self.weights_env} to a Hugging Face model folder")
        self.model = transformers.AutoModel.from_pretrained(str(self.path)).eval()
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(self.path))
        self.prepare = getattr(transformers, self.processor).from_pretrained(str(self.path))
        self.max_text = int(min(self.tokenizer.model_max_length, 77))
        self.logit = np.array(model_logit(self.model), np.float32)

    def embed_media(self, rows: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_text, return_tensors="pt")
        tokens.pop("token_type_ids", None)
        return features(self.model.get_text_features(**tokens))

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                media = pb_utils.get_input_tensor_by_name(request, self.media_input)
                text = pb_utils.get_input_tensor_by_name(request, "TEXT")
                with torch.no_grad():
                    if media is not None:
                        vectors = normalised(self.embed_media(media.as_numpy()))
                    elif text is not None:
                        rows = text.as_numpy().reshape(-1)
                        vectors = normalised(self.embed_text([t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in rows]))
                    else:
                        raise ValueError(f"send {self.media_input} or TEXT")
                logit = np.repeat(self.logit[None, :], len(vectors), axis=0)
                responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("EMBEDDING", vectors), pb_utils.Tensor("LOGIT", logit)]))
            except Exception as exc:  # noqa: BLE001 - one bad request answers with its error, the others still run
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{self.role}: {exc}")))
        return responses
