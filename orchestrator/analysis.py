"""The worker side of a window: decode its media once per source, then run each configured lane's analysis.

``analyse_window(task)`` is a pure function of a picklable ``WindowTask``; an executor (``executors.py``) runs it
on a thread here or as a Ray task on another node. The video source (decode, motion gate) and the audio source
(16 kHz PCM) run side by side on two threads, each followed by the lanes that read it.

Deterministic in ``task``: the gate starts from the previous window's last scanned frame with nothing kept yet,
and lanes that need earlier windows (speech running across a boundary) recompute what they need from the file.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import IngestConfig
from .lanes import AudioMedia, Lane, VideoMedia, resolve
from .media import AUDIO_RATE, FrameReader, MediaInfo, read_audio
from .model_clients import ModelError, TritonModels
from .profiling import current_role, role, stage, timed_iter
from .sampling import FrameDecision, GateState, MotionGate
from .threads import DaemonPool
from .windows import Window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowTask:
    """What the analysis of one window needs; picklable, so it can run on any node that reads ``info.path``."""

    info: MediaInfo  # ``path`` absolute
    window: Window
    config: IngestConfig
    triton_url: str
    previous: Window | None = None  # its last scanned frame is the motion reference for this window's first frame
    speech_lookback: tuple[Window, ...] = ()  # earlier windows whose speech may run into this one


@dataclass
class WindowAnalysis:
    """The stateless part of a window: every scanned frame's gate decision and each lane's result."""

    index: int
    frames: list[FrameDecision]
    lanes: dict[str, Any]  # lane name → its analysis result, for every lane that ran
    decoder: str
    worker: str  # host:pid that ran it, for logs
    wall_s: float


def window_tasks(info: MediaInfo, windows: list[Window], config: IngestConfig, triton_url: str) -> dict[int, WindowTask]:
    """One task per window; the path made absolute so a worker on another node finds the same file."""
    info = replace(info, path=str(Path(info.path).resolve()))
    tasks = {}
    for i, w in enumerate(windows):
        lookback = tuple(p for p in windows[:i] if p.t_end + config.audio.boundary_overflow_s > w.t_start)
        tasks[w.index] = WindowTask(info, w, config, triton_url, windows[i - 1] if i else None, lookback)
    return tasks


def lanes_for(info: MediaInfo, config: IngestConfig) -> list[Lane]:
    """The configured lanes this file can feed (no video lanes for an audio file, and so on)."""
    return [lane for lane in resolve(config.lanes) if (info.has_video if lane.source == "video" else info.has_audio)]


@dataclass
class _PooledReader:
    reader: FrameReader
    last_scanned: tuple | None = None  # ((window, scan_fps), (t, rgb)): the frame the last scan through it ended with


class _ReaderPool:
    """Frame readers of the video being ingested, each handed to one thread at a time (opening one indexes every frame
    of the file, so they are reused across windows). Readers of other videos are let go; one that failed is dropped."""

    def __init__(self, keep: int = 2):
        self.keep = keep
        self.key = None
        self.free: list[_PooledReader] = []
        self.lock = threading.Lock()

    def clear(self) -> None:
        """Let go of the pooled readers (an ingest ended: their file handles and decode buffers go with them)."""
        with self.lock:
            self.key, self.free = None, []

    @contextmanager
    def use(self, info: MediaInfo, max_side: int):
        key = (info, max_side)
        with self.lock:
            pooled = self.free.pop() if self.key == key and self.free else None
        if pooled is None:
            with stage("decoder open"):
                pooled = _PooledReader(FrameReader(info, max_side))
        yield pooled  # an exception leaves the reader out of the pool
        with self.lock:
            if self.key != key:
                self.key, self.free = key, []
            if len(self.free) < self.keep:
                self.free.append(pooled)


class _AnalysisThreads(DaemonPool):
    """The daemon threads that run the two halves of window analyses. Each thread keeps its own Triton clients:
    the HTTP client is bound to the thread that made it."""

    def __init__(self, name: str):
        super().__init__(name)
        self.local = threading.local()
        self.generation = 0  # bumped when Triton restarted: every thread then reconnects

    def models(self, url: str) -> TritonModels:
        """This thread's client for the Triton at ``url``."""
        if getattr(self.local, "generation", None) != self.generation:
            for old in list(self.local.__dict__.get("clients", {})):
                self.drop_models(old)
            self.local.clients, self.local.generation = {}, self.generation
        clients = self.local.clients
        if url not in clients:
            clients[url] = TritonModels(url)
        return clients[url]

    def drop_models(self, url: str) -> None:
        """Forget this thread's client after a failed call (the server may have restarted); the next call connects afresh."""
        client = self.local.__dict__.get("clients", {}).pop(url, None)
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # noqa: BLE001 - a dead connection may not close cleanly
                log.debug("closing a Triton client: %s", exc)


_THREADS = _AnalysisThreads("vdet-analysis")
_READERS = _ReaderPool()


def release_readers() -> None:
    """An ingest ended: let go of the pooled frame readers."""
    _READERS.clear()


def reconnect_models() -> None:
    """After Triton restarted: this process's analysis threads open new connections before their next call."""
    _THREADS.generation += 1


