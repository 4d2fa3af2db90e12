"""Ingest: the loop that wires the lanes, the executor, the event graph and the bus, window by window.

    probe → plan windows → for each window not yet done:
        analysis (executors.py → analysis.py): decode video and audio once, run each lane's ``analyse``
        assembly (assembly.py, in window order): each lane's ``assemble`` with its carried state → events and relations
        → embeddings (Triton) → relations across lanes → rules → EventGraph.write_window (one transaction) → progress

The analysis of a window is a pure function of its ``WindowTask`` and runs a few windows ahead, on threads here or
on Ray. The assembly carries every lane's state across windows (the tracker, a motion run still going) and saves it
with each window's checkpoint, so re-running on the same file resumes after the last finished window. This process
is the only DuckDB writer.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from tenacity import RetryCallState

from .alerts import active_rules, rerun_rules, rules_dir
from .analysis import WindowAnalysis, WindowTask, lanes_for, reconnect_models, release_readers, window_tasks
from .bus import progress_channel
from .config import IngestConfig
from .assembly import MODEL_ATTEMPTS, STATE_VERSION, PipelineState, WindowAssembler, WindowScope, model_retries, still_failing
from .executors import WindowExecutor, WindowLost, make_executor
from .graph import EventGraph
from .lanes import Lane
from .media import MediaError, probe
from .messages import Progress
from .model_clients import ModelError
from .profiling import role, stage
from .rules import Rule, RulesEngine
from .scenes import scene_segments
from .services import Services
from .weights import file_sha256
from .windows import plan_windows

__all__ = [
    "MODEL_ATTEMPTS",
    "STATE_VERSION",
    "IngestSummary",
    "Ingestor",
    "PipelineState",
    "Services",
    "active_rules",
    "database_path",
    "file_sha256",
    "rerun_rules",
    "rules_dir",
    "scene_segments",
]

log = logging.getLogger(__name__)
INTERRUPTED_WAIT_S = 2.0  # after Ctrl-C, how long a window still being analysed is waited for


def database_path(home: Path) -> Path:
    return Path(home) / "events.duckdb"


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
    lanes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


class Ingestor:
    def __init__(
        self, home: Path, services: Services, config: IngestConfig | None = None, rules: list[Rule] | None = None, executor: WindowExecutor | None = None
    ):
        self.home = Path(home)
        self.config = config or IngestConfig()
        self.services = services
        self.rules = RulesEngine(rules if rules is not None else active_rules(self.home))
        self.executor = executor  # None: made from config.executor for each ingest
        self.assembler = WindowAssembler(self.config, self.rules, services)

    def _await_analysis(self, executor: WindowExecutor, task: WindowTask, handle, attempts: int = MODEL_ATTEMPTS) -> WindowAnalysis:
        """The window's analysis, submitted again when its worker died or a model call failed (models recovered first)."""
        w = task.window
        limit = self.config.window_timeout_s
        current = [handle]

        def resubmit(retry: RetryCallState) -> None:
            exc = retry.outcome.exception()
            log.warning("window %d: %s; submitting it again (%d/%d)", w.index, exc, retry.attempt_number, attempts - 1)
            if isinstance(exc, ModelError):
                self.services.recover_models()
                reconnect_models()
            current[0] = executor.submit(task)

        try:
            for attempt in model_retries(attempts, (ModelError, WindowLost), resubmit):
                with attempt:
                    try:
                        return executor.result(current[0], limit)
                    except TimeoutError:
                        executor.cancel(current[0])
                        raise MediaError(
                            f"window {w.index + 1} ({w.t_start:.0f}-{w.t_end:.0f} s) took longer than {limit:g} s to decode and "
                            "analyse; the file may be damaged there. Finished windows are saved: run the same command again "
                            "to retry"
                        ) from None
        except ModelError as exc:
            raise still_failing(exc, attempts) from exc
        raise AssertionError("unreachable")

    def _resume_state(
        self, graph: EventGraph, register: Callable[[], None], video_id: str, name: str, n_windows: int, lanes: list[Lane]
    ) -> tuple[set[int], PipelineState]:
        """The windows already done and the state to continue from (a partial ingest by an older version starts over)."""
        done = set(graph.done_windows(video_id))
        state = None
        saved = graph.last_state(video_id) if len(done) < n_windows else None  # a finished video needs no state
        if saved:
            try:
                state = pickle.loads(saved[1])
            except Exception:  # noqa: BLE001 - a state pickled by another version may not even load
                state = None
            if getattr(state, "version", None) != STATE_VERSION:
                # a partial ingest by an older version cannot be continued: start this video over (its old rows go)
                log.warning("%s: checkpoint from an older version; ingesting it again from the start", name)
                graph.delete_video(video_id)
                register()
                done, state = set(), None
        state = state if isinstance(state, PipelineState) else PipelineState()
        for lane in lanes:  # a lane switched on since the last window starts from its fresh state
            state.lanes.setdefault(lane.name, lane.new_state(self.config))
        return done, state

    def ingest(self, path: str | Path, on_progress: Callable[[dict], None] | None = None, display_name: str | None = None) -> IngestSummary:
        with role("driver"), stage("other"):  # "other": what no stage inside names
            return self._ingest(path, on_progress, display_name)

    def _ingest(self, path: str | Path, on_progress: Callable[[dict], None] | None, display_name: str | None) -> IngestSummary:
        started = time.monotonic()
        info = probe(path)
        sha = file_sha256(path)
        video_id = sha[:16]
        name = display_name or Path(path).name
        windows = plan_windows(info.duration_s, self.config.window_s)
        lanes = lanes_for(info, self.config)
        if not lanes:
            raise MediaError(
                f"{Path(path).name}: none of the lanes asked for ({', '.join(self.config.lanes)}) can read this file "
                f"(video: {'yes' if info.has_video else 'no'}, audio: {'yes' if info.has_audio else 'no'}); choose others with --lanes"
            )
        graph = EventGraph(database_path(self.home))
        bus = self.services.bus
        executor = self.executor
        pending: deque = deque()  # (task, handle) in window order, at most executor.max_in_flight
        interrupted = False

        def publish(message: Progress) -> None:
            if bus:
                bus.publish(progress_channel(video_id), message)

        def register() -> None:
            graph.upsert_video(video_id, name, str(Path(path).resolve()), sha, asdict(info), self.config.window_s, len(windows))

        try:
            register()
            done, state = self._resume_state(graph, register, video_id, name, len(windows), lanes)
            todo = [w for w in windows if w.index not in done]
            resumed = len(windows) - len(todo)
            if executor is None and todo:
                executor = make_executor(self.config)
            tasks = window_tasks(info, windows, self.config, self.services.triton_url)
            upcoming = iter(todo)
            decoder = "none"

            def top_up() -> None:
                while len(pending) < executor.max_in_flight and (w := next(upcoming, None)) is not None:
                    pending.append((tasks[w.index], executor.submit(tasks[w.index])))

            if todo:
                top_up()
            loop_started = time.monotonic()  # the time left is measured on this ingest's windows, not on its start-up
            for n, w in enumerate(todo):
                task, handle = pending.popleft()
                with stage("wait for analysis"):
                    analysis = self._await_analysis(executor, task, handle)
                top_up()  # the next windows are analysed while this one is assembled and written
                decoder = analysis.decoder if analysis.decoder != "none" else decoder
                scope = WindowScope(video_id, info, w, w.index == windows[-1].index, lanes)
                result = self.assembler.assemble_with_retries(graph, scope, state, analysis)
                with stage("checkpoint"):
                    state = pickle.loads(result.state)  # what was saved is what the next window continues from
                with stage("DuckDB write"):
                    graph.write_window(result)
                elapsed = time.monotonic() - loop_started
                message = Progress(
                    video_id=video_id,
                    window=w.index,
                    windows=len(windows),
                    done=resumed + n + 1,
                    t_end=w.t_end,
                    duration_s=info.duration_s,
                    events=len(result.events),
                    status="running",
                    eta_s=round(elapsed / (n + 1) * (len(todo) - n - 1), 1),
                )
                publish(message)
                if on_progress:
                    on_progress(message.model_dump(exclude_none=True, exclude={"v"}))
            with stage("scenes"):
                scenes = scene_segments(graph, video_id, info.duration_s)
                graph.write_scenes(video_id, scenes, self.assembler.models().embed([e.text for e in scenes]))
            graph.set_video_status(video_id, "done")
            counts = graph.counts(video_id)
            kept, scanned_total = graph.frame_totals(video_id)
            summary = IngestSummary(
                video_id,
                name,
                info.duration_s,
                len(windows),
                resumed,
                sum(counts.values()),
                counts,
                scanned_total,
                kept,
                round(time.monotonic() - started, 3),
                decoder,
                executor=executor.name if executor else self.config.executor,
                lanes=tuple(lane.name for lane in lanes),
            )
            publish(
                Progress(
                    video_id=video_id,
                    window=len(windows) - 1,
                    windows=len(windows),
                    done=len(windows),
                    t_end=info.duration_s,
                    duration_s=info.duration_s,
                    events=summary.events,
                    status="done",
                    eta_s=0,
                )
            )
            return summary
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            try:
                graph.set_video_status(video_id, "error", str(exc)[:500])
                publish(Progress(video_id=video_id, status="error", error=str(exc)[:500]))
            except Exception:  # noqa: BLE001 - reporting must not hide the original error
                pass
            raise
        finally:
            for _task, handle in pending:
                # Ctrl-C: the command leaves at once (os._exit, no native teardown to crash in), so a window still
                # being analysed on a loaded machine is not waited for; after an error, it is (bounded)
                executor.cancel(handle, wait_s=INTERRUPTED_WAIT_S if interrupted else 60.0)
            if executor is not None and executor is not self.executor:
                executor.close()
            release_readers()
            self.assembler.drop_models()
            graph.close()
