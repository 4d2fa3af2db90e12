"""Ingest pipeline: wires the stages together, window by window, with a checkpoint per window.

    probe → plan windows → for each window not yet done:
        video lane: frames → motion gate → detector (Triton) → ByteTrack → object / scene-cut / motion events
        audio lane: PCM → VAD → ASR (Triton) + sound tagger (Triton) + signal events
        → embeddings (Triton) → relations → EventGraph.write_window (one transaction) → progress on Redis

Each window is split in two. Its *analysis* (decode, motion gate, detector, VAD, ASR, sound tags) is a pure
function of a ``WindowTask`` and runs on an executor (``executors.py``: threads here, or Ray tasks on other
nodes), a few windows ahead, video and audio side by side. Its *assembly* runs here, in window order:
ByteTrack and every other state carried across windows, events, relations, rules, then one DuckDB
transaction with the checkpoint. This process is the only DuckDB writer. Re-running on the same file resumes
after the last finished window with the saved state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import pickle
import socket
import threading
import time
from collections import Counter, OrderedDict, deque
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .audio import SpeechRegion, VoiceActivity, signal_events
from .bus import Bus, RedisServer, bus_from_env, progress_channel
from .config import IngestConfig
from .events import Event, Relation, build_relations, fmt_time, plural
from .executors import DaemonPool, WindowExecutor, WindowLost, make_executor
from .graph import EventGraph, WindowResult
from .media import FrameReader, MediaError, MediaInfo, probe, read_audio
from .model_clients import FrameDetections, ModelError, TritonModels
from .rules import Rule, RulesEngine, load_rule_dir, load_rules
from .sampling import FrameDecision, GateState, MotionGate
from .tracking import VideoTracker
from .triton_server import TritonServer
from .windows import Window, plan_windows

log = logging.getLogger(__name__)
STATE_VERSION = 2  # 2: the motion gate and speech coverage left the checkpoint (window-local now)
MODEL_ATTEMPTS = 3


def database_path(home: Path) -> Path:
    return Path(home) / "events.duckdb"


def rules_dir(home: Path) -> Path:
    return Path(home) / "rules"


def active_rules(home: Path) -> list[Rule]:
    """The rules in ``<home>/rules/*.yaml`` plus any files named in ``VDET_RULES`` (os.pathsep-separated)."""
    rules = load_rule_dir(rules_dir(home)) if rules_dir(home).is_dir() else []
    for extra in filter(None, os.environ.get("VDET_RULES", "").split(os.pathsep)):
        rules += load_rules(extra)
    return rules


def scene_segments(graph: EventGraph, video_id: str, duration_s: float) -> list[Event]:
    """Scenes between cuts (short ones merged), each with a description composed from its events."""
    events = graph.events(video_id)
    cuts = [e["t_start"] for e in events if e["kind"] == "scene_cut"]
    bounds = [0.0]
    for c in cuts:
        if c - bounds[-1] >= 2.0:  # a cut right after another one does not start a scene of its own
            bounds.append(c)
    bounds.append(duration_s)
    scenes = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        inside = [e for e in events if a <= e["t_start"] < b and e["kind"] not in ("scene_cut", "alert")]
        tracks: dict[str, set] = {}
        for e in inside:
            if e["kind"] == "object":
                tracks.setdefault(e["label"], set()).add(e["track_id"])
        bits = []
        if tracks:
            bits.append("shows " + ", ".join(plural(len(t), label) for label, t in sorted(tracks.items(), key=lambda kv: -len(kv[1]))[:4]))
        speech = [e for e in inside if e["kind"] == "speech"]
        if speech:
            first = " ".join((speech[0]["text"] or "").split())[:80]
            bits.append(f'{len(speech)} spoken line{"s" if len(speech) > 1 else ""} starting "{first}"')
        sounds = Counter(e["label"] for e in inside if e["kind"] == "sound")
        if sounds:
            bits.append("sounds: " + ", ".join(label for label, _ in sounds.most_common(3)))
        text = f"Scene {i + 1} ({fmt_time(a)}-{fmt_time(b)}): " + ("; ".join(bits) if bits else "nothing detected")
        scenes.append(Event(f"scene-{i:04d}", "scene", f"scene {i + 1}", a, b, 1.0, text=text, attrs={"events": len(inside)}))
    return scenes


def rerun_rules(graph: EventGraph, video_id: str, rules: list[Rule]) -> list[Event]:
    """Evaluate rules over a finished (or partly ingested) video's events without running any model."""
    video = graph.video(video_id)
    if video is None:
        raise LookupError(f"unknown video id {video_id!r}")
    events = [e for e in graph.events(video_id) if e["kind"] != "alert"]
    done = graph.con.execute("SELECT max(t_end), count(*) FROM windows WHERE video_id = ? AND status = 'done'", [video_id]).fetchone()
    known_end = float(done[0] or 0.0)
    complete = video["status"] == "done"
    tracks = sorted({e["track_id"] for e in events if e["track_id"] is not None})
    dets = graph.detections_for_tracks(video_id, tracks)
    alerts, relations = RulesEngine(rules).evaluate([], events, dets, float(video["duration_s"]) if complete else None, known_end, 0)
    window_of = {e["id"]: e["window_idx"] for e in events}
    window_s = float(video["window_s"])
    last_window = max(int(video["n_windows"] or 1) - 1, 0)
    for a in alerts:
        a.window_index = min(_alert_window(a, window_of, window_s), last_window)
    graph.replace_alerts(video_id, alerts, relations)
    return alerts


def _alert_window(alert: Event, window_of: dict[str, int], window_s: float) -> int:
    """The window an alert belongs to: its anchor event's (the last evidence), else the one holding its time."""
    evidence = alert.attrs.get("evidence") or []
    anchor_id = alert.id.removeprefix(f"alert-{alert.attrs['rule']}-")
    if anchor_id in window_of:
        return window_of[anchor_id]
    if evidence and evidence[-1] in window_of and alert.attrs.get("condition") != "absence":
        return window_of[evidence[-1]]
    return max(0, math.ceil(alert.t_start / window_s) - 1)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(4 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Services:
    """Triton and Redis: the ones named by ``TRITON_URL`` / ``REDIS_URL``, or private ones we start and stop."""

    def __init__(self, need_bus: bool = True, models: tuple[str, ...] | None = None):
        self._triton: TritonServer | None = None
        self._redis: RedisServer | None = None
        url = os.environ.get("TRITON_URL")
        if not url:
            self._triton = TritonServer.start(models=models) if models else TritonServer.start()
            url = self._triton.http_url
        self.triton_url = url
        self.bus: Bus | None = None
        if need_bus:
            try:
                self.bus, self._redis = bus_from_env()
            except BaseException:
                self.close()
                raise

    def models(self) -> TritonModels:
        return TritonModels(self.triton_url)

    def recover_models(self, timeout_s: float = 120.0) -> None:
        """After a failed model call: restart our Triton if it died (same ports), or wait for an external one."""
        if self._triton is not None and self._triton.process.poll() is not None:
            log.warning("the embedded Triton exited (code %s); restarting it", self._triton.process.returncode)
            old = self._triton
            old.stop()
            self._triton = TritonServer.start(models=old.models, http_port=old.http_port, grpc_port=old.grpc_port, timeout_s=timeout_s)
            return
        deadline = time.monotonic() + timeout_s
        probe_client = TritonModels(self.triton_url, retries=0)
        try:
            while time.monotonic() < deadline:
                if all(probe_client.ready().values()):
                    return
                time.sleep(1.0)
        finally:
            probe_client.close()
        raise ModelError(f"Triton at {self.triton_url} is not ready after {timeout_s:.0f} s")

    def close(self) -> None:
        if self.bus:
            self.bus.close()
        if self._redis:
            self._redis.stop()
        if self._triton:
            self._triton.stop()

    def __enter__(self) -> "Services":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class PipelineState:
    """Everything that must survive between windows; pickled into each window's checkpoint. Only the driver's
    assembly carries state: a window's analysis depends on nothing but its ``WindowTask``."""

    version: int = STATE_VERSION
    tracker: VideoTracker | None = None
    track_last_event: dict[int, str] = field(default_factory=dict)
    motion_run: list | None = None  # [t_start, t_end, peak] of a motion spike still going on
    # tracks that ended recently: (label, last_t, (x, y) last centre, last event id), for re-identification
    ended_tracks: dict[int, tuple[str, float, tuple[float, float], str]] = field(default_factory=dict)


@dataclass
class IngestSummary:
    video_id: str
    name: str
    duration_s: float
    windows: int
    windows_resumed: int
    events: int
    counts: dict[str, int]
    frames_scanned: int
    frames_kept: int
    wall_s: float
    decoder: str
    status: str = "done"
    executor: str = "local"

    def to_dict(self) -> dict:
        return asdict(self)


# -- analysis of one window: a pure function of its WindowTask, run by an executor (a thread here or a Ray task) --

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
    """The stateless part of a window, in time order: every scanned frame's gate decision, the detector's output
    for each kept frame, and the audio events (speech, sounds)."""

    index: int
    frames: list[FrameDecision]
    detections: list[FrameDetections]  # one per kept frame
    audio_events: list[Event]
    decoder: str
    worker: str  # host:pid that ran it, for logs
    wall_s: float


class _ReaderPool:
    """Frame readers of the video being ingested, each handed to one thread at a time (opening one indexes every frame
    of the file, so they are reused across windows). Readers of other videos are let go; one that failed is dropped."""

    def __init__(self, keep: int = 2):
        self.keep = keep
        self.key = None
        self.free: list[FrameReader] = []
        self.lock = threading.Lock()

    def clear(self) -> None:
        """Let go of the pooled readers (an ingest ended: their file handles and decode buffers go with them)."""
        with self.lock:
            self.key, self.free = None, []

    @contextmanager
    def use(self, info: MediaInfo, max_side: int):
        key = (info, max_side)
        with self.lock:
            reader = self.free.pop() if self.key == key and self.free else None
        if reader is None:
            reader = FrameReader(info, max_side)
        yield reader  # an exception leaves the reader out of the pool
        with self.lock:
            if self.key != key:
                self.key, self.free = key, []
            if len(self.free) < self.keep:
                self.free.append(reader)


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


class _OnceCache:
    """``key → value`` computed once per process (callers asking while it is computed wait for it), last ``size`` kept."""

    def __init__(self, size: int = 16):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, compute: Callable):
        with self.lock:
            future = self.items.get(key)
            owner = future is None
            if owner:
                future = self.items[key] = Future()
                while len(self.items) > self.size:
                    self.items.popitem(last=False)
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:
                future.set_exception(exc)
                with self.lock:
                    if self.items.get(key) is future:
                        del self.items[key]
                raise
        return future.result()


_THREADS = _AnalysisThreads("vdet-analysis")
_READERS = _ReaderPool()
_SPEECH_REGIONS = _OnceCache()
_VAD: list = []
_VAD_LOCK = threading.Lock()


def _vad() -> VoiceActivity:
    with _VAD_LOCK:  # one ONNX session per process (its run() is thread-safe)
        if not _VAD:
            _VAD.append(VoiceActivity())
        return _VAD[0]


def analyse_window(task: WindowTask) -> WindowAnalysis:
    """Decode, motion gate, detector, VAD, ASR and sound tags of one window (video and audio side by side).

    Deterministic in ``task``: the gate starts from the previous window's last scanned frame with nothing kept yet,
    and speech already transcribed by an earlier window is found by running that window's VAD again (memoised)."""
    started = time.monotonic()
    video = _THREADS.submit(_with_models, _analyse_video, task) if task.info.has_video else None
    audio = _THREADS.submit(_with_models, _analyse_audio, task) if task.info.has_audio else None
    # both halves end before this returns or raises: a half left running would decode into the next try (or into exit)
    futures_wait([f for f in (video, audio) if f is not None])
    frames, detections, decoder = video.result() if video is not None else ([], [], "none")
    audio_events = audio.result() if audio is not None else []
    return WindowAnalysis(task.window.index, frames, detections, audio_events, decoder, f"{socket.gethostname()}:{os.getpid()}",
                          time.monotonic() - started)


def reconnect_models() -> None:
    """After Triton restarted: this process's analysis threads open new connections before their next call."""
    _THREADS.generation += 1


def _with_models(half: Callable, task: WindowTask):
    """Run one half of a window's analysis with this thread's Triton client (dropped if a model call failed)."""
    try:
        return half(task, _THREADS.models(task.triton_url))
    except ModelError:
        _THREADS.drop_models(task.triton_url)
        raise


def _last_scanned_frame(reader: FrameReader, w: Window, fps: float):
    """The frame the scan of window ``w`` ends with (the nearest real frame to its last scan time): the one this reader
    kept from scanning ``w`` (windows run in order on one reader), or decoded again (a seek to a keyframe)."""
    targets = np.arange(w.t_start, w.t_end, 1.0 / fps)
    if len(targets) == 0:
        return None
    remembered = getattr(reader, "last_scanned", None)
    if remembered is not None and remembered[0] == (w, fps):
        return remembered[1]
    # the last target's nearest frame lies within one scan step of it when the source has a frame there; a sparse
    # source (1-2 fps, gaps) may have its nearest frame further back: then the whole window is scanned again
    for since in (max(w.t_start, float(targets[-1]) - 1.0 / fps), w.t_start):
        last = None
        for item in reader.read(since, w.t_end, fps):
            last = item
        if last is not None:
            return last
    return None


def _analyse_video(task: WindowTask, models: TritonModels):
    cfg, w = task.config, task.window
    with _READERS.use(task.info, cfg.sampling.max_side) as reader:
        gate = MotionGate(cfg.sampling)
        if task.previous is not None:
            lead = _last_scanned_frame(reader, task.previous, cfg.sampling.scan_fps)
            if lead is not None:
                gate.score(*lead)  # motion reference only: the window's keep decisions start afresh
                gate.state = GateState(prev_gray=gate.state.prev_gray, prev_hist=gate.state.prev_hist)
        frames, kept = [], []
        last = None
        for t, rgb in reader.read(w.t_start, w.t_end, cfg.sampling.scan_fps):
            d = gate.score(t, rgb)
            frames.append(d)
            if d.keep:
                kept.append(rgb)
            last = (t, rgb)
        reader.last_scanned = ((w, cfg.sampling.scan_fps), last) if last is not None else None
        decoder = reader.backend
    detections = models.detect(kept, batch=cfg.detector_batch, in_flight=cfg.detector_concurrency) if kept else []
    if len(detections) != len(kept):  # a model answer that does not fit: the analysis is run again
        raise ModelError(f"window {w.index}: the detector answered for {len(detections)} of {len(kept)} frames")
    return frames, detections, decoder


def _speech_regions(info: MediaInfo, w: Window, acfg, pcm: np.ndarray | None = None) -> list[SpeechRegion]:
    """VAD regions that start in window ``w``, read from its audio plus the overflow past its end."""

    def compute() -> list[SpeechRegion]:
        audio = pcm if pcm is not None else read_audio(info, w.t_start, min(info.duration_s, w.t_end + acfg.boundary_overflow_s))
        return [r for r in _vad().regions(audio, acfg, offset_s=w.t_start) if w.t_start <= r.t_start < w.t_end]

    return _SPEECH_REGIONS.get((info.path, info.size_bytes, info.duration_s, w, acfg), compute)


def _analyse_audio(task: WindowTask, models: TritonModels) -> list[Event]:
    acfg, info, w = task.config.audio, task.info, task.window
    end = min(info.duration_s, w.t_end + acfg.boundary_overflow_s)
    pcm = read_audio(info, w.t_start, end)
    window_pcm = pcm[: int(round(w.duration * 16000))]
    events: list[Event] = []
    # speech: regions that start in this window, minus what an earlier window already transcribed past its end
    regions = _speech_regions(info, w, acfg, pcm)
    reach = max((p.t_end + acfg.boundary_overflow_s for p in task.speech_lookback), default=w.t_start)
    covered_until = 0.0
    if any(r.t_start < reach for r in regions):
        covered_until = max((r.t_end for p in task.speech_lookback for r in _speech_regions(info, p, acfg)), default=0.0)
    for region in regions:
        start = max(region.t_start, covered_until)
        if region.t_end - start < acfg.min_speech_s:
            continue
        clip = pcm[int(round((start - w.t_start) * 16000)) : int(round((region.t_end - w.t_start) * 16000))]
        for seg in models.transcribe(clip):
            events.append(Event(f"speech-{w.index:05d}-{len(events):03d}", "speech", "speech", start + seg.start, start + seg.end,
                                round(float(min(1.0, max(0.0, 1.0 + seg.avg_logprob / 2))), 3), text=seg.text, window_index=w.index,
                                attrs={"words": [[round(start + x.start, 3), round(start + x.end, 3), x.word.strip()] for x in seg.words],
                                       "no_speech_prob": seg.no_speech_prob, "avg_logprob": seg.avg_logprob}))
        covered_until = max(covered_until, region.t_end)
    tags = models.tag_sounds(window_pcm)
    # sound events: the tagger, merged over consecutive chunks, plus what the signal itself shows
    merged: dict[str, list] = {}
    for tag in sorted(tags, key=lambda x: x.t_start):
        run = merged.get(tag.label)
        if run and tag.t_start - run[-1][1] <= 0.01:
            run[-1][1], run[-1][2] = tag.t_end, max(run[-1][2], tag.confidence)
        else:
            merged.setdefault(tag.label, []).append([tag.t_start, tag.t_end, tag.confidence])
    for label, runs in sorted(merged.items()):
        for t0, t1, conf in runs:
            events.append(Event(f"sound-{w.index:05d}-{len(events):03d}", "sound", label, w.t_start + t0, w.t_start + t1, conf,
                                window_index=w.index, attrs={"source": "tagger"}))
    for sig in signal_events(window_pcm, acfg, offset_s=w.t_start):
        events.append(Event(f"sound-{w.index:05d}-{len(events):03d}", "sound", sig.label, sig.t_start, sig.t_end, sig.confidence,
                            window_index=w.index, attrs={"source": "signal", **sig.attrs}))
    return events


def window_tasks(info: MediaInfo, windows: list[Window], config: IngestConfig, triton_url: str) -> dict[int, WindowTask]:
    """One task per window; the path made absolute so a worker on another node finds the same file."""
    info = replace(info, path=str(Path(info.path).resolve()))
    tasks = {}
    for i, w in enumerate(windows):
        lookback = tuple(p for p in windows[:i] if p.t_end + config.audio.boundary_overflow_s > w.t_start)
        tasks[w.index] = WindowTask(info, w, config, triton_url, windows[i - 1] if i else None, lookback)
    return tasks


# -- assembly on the driver, in window order: tracking, events, relations, rules, the checkpoint --------------------

class Ingestor:
    def __init__(self, home: Path, services: Services, config: IngestConfig | None = None, rules: list[Rule] | None = None,
                 executor: WindowExecutor | None = None):
        self.home = Path(home)
        self.config = config or IngestConfig()
        self.services = services
        self.rules = RulesEngine(rules if rules is not None else active_rules(self.home))
        self.executor = executor  # None: made from config.executor for each ingest
        self._models: TritonModels | None = None

    def _driver_models(self) -> TritonModels:
        if self._models is None:
            self._models = self.services.models()
        return self._models

    def _drop_driver_models(self) -> None:
        if self._models is not None:
            try:
                self._models.close()
            except Exception as exc:  # noqa: BLE001 - a dead connection may not close cleanly
                log.debug("closing the driver's Triton client: %s", exc)
            self._models = None

    def _video_events(self, info: MediaInfo, w: Window, analysis: WindowAnalysis, state: PipelineState):
        frames_rows, events = [], []
        for d in analysis.frames:
            self._motion_spike(state, d.t, d.motion, w, events)
            if d.keep:
                frames_rows.append({"t": round(d.t, 3), "reason": d.reason, "motion": round(d.motion, 4), "scene_score": round(d.scene_score, 4)})
                if d.reason == "scene_cut":
                    events.append(Event(f"cut-{w.index:05d}-{len(events):03d}", "scene_cut", "scene cut", d.t, d.t, min(1.0, d.scene_score),
                                        window_index=w.index, attrs={"scene_score": round(d.scene_score, 3)}))
        if state.motion_run and w.t_end >= info.duration_s - 1e-3:
            self._flush_motion(state, w, events)
        kept = [d.t for d in analysis.frames if d.keep]
        if len(kept) != len(analysis.detections):  # checked by the analysis; here it would be a bug, not a model fault
            raise RuntimeError(f"window {w.index}: {len(analysis.detections)} detector results for {len(kept)} frames")
        det_rows = []
        for t, fd in zip(kept, analysis.detections):
            for td in state.tracker.update(t, w.index, fd):
                det_rows.append({"t": round(t, 3), "track_id": td.track_id, "label": td.label, "confidence": round(td.confidence, 4),
                                 "x1": td.box[0], "y1": td.box[1], "x2": td.box[2], "y2": td.box[3]})
        segments, touched = state.tracker.close_window()
        relations: list[Relation] = []
        first_ids: set[int] = set()
        for seg in segments:
            eid = f"obj-{seg.track_id}-w{seg.window_index:05d}"
            events.append(Event(eid, "object", seg.label, seg.first_t, seg.last_t, round(seg.best_confidence, 4), track_id=seg.track_id,
                                window_index=w.index,
                                attrs={"n_frames": seg.n_frames, "best_t": round(seg.best_t, 3), "best_box": [round(v, 4) for v in seg.best_box],
                                       "start_center": [round(v, 4) for v in seg.start_center], "end_center": [round(v, 4) for v in seg.end_center]}))
            prev = state.track_last_event.get(seg.track_id)
            if prev:
                relations.append(Relation(prev, eid, "same_track"))
            else:
                first_ids.add(seg.track_id)
            state.track_last_event[seg.track_id] = eid
        relations += self._reidentify(state, segments, first_ids)
        state.track_last_event = {k: v for k, v in state.track_last_event.items() if k in state.tracker.tracks}
        tracks = [{"track_id": t.track_id, "label": t.label, "first_t": round(t.first_t, 3), "last_t": round(t.last_t, 3), "n_frames": t.n_frames,
                   "best_t": round(t.best_t, 3), "best_confidence": round(t.best_confidence, 4), "best_box": list(t.best_box),
                   "path": json.dumps(t.path_summary())} for t in touched]
        return frames_rows, det_rows, tracks, events, relations

    def _reidentify(self, state: PipelineState, segments, first_ids: set[int]) -> list[Relation]:
        """same_entity: a new track that starts where a track of the same label was lost a little earlier (an
        occlusion longer than the tracker's buffer, a scene cut) is linked to it, by label, time gap and position."""
        gap_s, max_dist = self.config.reid_gap_s, self.config.reid_distance
        alive = state.tracker.alive_ids()
        candidates = dict(state.ended_tracks)
        for seg in segments:
            if seg.track_id not in alive:
                candidates[seg.track_id] = (seg.label, seg.last_t, seg.end_center, f"obj-{seg.track_id}-w{seg.window_index:05d}")
        rels: list[Relation] = []
        for seg in sorted(segments, key=lambda x: x.first_t):
            if seg.track_id not in first_ids:
                continue
            best = None
            for tid, (label, last_t, centre, event_id) in candidates.items():
                dt = seg.first_t - last_t
                dist = ((seg.start_center[0] - centre[0]) ** 2 + (seg.start_center[1] - centre[1]) ** 2) ** 0.5
                if tid != seg.track_id and label == seg.label and 0 < dt <= gap_s and dist <= max_dist and (best is None or dist < best[0]):
                    best = (dist, event_id)
            if best is not None:
                rels.append(Relation(best[1], f"obj-{seg.track_id}-w{seg.window_index:05d}", "same_entity", round(1 - best[0], 3)))
        latest = max((s.last_t for s in segments), default=0.0)
        state.ended_tracks = {k: v for k, v in candidates.items() if latest - v[1] <= gap_s}
        return rels

    def _motion_spike(self, state: PipelineState, t: float, motion: float, w: Window, events: list[Event]) -> None:
        if motion >= self.config.sampling.motion_spike:
            if state.motion_run is None:
                state.motion_run = [t, t, motion]
            else:
                state.motion_run[1], state.motion_run[2] = t, max(state.motion_run[2], motion)
        elif state.motion_run is not None:
            self._flush_motion(state, w, events)

    def _flush_motion(self, state: PipelineState, w: Window, events: list[Event]) -> None:
        t0, t1, peak = state.motion_run  # type: ignore[misc]
        state.motion_run = None
        events.append(Event(f"motion-{w.index:05d}-{len(events):03d}", "motion", "motion spike", t0, max(t1, t0 + 1.0 / self.config.sampling.scan_fps),
                            round(min(1.0, peak / (2 * self.config.sampling.motion_spike)), 3), window_index=w.index, attrs={"peak": round(peak, 4)}))

    def _assemble(self, graph: EventGraph, info: MediaInfo, w: Window, windows: list[Window], video_id: str, state: PipelineState,
                  analysis: WindowAnalysis) -> WindowResult:
        t0 = time.monotonic()
        if info.has_video:
            frames_rows, det_rows, tracks, v_events, relations = self._video_events(info, w, analysis, state)
        else:
            frames_rows, det_rows, tracks, v_events, relations = [], [], [], [], []
        events = sorted(v_events + analysis.audio_events, key=lambda e: (e.t_start, e.id))
        vectors = self._driver_models().embed([e.describe() for e in events])
        relations += build_relations(events, self.config.precedes_gap_s, previous=graph.last_event(video_id, w.index))
        if self.rules.rules:  # alerts appear while ingest is still running
            history = graph.events_between(video_id, w.t_start - self.rules.horizon_s(), before_window=w.index)
            tracks_here = sorted({e.track_id for e in events if e.track_id is not None})
            dets = graph.detections_for_tracks(video_id, tracks_here) + det_rows
            last = w.index == windows[-1].index
            alerts, alert_rels = self.rules.evaluate(history, events, dets, info.duration_s if last else None, w.t_end, w.index)
            events += alerts
            relations += alert_rels
        return WindowResult(video_id, w.index, w.t_start, w.t_end, frames=frames_rows, detections=det_rows, tracks=tracks,
                            events=events, relations=relations, embeddings=vectors, state=pickle.dumps(state),
                            frames_scanned=len(analysis.frames), wall_s=analysis.wall_s + time.monotonic() - t0)

    def _assemble_with_retries(self, graph, info, w, windows, video_id, state, analysis, attempts: int = MODEL_ATTEMPTS) -> WindowResult:
        """Assembly retried with the models recovered if the embedder fails; the state is restored before a retry,
        so the tracker never sees a frame twice."""
        snapshot = pickle.dumps(state)
        for attempt in range(1, attempts + 1):
            try:
                return self._assemble(graph, info, w, windows, video_id, pickle.loads(snapshot), analysis)
            except ModelError as exc:
                if attempt == attempts:
                    raise ModelError(f"{exc} — still failing after {attempts} tries; check the Triton log") from exc
                log.warning("window %d: %s; recovering the models and retrying (%d/%d)", w.index, exc, attempt, attempts - 1)
                self.services.recover_models()
                self._drop_driver_models()
        raise AssertionError("unreachable")

    def _await_analysis(self, executor: WindowExecutor, task: WindowTask, handle, attempts: int = MODEL_ATTEMPTS) -> WindowAnalysis:
        """The window's analysis, submitted again when its worker died or a model call failed (models recovered first)."""
        w = task.window
        limit = self.config.window_timeout_s
        for attempt in range(1, attempts + 1):
            try:
                return executor.result(handle, limit)
            except TimeoutError:
                executor.cancel(handle)
                raise MediaError(f"window {w.index + 1} ({w.t_start:.0f}-{w.t_end:.0f} s) took longer than {limit:g} s to decode and analyse; "
                                 "the file may be damaged there. Finished windows are saved: run the same command again to retry") from None
            except (ModelError, WindowLost) as exc:
                if attempt == attempts:
                    if isinstance(exc, ModelError):
                        raise ModelError(f"{exc} — still failing after {attempts} tries; check the Triton log") from exc
                    raise
                log.warning("window %d: %s; submitting it again (%d/%d)", w.index, exc, attempt, attempts - 1)
                if isinstance(exc, ModelError):
                    self.services.recover_models()
                    reconnect_models()
                handle = executor.submit(task)
        raise AssertionError("unreachable")

    # -- driver -----------------------------------------------------------------------------
    def ingest(self, path: str | Path, on_progress: Callable[[dict], None] | None = None, display_name: str | None = None) -> IngestSummary:
        started = time.monotonic()
        info = probe(path)
        sha = file_sha256(path)
        video_id = sha[:16]
        windows = plan_windows(info.duration_s, self.config.window_s)
        graph = EventGraph(database_path(self.home))
        bus = self.services.bus
        executor = self.executor
        pending: deque = deque()  # (task, handle) in window order, at most executor.max_in_flight
        try:
            graph.upsert_video(video_id, display_name or Path(path).name, str(Path(path).resolve()), sha, asdict(info), self.config.window_s, len(windows))
            done = set(graph.done_windows(video_id))
            state = PipelineState()
            saved = graph.last_state(video_id) if len(done) < len(windows) else None  # a finished video needs no state
            if saved:
                try:
                    state = pickle.loads(saved[1])
                except Exception:  # noqa: BLE001 - a state pickled by another version may not even load
                    state = None
                if getattr(state, "version", None) != STATE_VERSION:
                    # a partial ingest by an older version cannot be continued: start this video over (its old rows go)
                    log.warning("%s: checkpoint from an older version; ingesting it again from the start", Path(path).name)
                    graph.delete_video(video_id)
                    graph.upsert_video(video_id, display_name or Path(path).name, str(Path(path).resolve()), sha, asdict(info),
                                       self.config.window_s, len(windows))
                    done, state = set(), PipelineState()
            if state.tracker is None:
                state.tracker = VideoTracker(self.config.sampling.max_detect_fps, self.config.track_lost_s, self.config.min_track_frames)
            todo = [w for w in windows if w.index not in done]
            resumed = len(windows) - len(todo)
            if executor is None and todo:
                executor = make_executor(self.config)
            tasks = window_tasks(info, windows, self.config, self.services.triton_url)
            upcoming = iter(todo)
            decoder = "none"

            def top_up() -> None:
                while len(pending) < executor.max_in_flight:
                    w = next(upcoming, None)
                    if w is None:
                        return
                    pending.append((tasks[w.index], executor.submit(tasks[w.index])))

            if todo:
                top_up()
            for n, w in enumerate(todo):
                task, handle = pending.popleft()
                analysis = self._await_analysis(executor, task, handle)
                top_up()  # the next windows are analysed while this one is assembled and written
                decoder = analysis.decoder if analysis.decoder != "none" else decoder
                result = self._assemble_with_retries(graph, info, w, windows, video_id, state, analysis)
                state = pickle.loads(result.state)  # what was saved is what the next window continues from
                graph.write_window(result)
                elapsed = time.monotonic() - started
                message = {"type": "progress", "video_id": video_id, "window": w.index, "windows": len(windows),
                           "done": resumed + n + 1, "t_end": w.t_end, "duration_s": info.duration_s, "events": len(result.events),
                           "status": "running", "eta_s": round(elapsed / (n + 1) * (len(todo) - n - 1), 1)}
                if bus:
                    bus.publish(progress_channel(video_id), message)
                if on_progress:
                    on_progress(message)
            scenes = scene_segments(graph, video_id, info.duration_s)
            scene_vectors = self._driver_models().embed([e.text for e in scenes])
            graph.write_scenes(video_id, scenes, scene_vectors)
            graph.set_video_status(video_id, "done")
            counts = graph.counts(video_id)
            kept, scanned_total = graph.con.execute(
                "SELECT coalesce(sum(frames_kept), 0), coalesce(sum(frames_scanned), 0) FROM windows WHERE video_id = ?", [video_id]
            ).fetchone()
            summary = IngestSummary(video_id, display_name or Path(path).name, info.duration_s, len(windows), resumed, sum(counts.values()), counts,
                                    int(scanned_total), int(kept), round(time.monotonic() - started, 3), decoder,
                                    executor=executor.name if executor else self.config.executor)
            if bus:
                bus.publish(progress_channel(video_id), {"type": "progress", "video_id": video_id, "window": len(windows) - 1,
                                                          "windows": len(windows), "done": len(windows), "t_end": info.duration_s,
                                                          "duration_s": info.duration_s, "events": summary.events, "status": "done", "eta_s": 0})
            return summary
        except BaseException as exc:
            try:
                graph.set_video_status(video_id, "error", str(exc)[:500])
                if bus:
                    bus.publish(progress_channel(video_id), {"type": "progress", "video_id": video_id, "status": "error", "error": str(exc)[:500]})
            except Exception:  # noqa: BLE001 - reporting must not hide the original error
                pass
            raise
        finally:
            for _task, handle in pending:
                executor.cancel(handle)
            if executor is not None and executor is not self.executor:
                executor.close()
            _READERS.clear()
            self._drop_driver_models()
            graph.close()
