"""Look lane: a few kept frames per window embedded by the zero-shot image-text model (``image_text`` on Triton),
so that a phrase no class list has ("a person with an umbrella", "an open car boot") can be searched later
(``orchestrator/zero_shot.py``).

Which frames: every frame that starts a scene, and otherwise one kept frame every ``EVERY_S`` seconds (the first
kept one of each stretch): a 20 s window sends about 4 frames. Each becomes a row of ``media_vectors`` in the
space ``image_text`` covering from its time to the next picked frame's (at most ``EVERY_S``).

Where Triton does not serve ``image_text`` (its weights are not installed) the lane does nothing: one log line per
process, no vectors, the rest of the ingest unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .. import zero_shot
from ..profiling import stage
from .base import AssemblyContext, Lane, LaneOutput, VideoMedia

log = logging.getLogger(__name__)

SPACE = "image_text"
EVERY_S = 5.0  # seconds between embedded frames inside a scene
_SAID = set()  # (url) where the missing model was logged once


@dataclass
class LookResult:
    times: list[float] = field(default_factory=list)  # the embedded frames' times
    vectors: list[np.ndarray] = field(default_factory=list)


def pick_frames(times: list[float], reasons: list[str], every_s: float = EVERY_S) -> list[int]:
    """Indices of the kept frames to embed: scene starts, and the first frame ``every_s`` after the last one picked.

    >>> pick_frames([0.0, 0.5, 2.0, 5.5, 6.0, 7.0, 12.0], ["first", "motion", "heartbeat", "motion", "scene_cut", "motion", "heartbeat"])
    [0, 3, 4, 6]
    """
    picked: list[int] = []
    last = -1e9
    for i, (t, why) in enumerate(zip(times, reasons)):
        if why in ("first", "scene_cut") or t - last >= every_s:
            picked.append(i)
            last = t
    return picked


class LookLane(Lane):
    name = "look"
    source = "video"
    models = (SPACE,)

    def analyse(self, task, media: VideoMedia, models) -> LookResult:
        if not media.kept:
            return LookResult()
        if not models.serves(SPACE):
            if models.url not in _SAID:
                _SAID.add(models.url)
                log.info("look lane off: Triton at %s does not serve %s (its weights are not installed)", models.url, SPACE)
            return LookResult()
        kept = [d for d in media.frames if d.keep]
        picked = pick_frames([d.t for d in kept], [d.reason for d in kept])
        with stage("image-text (Triton)"):
            vectors = zero_shot.embed_images(models, [media.kept[i] for i in picked])
        return LookResult([kept[i].t for i in picked], list(vectors))

    def assemble(self, result: LookResult, ctx: AssemblyContext) -> LaneOutput:
        ends = result.times[1:] + [ctx.window.t_end]
        rows = [
            {"space": SPACE, "t_start": round(t, 3), "t_end": round(min(end, t + EVERY_S, ctx.window.t_end), 3), "vec": vec, "ref": f"frame@{t:.2f}"}
            for t, end, vec in zip(result.times, ends, result.vectors)
        ]
        return LaneOutput(vectors=rows)
