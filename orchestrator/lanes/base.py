"""The interface every sense implements.

A lane turns one window of media into typed events, in two steps:

- ``analyse(task, media, models) -> result``: on a worker (a thread here or a Ray task on another node). Pure in
  its inputs and picklable both ways: no state carried across windows, no database.
- ``assemble(result, context) -> LaneOutput``: on the driver, in window order. It may read and update the lane's
  own carried state (``context.state``: e.g. the tracker), which is saved with each window's checkpoint.

A lane reads one media ``source``: ``"video"`` lanes get the window's kept frames (after the motion gate) and the
gate's decisions, ``"audio"`` lanes get its 16 kHz PCM. Each source is decoded once per window, whatever number of
lanes read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..config import IngestConfig
from ..events import Event, Relation
from ..media import MediaInfo
from ..model_clients import TritonModels
from ..sampling import FrameDecision
from ..windows import Window


@dataclass
class VideoMedia:
    """One window's frames: every scanned frame's gate decision, and the RGB of the kept ones (in order)."""

    frames: list[FrameDecision]
    kept: list[np.ndarray]
    decoder: str


@dataclass
class AudioMedia:
    """One window's audio: 16 kHz mono float32 from the window's start, ``window`` samples of it inside the window
    and the rest the overflow past its end (speech that starts inside may run on)."""

    pcm: np.ndarray
    window: int

    @property
    def window_pcm(self) -> np.ndarray:
        return self.pcm[: self.window]


@dataclass
class LaneOutput:
    """What a lane adds to a window's transaction."""

    events: list[Event] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    frames: list[dict] = field(default_factory=list)  # rows of the ``frames`` table
    detections: list[dict] = field(default_factory=list)  # rows of the ``detections`` table
    tracks: list[dict] = field(default_factory=list)  # rows of the ``tracks`` table
    vectors: list[dict] = field(default_factory=list)  # rows of ``media_vectors``: {space, t_start, t_end, vec, [event_id, track_id, ref]}


@dataclass
class AssemblyContext:
    """What a lane's driver step sees: the window, the video, the configuration, and the lane's carried state."""

    info: MediaInfo
    window: Window
    config: IngestConfig
    is_last: bool  # the video's last window: runs still open must be closed
    state: Any  # the lane's own state (``Lane.new_state()``), mutated in place


class Lane:
    """Base class of a sense. Subclasses set ``name`` and ``source`` and implement ``analyse`` and ``assemble``."""

    name: ClassVar[str]
    source: ClassVar[str]  # "video" | "audio"
    models: ClassVar[tuple[str, ...]] = ()  # the Triton models it calls

    def new_state(self, config: IngestConfig) -> Any:
        """The carried state a video starts with (None for a lane that carries nothing)."""
        return None

    def analyse(self, task, media: VideoMedia | AudioMedia, models: TritonModels) -> Any:
        raise NotImplementedError

    def assemble(self, result: Any, context: AssemblyContext) -> LaneOutput:
        """By default the analysis already is the window's events (a lane that carries no state)."""
        return LaneOutput(events=list(result))

    def __repr__(self) -> str:
        return f"<lane {self.name}>"
