"""User-facing settings: plain dataclasses, resolved from CLI flags and environment.

``VDET_HOME`` (or ``--home``) holds the database, uploaded copies and caches;
two homes never interfere. Model weights live in ``VDET_MODELS`` (shared).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .settings import DEFAULT_LANES, get_settings  # noqa: F401 - DEFAULT_LANES is re-exported

EXECUTORS = ("local", "ray")


def lanes_from_env() -> tuple[str, ...]:
    """``VDET_LANES`` (comma-separated lane names), else every lane."""
    return get_settings().lanes


def default_home() -> Path:
    return get_settings().home


@dataclass(frozen=True)
class SamplingConfig:
    scan_fps: float = 4.0  # frames per second scored for motion (small grayscale)
    max_detect_fps: float = 2.0  # at most this many frames per second go to the detector
    heartbeat_s: float = 2.0  # a frame is kept at least this often, motion or not
    motion_threshold: float = 0.012  # mean abs grayscale change (0..1) that counts as motion
    motion_spike: float = 0.06  # change that counts as a motion spike event
    scene_cut_threshold: float = 0.5  # histogram distance (0..1) that counts as a cut
    max_side: int = 640  # decode size: longer side in pixels


@dataclass(frozen=True)
class AudioConfig:
    vad_threshold: float = 0.5
    min_speech_s: float = 0.25
    min_silence_s: float = 0.5
    speech_pad_s: float = 0.2
    max_region_s: float = 28.0  # Whisper's context is 30 s
    boundary_overflow_s: float = 10.0  # speech that starts in a window may run this far past its end
    sound_lookback_s: float = 6.0  # the sounds lane also reads this much before its window: a sound that began earlier is not reported twice
    # the AudioSet tagger's class is believed from this probability (set on the audio corpus' dev split); $VDET_AUDIOSET_THRESHOLD
    audioset_threshold: float = field(default_factory=lambda: get_settings().audioset_threshold)


@dataclass(frozen=True)
class IngestConfig:
    window_s: float = field(default_factory=lambda: get_settings().window_s)  # the app's windows; the CLI has --window-s
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    detector_batch: int = 8  # frames per detector request
    detector_concurrency: int = 2  # detector requests in flight (Triton batches them together)
    track_lost_s: float = 4.0  # a track survives this long unseen
    min_track_frames: int = 2  # shorter tracks are noise, not objects
    precedes_gap_s: float = 5.0
    window_timeout_s: float = 300.0  # a window's decode + models past this is a damaged file or a hung decoder
    reid_gap_s: float = 8.0  # a lost track and a new one this close in time (and space) may be one entity
    reid_distance: float = 0.2  # frame fraction between where one was lost and the other appeared
    # where window analysis runs: "local" (threads here) or "ray" (tasks on a Ray cluster, RAY_ADDRESS); default $VDET_EXECUTOR
    executor: str = field(default_factory=lambda: get_settings().executor)
    windows_in_flight: int = 0  # windows analysed ahead of the one being written; 0: 1 locally (one decoder reading on, memory flat), the cluster's CPUs on Ray
    lanes: tuple[str, ...] = field(default_factory=lanes_from_env)  # which senses run (see orchestrator/lanes/); default $VDET_LANES or all
    ray_task_retries: int = 3  # Ray re-runs a window task whose worker or node died this many times before the driver resubmits it

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {self.executor!r} (check VDET_EXECUTOR)")
        if not self.lanes:
            raise ValueError("at least one lane must run (the lanes are " + ", ".join(DEFAULT_LANES) + ")")
        unknown = [n for n in self.lanes if n not in DEFAULT_LANES]
        if unknown:
            raise ValueError(f"unknown lane {', '.join(map(repr, unknown))}: the lanes are {', '.join(DEFAULT_LANES)} (check --lanes or VDET_LANES)")
        if self.windows_in_flight < 0:
            raise ValueError(f"windows_in_flight must be 0 (automatic) or more, not {self.windows_in_flight}")
