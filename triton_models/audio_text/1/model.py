"""Triton python-backend model: an audio-text dual encoder (CLAP, through transformers' ``AutoModel``) from the
Hugging Face folder in ``$VDET_AUDIO_TEXT_WEIGHTS`` (default ``$VDET_MODELS/audio-text``).

AUDIO (16 kHz mono float32 [1, samples], one clip a request) or TEXT (BYTES [n, 1]) -> EMBEDDING [n, d],
L2-normalised: a phrase's embedding ("a kettle whistling") is near the clips that sound like it. The clip is
resampled to the feature extractor's rate (48 kHz for CLAP). LOGIT: see ``zero_shot_tower.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # triton_models/, for the shared tower code

import numpy as np  # noqa: E402
from zero_shot_tower import DualEncoderModel, features  # noqa: E402

RATE = 16000


class TritonPythonModel(DualEncoderModel):
    media_input, processor, weights_env, role = "AUDIO", "AutoFeatureExtractor", "VDET_AUDIO_TEXT_WEIGHTS", "audio-text"

    def embed_media(self, rows: np.ndarray):
        import librosa

        rate = int(self.prepare.sampling_rate)
        clips = [librosa.resample(np.nan_to_num(r.astype(np.float32)), orig_sr=RATE, target_sr=rate) for r in rows]
        longest = int(self.prepare.nb_max_samples)  # a longer clip is cut to its middle (the extractor would crop at random)
        clips = [c[max(0, (len(c) - longest) // 2) :][:longest] for c in clips]
        fused = bool(getattr(self.model.config.audio_config, "enable_fusion", False))
        inputs = self.prepare(clips, sampling_rate=rate, return_tensors="pt", truncation="fusion" if fused else "rand_trunc")
        return features(self.model.get_audio_features(input_features=inputs["input_features"], is_longer=inputs.get("is_longer")))
