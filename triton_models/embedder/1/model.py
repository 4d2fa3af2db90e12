"""Triton python-backend model: sentence embeddings (all-MiniLM-L6-v2, 384-d).

Used at ingest (event text) and at question time (the question), so that
retrieval can rank events with DuckDB's ``array_cosine_similarity``.

Device: a KIND_GPU instance (the GPU configs in ``configs/``) runs on ``cuda:<its device id>``;
a KIND_CPU instance on the CPU. A GPU instance where torch sees no CUDA device falls back to the
CPU with a warning in the Triton log.
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


def choose_device(kind: str, device_id: str, cuda_devices: int) -> tuple[str, str | None]:
    """(torch device, warning or None) for a Triton instance kind and device id."""
    if kind == "GPU":
        index = int(device_id or 0)
        if index < cuda_devices:
            return f"cuda:{index}", None
        why = "no CUDA device is visible" if cuda_devices == 0 else f"only {cuda_devices} CUDA device(s) are visible"
        return "cpu", (
            f"embedder: the instance is placed on GPU {index} but {why} to torch; running on the CPU. "
            "Check the container has the GPU (docker run --gpus) and a CUDA build of torch."
        )
    return "cpu", None


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        torch.set_num_threads(int(params.get("torch_threads", "1")))
        models = Path(os.environ.get("VDET_MODELS", Path.home() / ".cache/video-detective/models"))
        path = Path(os.environ.get("VDET_MINILM_PATH", models / "minilm"))
        cuda_devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
        device, warning = choose_device(args.get("model_instance_kind", "CPU"), args.get("model_instance_device_id", "0"), cuda_devices)
        if warning:
            pb_utils.Logger.log_warn(warning)
        self.model = SentenceTransformer(str(path), device=device)

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
