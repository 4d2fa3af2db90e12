"""The video library behind the app: uploads land in ``<home>/uploads`` (checked by content,
deduplicated by hash), ingest jobs run one at a time in a worker thread, and progress is read
back from Redis (``progress:*``, ``file_transfer:*``) so the page shows what the bus carries.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from orchestrator.graph import EventGraph
from orchestrator.media import MediaError, probe
from orchestrator.messages import FileTransfer, Progress, decode, encode
from orchestrator.pipeline import Ingestor, Services, database_path
from orchestrator.weights import file_sha256

log = logging.getLogger(__name__)
CHUNK = 8 << 20
EVERYONE = "*"  # the owner of videos preloaded on a server with several users: each of them sees it
SAFE_NAME = re.compile(r"[^A-Za-z0-9 ._()\-]+")


class UploadError(ValueError):
    """An upload cannot be used; the message says what is wrong and what to do."""


def transfer_channel(video_id: str) -> str:
    return f"file_transfer:{video_id}"


def display_name(raw: str) -> str:
    """A safe display name: no path components, no control or odd characters, bounded length."""
    base = os.path.basename(raw.replace("\\", "/")) or "video"
    clean = SAFE_NAME.sub("_", base).strip(" ._") or "video"
    return clean[:120]


@dataclass
class JobState:
    video_id: str
    name: str
    status: str = "queued"  # queued | copying | ingesting | done | error
    done: int = 0
    windows: int = 0
    t_end: float = 0.0
    duration_s: float = 0.0
    eta_s: float | None = None
    error: str = ""
    transfer: float = 0.0  # 0..1 of the copy into the library
    events: int = 0
    updated: float = field(default_factory=time.time)
    started: float | None = None  # wall time the ingest itself began
    marks: list = field(default_factory=list)  # (monotonic time, windows done) as each window of this ingest finished

    def time_left(self, now: float | None = None) -> float | None:
        """Seconds left, from the measured time per window of this ingest: the span between its first and last
        finished windows over the windows finished in between (start-up, model loading and windows done by an
        earlier run are not in it), times the windows left, less the time since the last one finished.
        None until two windows of this ingest have finished."""
        if len(self.marks) < 2 or not self.windows:
            return None
        (t0, d0), (t1, d1) = self.marks[0], self.marks[-1]
        if d1 <= d0:
            return None
        per_window = (t1 - t0) / (d1 - d0)
        left = per_window * max(self.windows - d1, 0) - ((now if now is not None else time.monotonic()) - t1)
        return max(left, 0.0)


class Library:
    def __init__(self, home: Path, services: Services, max_upload_mb: float = 4096, max_duration_s: float = 2 * 3600 + 60):
        self.home = Path(home)
        self.uploads = self.home / "uploads"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.services = services
        self.max_upload_bytes = int(max_upload_mb * 1024 * 1024)
        self.max_duration_s = max_duration_s
        self.db_path = database_path(self.home)
        self.graph = EventGraph(self.db_path)  # this process is the database's single writer; reads use cursors
        self.redis = redis.Redis.from_url(services.bus.url) if services.bus else None
        self.jobs: dict[str, JobState] = {}
        self.lock = threading.Lock()
        self.queue: queue.Queue[tuple[str, Path] | None] = queue.Queue()
        self.worker = threading.Thread(target=self._work, name="ingest-worker", daemon=True)
        self.worker.start()
        self.listener = threading.Thread(target=self._listen, name="progress-listener", daemon=True)
        self._stop = threading.Event()
        self.listener.start()

    # -- reading -------------------------------------------------------------------------
    def cursor(self) -> EventGraph:
        """The graph through a cursor of its own (the page reads from many threads); close it after use."""
        return self.graph.cursor()

    def videos(self, owner: str | None = None) -> list[dict]:
        """The library; with ``owner`` (an authenticated user) only the videos that user uploaded."""
        with self.cursor() as g:
            return g.library((owner, EVERYONE) if owner else ())

    def video(self, video_id: str, owner: str | None = None) -> dict | None:
        return next((v for v in self.videos(owner) if v["video_id"] == video_id), None)

    def may_see(self, video_id: str | None, owner: str | None) -> bool:
        if not video_id:
            return False
        if owner is None:
            return True
        with self.cursor() as g:
            return g.owned(video_id, (owner, EVERYONE))

    def _own(self, video_id: str, owner: str | None) -> None:
        if owner:
            with self.cursor() as g:
                g.add_owner(video_id, owner)

    def media_path(self, video_id: str) -> str | None:
        """The playable file of a video: its library copy, or where it was ingested from."""
        copies = sorted(self.uploads.glob(f"{video_id}.*"))
        copies = [c for c in copies if not c.name.endswith(".part")]
        if copies:
            return str(copies[0])
        v = self.video(video_id)
        return v["path"] if v and Path(v["path"]).is_file() else None

    def missing_file(self, video_id: str) -> str | None:
        """Where a library video's file was, when it is gone (deleted or moved since it was ingested); else None."""
        if self.media_path(video_id) is not None:
            return None
        v = self.video(video_id)
        return v["path"] if v else None

    def served_paths(self) -> list[str]:
        """What the page may serve: the library's own folders and each video's file wherever it lives (a video
        ingested from the command line stays where it was)."""
        paths = [str(self.uploads), str(self.home / "exports"), str(self.home / "thumbs")]
        for v in self.videos():
            self.serve(v["path"], paths)
        return paths

    def serve(self, path: str | None, paths: list[str]) -> None:
        """Add one video file to ``paths`` (the app's allowed paths, shared with Gradio) if it is not covered yet."""
        if not path or not Path(path).is_file():
            return
        resolved = Path(path).resolve()
        if not any(resolved == Path(p).resolve() or Path(p).resolve() in resolved.parents for p in paths):
            paths.append(str(resolved))

    def resume_unfinished(self) -> list[str]:
        """Queue again the ingests an earlier app left unfinished (it was killed, or the machine went down): they
        continue from their last finished window. Those whose file is gone are marked as errors that say so.
        Returns a line per video for the log."""
        lines = []
        for v in reversed(self.videos()):
            if v["status"] != "ingesting":
                continue
            path = self.media_path(v["video_id"])
            where = f"window {v['windows_done'] + 1} of {v['n_windows']}"
            if path is None:
                self.graph.set_video_status(
                    v["video_id"], "error", f"interrupted at {where}, and the file is gone (it was at {v['path']}); upload it again to resume"
                )
                lines.append(f"{v['name']}: interrupted at {where}; its file is gone ({v['path']})")
                continue
            with self.lock:
                self.jobs[v["video_id"]] = JobState(
                    v["video_id"], v["name"], duration_s=v["duration_s"] or 0.0, done=v["windows_done"], windows=v["n_windows"] or 0
                )
            self.enqueue(v["video_id"], Path(path), v["name"])
            lines.append(f"{v['name']}: resuming the interrupted ingest at {where}")
        return lines

    def job(self, video_id: str) -> JobState | None:
        with self.lock:
            return self.jobs.get(video_id)

    # -- uploads -------------------------------------------------------------------------
    def add_upload(self, path: str | Path, original_name: str | None = None, owner: str | None = None) -> tuple[str, bool]:
        """Check, hash and copy an uploaded file into the library; queue its ingest.

        Returns (video_id, is_new). Raises UploadError with a message for the page."""
        src = Path(path)
        name = display_name(original_name or src.name)
        if src.is_symlink() or not src.is_file():
            raise UploadError(f"{name}: not a regular file; upload the video file itself")
        size = src.stat().st_size
        if size == 0:
            raise UploadError(f"{name}: the file is empty; upload the complete video")
        if size > self.max_upload_bytes:
            raise UploadError(
                f"{name}: {size / 2**20:.0f} MB is over the {self.max_upload_bytes / 2**20:.0f} MB upload limit; "
                "trim or compress the video, or raise VDET_MAX_UPLOAD_MB"
            )
        try:
            info = probe(src)  # judged by content, not by the file name
        except MediaError as exc:
            raise UploadError(str(exc).replace(src.name, name)) from None
        if info.duration_s > self.max_duration_s:
            raise UploadError(f"{name}: {info.duration_s / 3600:.1f} h is longer than the {self.max_duration_s / 3600:.1f} h limit; split the video")
        sha = file_sha256(src)
        video_id = sha[:16]
        self._own(video_id, owner)  # the same content uploaded by two users: both may see it, nobody else
        existing = self.video(video_id)
        if existing and existing["status"] == "done" and Path(existing["path"]).is_file():
            return video_id, False
        with self.lock:
            if video_id in self.jobs and self.jobs[video_id].status in ("queued", "copying", "ingesting"):
                return video_id, False
            self.jobs[video_id] = JobState(video_id, name, "copying", duration_s=info.duration_s)
        suffix = Path(name).suffix.lower() if re.fullmatch(r"\.[a-z0-9]{2,5}", Path(name).suffix.lower()) else ".mp4"
        dest = self.uploads / f"{video_id}{suffix}"
        if not dest.exists():
            tmp = dest.with_suffix(dest.suffix + ".part")
            copied = 0
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                for chunk in iter(lambda: fin.read(CHUNK), b""):
                    fout.write(chunk)
                    copied += len(chunk)
                    self._publish(transfer_channel(video_id), FileTransfer(video_id=video_id, name=name, bytes=copied, total=size, status="copying"))
                fout.flush()
                os.fsync(fout.fileno())
            tmp.rename(dest)  # never a half-written file under the final name
        self._publish(transfer_channel(video_id), FileTransfer(video_id=video_id, name=name, bytes=size, total=size, status="done"))
        self.enqueue(video_id, dest, name)
        return video_id, True

    def enqueue(self, video_id: str, path: Path, name: str) -> None:
        with self.lock:
            job = self.jobs.setdefault(video_id, JobState(video_id, name))
            job.status, job.transfer = "queued", 1.0
        self.queue.put((video_id, path, name))  # type: ignore[arg-type]

    def _publish(self, channel: str, message: FileTransfer) -> None:
        if self.redis is None:
            return
        try:
            self.redis.publish(channel, encode(message))
        except redis.RedisError:
            pass

    # -- the worker ----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            video_id, path, name = item  # type: ignore[misc]
            with self.lock:
                self.jobs[video_id].status = "ingesting"
                self.jobs[video_id].started = time.time()
            try:
                ingestor = Ingestor(self.home, self.services)
                summary = ingestor.ingest(path, display_name=name)
                with self.lock:
                    job = self.jobs[video_id]
                    job.status, job.done, job.windows, job.events = "done", summary.windows, summary.windows, summary.events
            except Exception as exc:  # noqa: BLE001 - shown on the page; the graph keeps finished windows
                log.exception("ingest of %s failed", name)
                with self.lock:
                    job = self.jobs[video_id]
                    job.status, job.error = "error", _short_error(exc)

    def _listen(self) -> None:
        """Progress as the bus carries it: the page shows what ``progress:*`` and ``file_transfer:*`` say."""
        while not self._stop.is_set():
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[union-attr]
                pubsub.psubscribe("progress:*", "file_transfer:*")
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.5)
                    if msg and msg["type"] == "pmessage":
                        try:
                            message = decode(msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"], msg["data"])
                        except ValueError as exc:  # not one of the bus's messages: skipped
                            log.debug("progress listener: %s", exc)
                            continue
                        self._apply(message)
            except (redis.RedisError, AttributeError, ValueError) as exc:
                log.debug("progress listener: %s; reconnecting", exc)
                time.sleep(1.0)

    def _apply(self, m: Progress | FileTransfer) -> None:
        def given(value, default):
            return default if value is None else value

        vid = m.video_id
        if not vid:
            return
        with self.lock:
            job = self.jobs.get(vid)
            if job is None:
                job = self.jobs[vid] = JobState(vid, m.name if isinstance(m, FileTransfer) else vid)
            if isinstance(m, FileTransfer):
                job.transfer = m.bytes / max(m.total, 1)
            elif m.status == "error":
                job.status, job.error = "error", m.error or ""
            else:
                job.done, job.windows = given(m.done, job.done), given(m.windows, job.windows)
                job.t_end, job.duration_s = given(m.t_end, job.t_end), given(m.duration_s, job.duration_s)
                job.eta_s, job.events = m.eta_s, job.events + (m.events or 0)
                if m.status == "done":
                    job.status = "done"
                elif m.status == "running" and (not job.marks or job.done > job.marks[-1][1]):
                    job.marks.append((time.monotonic(), job.done))
            job.updated = time.time()

    def close(self) -> None:
        self._stop.set()
        self.queue.put(None)
        self.worker.join(timeout=5)
        self.graph.close()


def _short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def remove_partial_uploads(uploads: Path) -> None:
    for part in uploads.glob("*.part"):
        part.unlink(missing_ok=True)