def analyse_window(task: WindowTask) -> WindowAnalysis:
    """Decode the window's video and audio (side by side) and run every configured lane on them."""
    started = time.monotonic()
    lanes = lanes_for(task.info, task.config)
    video_lanes = [lane for lane in lanes if lane.source == "video"]
    audio_lanes = [lane for lane in lanes if lane.source == "audio"]
    video = _THREADS.submit(_with_models, _video_half, task, video_lanes) if video_lanes else None
    audio = _THREADS.submit(_with_models, _audio_half, task, audio_lanes) if audio_lanes else None
    # both halves end before this returns or raises: a half left running would decode into the next try (or into exit)
    futures_wait([f for f in (video, audio) if f is not None])
    frames, results, decoder = video.result() if video is not None else ([], {}, "none")
    if audio is not None:
        results.update(audio.result())
    return WindowAnalysis(task.window.index, frames, results, decoder, f"{socket.gethostname()}:{os.getpid()}", time.monotonic() - started)


def _with_models(half: Callable, task: WindowTask, lanes: list[Lane]):
    """Run one half of a window's analysis with this thread's Triton client (dropped if a model call failed)."""
    try:
        with role(half.__name__.strip("_").removesuffix("_half")), stage("other"):  # "other": what no stage inside names
            return half(task, lanes, _THREADS.models(task.triton_url))
    except ModelError:
        _THREADS.drop_models(task.triton_url)
        raise


def _last_scanned_frame(pooled: _PooledReader, w: Window, fps: float):
    """The frame the scan of window ``w`` ends with (the nearest real frame to its last scan time): the one this reader
    kept from scanning ``w`` (windows run in order on one reader), or decoded again (a seek to a keyframe)."""
    targets = np.arange(w.t_start, w.t_end, 1.0 / fps)
    if len(targets) == 0:
        return None
    if pooled.last_scanned is not None and pooled.last_scanned[0] == (w, fps):
        return pooled.last_scanned[1]
    # the last target's nearest frame lies within one scan step of it when the source has a frame there; a sparse
    # source (1-2 fps, gaps) may have its nearest frame further back: then the whole window is scanned again
    for since in (max(w.t_start, float(targets[-1]) - 1.0 / fps), w.t_start):
        last = None
        for item in timed_iter("decode", pooled.reader.read(since, w.t_end, fps)):
            last = item
        if last is not None:
            return last
    return None


def _video_half(task: WindowTask, lanes: list[Lane], models: TritonModels):
    cfg, w = task.config, task.window
    with _READERS.use(task.info, cfg.sampling.max_side) as pooled:
        gate = MotionGate(cfg.sampling)
        if task.previous is not None:
            lead = _last_scanned_frame(pooled, task.previous, cfg.sampling.scan_fps)
            if lead is not None:
                with stage("gate"):
                    gate.score(*lead)  # motion reference only: the window's keep decisions start afresh
                gate.state = GateState(prev_gray=gate.state.prev_gray, prev_hist=gate.state.prev_hist)
        frames, kept = [], []
        last = None
        for t, rgb in timed_iter("decode", pooled.reader.read(w.t_start, w.t_end, cfg.sampling.scan_fps)):
            with stage("gate"):
                d = gate.score(t, rgb)
            frames.append(d)
            if d.keep:
                kept.append(rgb)
            last = (t, rgb)
        pooled.last_scanned = ((w, cfg.sampling.scan_fps), last) if last is not None else None
        decoder = pooled.reader.backend
    media = VideoMedia(frames, kept, decoder)
    return frames, _run_lanes(task, media, models, lanes), decoder


def _audio_half(task: WindowTask, lanes: list[Lane], models: TritonModels) -> dict[str, Any]:
    info, w = task.info, task.window
    end = min(info.duration_s, w.t_end + task.config.audio.boundary_overflow_s)
    media = AudioMedia(read_audio(info, w.t_start, end), int(round(w.duration * AUDIO_RATE)))
    return _run_lanes(task, media, models, lanes)


# Lanes of one source run side by side, each on a thread of its own: their analyses are independent (pure in the same
# media), and while one waits on Triton (the detector) another has the core (OCR). False: one after another.
PARALLEL_LANES = True


def _run_lanes(task: WindowTask, media, models: TritonModels, lanes: list[Lane]) -> dict[str, Any]:
    """Every lane's analysis of ``media``, in lane order; the first runs on this thread, the others (when
    ``PARALLEL_LANES``) on threads of their own, each with that thread's Triton client."""
    role_name = current_role()
    others = {lane.name: _THREADS.submit(_lane_on_thread, role_name, lane, task, media) for lane in lanes[1:]} if PARALLEL_LANES else {}
    out = {}
    try:
        for lane in lanes:
            if lane.name not in others:
                out[lane.name] = _analyse_lane(lane, task, media, models)
    finally:
        with stage("wait for the other lanes"):
            futures_wait(list(others.values()))  # none left running into the next try
    for name, future in others.items():
        out[name] = future.result()
    return {lane.name: out[lane.name] for lane in lanes}


def _analyse_lane(lane: Lane, task: WindowTask, media, models: TritonModels):
    with stage(f"{lane.name} lane"):  # its own time: what the lane does besides the stages timed inside it
        return lane.analyse(task, media, models)


def _lane_on_thread(role_name: str | None, lane: Lane, task: WindowTask, media):
    try:
        with role(role_name or "other"):
            return _analyse_lane(lane, task, media, _THREADS.models(task.triton_url))
    except ModelError:
        _THREADS.drop_models(task.triton_url)
        raise
