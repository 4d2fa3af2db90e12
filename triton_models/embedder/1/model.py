"""Triton python-backend model: sentence embeddings (all-MiniLM-L6-v2, 384-d).

Used at ingest (event text) and at question time (the question), so that
retrieval can rank events with DuckDB's ``array_cosine_similarity``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        torch.set_num_threads(int(params.get("torch_threads", "1")))
        models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
        path = Path(os.environ.get("VDET_MINILM_PATH", models / "minilm"))
        self.model = SentenceTransformer(str(path), device="cpu")

    def execute(self, requests):
        texts, counts = [], []
        for request in requests:
            rows = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            counts.append(len(rows))
            texts.extend(t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in rows)
        vectors = self.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
        responses, offset = [], 0
        for n in counts:
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("EMBEDDING", vectors[offset : offset + n])]))
            offset += n
        return responses
