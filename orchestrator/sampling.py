"""Motion-gated frame sampling: which scanned frames go to the detector, and why.

Every scanned frame is scored on a small grayscale copy: motion is the mean
absolute change against the previous scanned frame (0..1), a scene cut is a
large change of the colour histogram. A frame is kept when it is the first,
when it starts a new scene, when there is motion (at most ``max_detect_fps``),
or as a heartbeat when nothing was kept for ``heartbeat_s`` (so parked cars and
people standing still are seen). The gate's state carries across windows and
is part of the window checkpoint.

    gate = MotionGate(SamplingConfig())
    for t, rgb in frames:
        decision = gate.score(t, rgb)
        if decision.keep: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .config import SamplingConfig

THUMB = (64, 36)


@dataclass(frozen=True)
class FrameDecision:
    t: float
    keep: bool
    reason: str  # "first", "scene_cut", "motion", "heartbeat" or "" when dropped
    motion: float
    scene_score: float


@dataclass
class GateState:
    prev_gray: np.ndarray | None = None
    prev_hist: np.ndarray | None = None
    last_kept_t: float = -1e9
    frames_scanned: int = 0
    frames_kept: int = 0
    reasons: dict = field(default_factory=dict)


class MotionGate:
    def __init__(self, config: SamplingConfig, state: GateState | None = None):
        self.config = config
        self.state = state or GateState()

    def score(self, t: float, rgb: np.ndarray) -> FrameDecision:
        cfg, st = self.config, self.state
        small = cv2.resize(rgb, THUMB, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).reshape(-1)
        hist /= max(hist.sum(), 1.0)
        if st.prev_gray is None:
            motion, scene = 0.0, 0.0
            reason = "first"
        else:
            motion = float(np.mean(np.abs(gray - st.prev_gray)))
            # Hellinger-style distance: 0 same palette, 1 disjoint
            scene = float(cv2.compareHist(st.prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA))
            since = t - st.last_kept_t
            if scene >= cfg.scene_cut_threshold and motion >= cfg.motion_threshold:
                reason = "scene_cut"
            elif motion >= cfg.motion_threshold and since >= 1.0 / cfg.max_detect_fps - 1e-6:
                reason = "motion"
            elif since >= cfg.heartbeat_s - 1e-6:
                reason = "heartbeat"
            else:
                reason = ""
        st.prev_gray, st.prev_hist = gray, hist
        st.frames_scanned += 1
        if reason:
            st.last_kept_t = t
            st.frames_kept += 1
            st.reasons[reason] = st.reasons.get(reason, 0) + 1
        return FrameDecision(t=t, keep=bool(reason), reason=reason, motion=motion, scene_score=scene)
