"""A window's assembly, on the driver: each lane's ``assemble`` with its carried state → typed events and relations,
their embeddings, the relations across lanes and the rules' alerts → one ``WindowResult`` for the graph to write.

Assembly runs in window order (the tracker and a motion run still going carry over); it is retried from the saved
state when the embedder fails, so no lane sees a window twice. ``PipelineState`` is what each window's checkpoint
keeps; the retry policy (``model_retries``) is the ingest's one policy for model failures.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from .analysis import WindowAnalysis
from .config import IngestConfig
from .events import build_relations
from .graph import EventGraph, WindowResult
from .lanes import AssemblyContext, Lane, LaneOutput
from .media import MediaInfo
from .model_clients import ModelError, TritonModels
from .profiling import stage
from .rules import RulesEngine
from .services import Services
from .windows import Window

log = logging.getLogger(__name__)
STATE_VERSION = 3  # 3: each lane carries its own state (2: the motion gate and speech coverage left the checkpoint)
MODEL_ATTEMPTS = 3


def model_retries(attempts: int, errors, before_retry: Callable[[RetryCallState], None]) -> Retrying:
    """The ingest's retry policy: up to ``attempts`` tries while one of ``errors`` is raised, ``before_retry`` (recover
    the models, submit again) between tries, at once (recovering is the wait); the last error is raised as it was."""
    return Retrying(stop=stop_after_attempt(attempts), retry=retry_if_exception_type(errors), before_sleep=before_retry, reraise=True)


def still_failing(exc: ModelError, attempts: int) -> ModelError:
    return ModelError(f"{exc} — still failing after {attempts} tries; check the Triton log")


@dataclass
class PipelineState:
    """Everything that must survive between windows; pickled into each window's checkpoint. Only the driver's
    assembly carries state (each lane its own): a window's analysis depends on nothing but its ``WindowTask``."""

    version: int = STATE_VERSION
    lanes: dict[str, Any] = field(default_factory=dict)  # lane name → its carried state


@dataclass
class WindowScope:
    """Which window of which video is being assembled, and with which lanes."""

    video_id: str
    info: MediaInfo
    window: Window
    last: bool  # the video's last window (end-of-video rules fire)
    lanes: list[Lane]


class WindowAssembler:
    """Turns a window's analysis into what the graph writes; owns the driver's Triton client (the embedder)."""

    def __init__(self, config: IngestConfig, rules: RulesEngine, services: Services):
        self.config = config
        self.rules = rules
        self.services = services
        self._models: TritonModels | None = None

    def models(self) -> TritonModels:
        if self._models is None:
            self._models = self.services.models()
        return self._models

    def drop_models(self) -> None:
        if self._models is not None:
            try:
                self._models.close()
            except Exception as exc:  # noqa: BLE001 - a dead connection may not close cleanly
                log.debug("closing the driver's Triton client: %s", exc)
            self._models = None

    def assemble(self, graph: EventGraph, scope: WindowScope, state: PipelineState, analysis: WindowAnalysis) -> WindowResult:
        t0 = time.monotonic()
        info, w, video_id = scope.info, scope.window, scope.video_id
        out = LaneOutput(
            frames=[
                {"t": round(d.t, 3), "reason": d.reason, "motion": round(d.motion, 4), "scene_score": round(d.scene_score, 4)}
                for d in analysis.frames
                if d.keep
            ]
        )
        ran = [lane for lane in scope.lanes if lane.name in analysis.lanes]
        for lane in ran:
            ctx = AssemblyContext(info, w, self.config, w.t_end >= info.duration_s - 1e-3, state.lanes.get(lane.name))
            with stage(f"assemble {lane.name}"):
                part = lane.assemble(analysis.lanes[lane.name], ctx)
            out.events += part.events
            out.relations += part.relations
            out.detections += part.detections
            out.tracks += part.tracks
            out.vectors += part.vectors
        events = sorted(out.events, key=lambda e: (e.t_start, e.id))
        relations = out.relations
        vectors = self.models().embed([e.describe() for e in events])
        with stage("relations"):
            relations += build_relations(events, self.config.precedes_gap_s, previous=graph.last_event(video_id, w.index))
        if self.rules.rules:  # alerts appear while ingest is still running
            history = graph.events_between(video_id, w.t_start - self.rules.horizon_s(), before_window=w.index)
            tracks_here = sorted({e.track_id for e in events if e.track_id is not None})
            dets = graph.detections_for_tracks(video_id, tracks_here) + out.detections
            alerts, alert_rels = self.rules.evaluate(history, events, dets, info.duration_s if scope.last else None, w.t_end, w.index)
            events += alerts
            relations += alert_rels
        with stage("checkpoint"):
            saved = pickle.dumps(state)
        return WindowResult(
            video_id,
            w.index,
            w.t_start,
            w.t_end,
            frames=out.frames,
            detections=out.detections,
            tracks=out.tracks,
            vectors=out.vectors,
            events=events,
            relations=relations,
            embeddings=vectors,
            state=saved,
            frames_scanned=len(analysis.frames),
            wall_s=analysis.wall_s + time.monotonic() - t0,
            lanes=tuple(lane.name for lane in ran),
        )

    def assemble_with_retries(
        self, graph: EventGraph, scope: WindowScope, state: PipelineState, analysis: WindowAnalysis, attempts: int = MODEL_ATTEMPTS
    ) -> WindowResult:
        """Assembly retried with the models recovered if the embedder fails; the state is restored before a retry,
        so the tracker never sees a frame twice."""
        snapshot = pickle.dumps(state)

        def recover(retry: RetryCallState) -> None:
            log.warning(
                "window %d: %s; recovering the models and retrying (%d/%d)", scope.window.index, retry.outcome.exception(), retry.attempt_number, attempts - 1
            )
            self.services.recover_models()
            self.drop_models()

        try:
            for attempt in model_retries(attempts, ModelError, recover):
                with attempt:
                    return self.assemble(graph, scope, pickle.loads(snapshot), analysis)
        except ModelError as exc:
            raise still_failing(exc, attempts) from exc
        raise AssertionError("unreachable")
