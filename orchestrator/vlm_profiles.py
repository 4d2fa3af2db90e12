"""What each served VLM can take in one request: frames, image size, context length.

The VLM engine reads the served model's name (``/v1/models`` or ``VLM_MODEL``) and picks the first
profile whose pattern matches it; ``VLM_MAX_FRAMES`` overrides the profile's frame limit.

| family | served as (SGLang) | frames | image side | context | tokens per frame |
|---|---|---|---|---|---|
| LLaVA-NeXT-Video-7B | ``lmms-lab/LLaVA-NeXT-Video-7B`` (Vicuna-7B; ``vicuna_v1.1`` template) | 32 | 336 (CLIP ViT-L/14) | 8192 (4096 × linear RoPE 2) | 144 (24×24 patches, 2×2 pooled) |
| LLaVA-Video-7B-Qwen2 | ``lmms-lab/LLaVA-Video-7B-Qwen2`` (Qwen2-7B; ``chatml-llava``) | 64 | 384 (SigLIP so400m/14) | 32768 | 196 (27×27 patches, 2×2 pooled) |
| LLaVA-OneVision-Qwen2-7B | ``lmms-lab/llava-onevision-qwen2-7b-ov`` | 32 | 384 | 32768 | 196 |
| Qwen2/2.5-VL-7B | ``Qwen/Qwen2.5-VL-7B-Instruct`` | 32 | 448 | 32768 | 256 (448², 28-px merged patches) |
| anything else | | 8 | 768 | 32768 | 1000 (a cautious guess) |

The LLaVA video families are sent their frames with SGLang's ``"modalities": "video"`` hint, so each
frame is 2×2 pooled to the token count above (as in training) instead of the 576/729 tokens of a
still image; that is what lets 32 (or 64) frames fit the context.

    >>> profile_for("lmms-lab/LLaVA-Video-7B-Qwen2").max_frames
    64
    >>> select_frames([(30.0, "a"), (5.0, "b"), (50.0, "c"), (12.0, "d")], limit=2)
    [(12.0, 'd'), (30.0, 'a')]
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# room kept for the system prompt, the evidence timeline, the conversation and the answer when the
# context length caps the frame count
TEXT_RESERVE_TOKENS = 2048


@dataclass(frozen=True)
class VLMProfile:
    family: str
    pattern: str  # regular expression matched (case-insensitively) against the served model name
    max_frames: int
    image_size: int  # the vision tower's input side; frames are sent no larger than this
    context_length: int
    tokens_per_frame: int
    image_modality: str | None = None  # SGLang's per-image "modalities" value, when the family needs one

    def __post_init__(self) -> None:
        if self.max_frames < 1 or self.image_size < 16 or self.context_length < 512 or self.tokens_per_frame < 1:
            raise ValueError(f"VLM profile {self.family!r}: frames, image size, context and tokens per frame must be positive")

    def matches(self, model_name: str) -> bool:
        return bool(self.pattern) and re.search(self.pattern, model_name, re.IGNORECASE) is not None


PROFILES: tuple[VLMProfile, ...] = (
    VLMProfile("llava-next-video-7b", r"llava-next-video-7b", 32, 336, 8192, 144, "video"),
    VLMProfile("llava-video-7b-qwen2", r"llava-video-7b-qwen2", 64, 384, 32768, 196, "video"),
    VLMProfile("llava-onevision-qwen2-7b", r"llava-onevision-qwen2-7b", 32, 384, 32768, 196, "video"),
    VLMProfile("qwen2-vl", r"qwen2(\.5)?-vl", 32, 448, 32768, 256),
)
GENERIC = VLMProfile("generic", "", 8, 768, 32768, 1000)


def profile_for(model_name: str | None) -> VLMProfile:
    """The profile of the first family whose pattern matches ``model_name`` (the generic one otherwise)."""
    return next((p for p in PROFILES if model_name and p.matches(model_name)), GENERIC)


def frame_limit(profile: VLMProfile, env: dict | None = None) -> int:
    """Frames one request may carry: ``VLM_MAX_FRAMES`` when set, else the profile's limit capped so
    the frames leave ``TEXT_RESERVE_TOKENS`` of the context for text."""
    env = os.environ if env is None else env
    raw = (env.get("VLM_MAX_FRAMES") or "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"VLM_MAX_FRAMES={raw!r} is not a positive whole number; set it to e.g. 16, or unset it to use the model's limit")
        return value
    room = max(1, (profile.context_length - TEXT_RESERVE_TOKENS) // profile.tokens_per_frame)
    return max(1, min(profile.max_frames, room))


def select_frames(ranked: list[tuple[float, str]], limit: int) -> list[tuple[float, str]]:
    """Down to ``limit`` frames from ``ranked`` (best evidence first): the top-ranked half of the slots,
    the rest spread evenly in time over the remaining candidates, so the answer's key moments and the
    span around them are both seen. Returned in time order; deterministic."""
    if limit <= 0:
        return []
    if len(ranked) <= limit:
        return sorted(ranked)
    top = ranked[: max(1, limit // 2)]
    rest = sorted(ranked[len(top) :])
    need = limit - len(top)
    spread = [rest[round(i * (len(rest) - 1) / (need - 1))] for i in range(need)] if need > 1 else rest[len(rest) // 2 : len(rest) // 2 + need]
    return sorted(top + spread)
