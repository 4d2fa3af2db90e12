"""Triton python-backend model: an image-text dual encoder (CLIP or SigLIP family, through transformers'
``AutoModel``) from the Hugging Face folder in ``$VDET_IMAGE_TEXT_WEIGHTS`` (default ``$VDET_MODELS/image-text``).

IMAGE (uint8 [n, H, W, 3] RGB, frames or crops of one size) or TEXT (BYTES [n, 1]) -> EMBEDDING [n, d],
L2-normalised, in one space: a phrase's embedding is near the frames that show it. LOGIT: the model's temperature
and bias (see ``zero_shot_tower.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # triton_models/, for the shared tower code

import numpy as np  # noqa: E402
from zero_shot_tower import DualEncoderModel, features  # noqa: E402


class TritonPythonModel(DualEncoderModel):
    media_input, processor, weights_env, role = "IMAGE", "AutoImageProcessor", "VDET_IMAGE_TEXT_WEIGHTS", "image-text"

    def embed_media(self, rows: np.ndarray):
        pixels = self.prepare(images=list(rows), return_tensors="pt")["pixel_values"]
        return features(self.model.get_image_features(pixel_values=pixels))
