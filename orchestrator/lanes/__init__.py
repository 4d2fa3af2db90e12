"""The senses, one module each (see ``base.py`` for the interface every lane implements).

Adding a sense is one module here plus one line in ``LANES``; ``IngestConfig.lanes`` (``--lanes`` on the CLI,
``VDET_LANES``) chooses which run, and each window's row in the graph records the lanes that ran for it.
"""

from __future__ import annotations

from .base import AssemblyContext, AudioMedia, Lane, LaneOutput, VideoMedia
from .look import LookLane
from .motion import MotionLane
from .objects import ObjectsLane
from .sounds import SoundsLane
from .speech import SpeechLane
from .text import TextLane

LANES: dict[str, type[Lane]] = {lane.name: lane for lane in (MotionLane, ObjectsLane, SpeechLane, SoundsLane, TextLane, LookLane)}


def resolve(names: tuple[str, ...] | list[str]) -> list[Lane]:
    """The lanes named, in the registry's order; a clear error for a name that is not a lane."""
    unknown = [n for n in names if n not in LANES]
    if unknown:
        raise ValueError(f"unknown lane {', '.join(map(repr, unknown))}: the lanes are {', '.join(LANES)}")
    return [cls() for name, cls in LANES.items() if name in names]


__all__ = ["LANES", "AssemblyContext", "AudioMedia", "Lane", "LaneOutput", "VideoMedia", "resolve"]
