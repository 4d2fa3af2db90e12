"""Key-frame thumbnails of events, for the events table, the timeline's hover card and the library search's results.

An event's key frame is the one retrieval shows a VLM: an object's best (most confident) sighting
(``attrs["best_t"]``), otherwise the middle of the event. Thumbnails are small JPEG files under
``<home>/thumbs/<video_id>/`` named by the key time in milliseconds (rounded to half a second, so
events at the same moment share one), made by one background thread that opens each video once per
batch; the page shows what exists and redraws as more are made.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from orchestrator.events import Event
from orchestrator.media import FrameReader, MediaError, probe

log = logging.getLogger(__name__)
SIDE = 240  # longer side in pixels: sharp at the table's and the hover card's size on a 2x screen
STEP_S = 0.5  # key times are rounded to this


def key_time(event: Event) -> float:
    """When an event's key frame is: an object's best sighting, else the middle of the event (just after a cut)."""
    best = event.attrs.get("best_t") if event.attrs else None
    if best is not None:
        t = float(best)
    elif event.kind == "scene_cut":
        t = event.t_start + 0.3
    else:
        t = (event.t_start + event.t_end) / 2
    return round(round(t / STEP_S) * STEP_S, 3)


class Thumbnails:
    """Makes and finds thumbnails; ``request`` queues the missing ones, ``path`` says where one is if it is made."""

    def __init__(self, root: Path, side: int = SIDE):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.side = side
        self._queue: queue.Queue[tuple[str, str, tuple[float, ...]] | None] = queue.Queue()
        self._pending: set[tuple[str, float]] = set()
        self._no_video: set[str] = set()
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="thumbnails", daemon=True)
        self._worker.start()

    def file(self, video_id: str, t: float) -> Path:
        return self.root / video_id / f"{int(round(t * 1000)):09d}.jpg"

    def path(self, video_id: str, event: Event) -> Path | None:
        """The event's thumbnail file when it has been made, else None."""
        f = self.file(video_id, key_time(event))
        return f if f.is_file() else None

    def ready(self, video_id: str) -> int:
        """How many thumbnails of the video exist (the page redraws when this grows)."""
        folder = self.root / video_id
        return sum(1 for _ in folder.glob("*.jpg")) if folder.is_dir() else 0

    def pending(self, video_id: str) -> bool:
        """Whether thumbnails of the video are still queued or being made."""
        with self._lock:
            return any(v == video_id for v, _ in self._pending)

    def version(self, video_id: str) -> str:
        """Changes when the page should redraw with new thumbnails: every 25 made, and once none is left to make
        (so a long video's table is not redrawn for each one)."""
        return f"{self.ready(video_id) // 25}{'+' if self.pending(video_id) else ''}"

    def request(self, video_id: str, media_path: str | None, events: list[Event]) -> int:
        """Queue the thumbnails still missing for ``events``; returns how many were queued."""
        if not media_path or video_id in self._no_video:
            return 0
        with self._lock:
            times = sorted({key_time(e) for e in events} - {t for v, t in self._pending if v == video_id})
            times = [t for t in times if not self.file(video_id, t).is_file()]
            self._pending.update((video_id, t) for t in times)
        if times:
            self._queue.put((video_id, media_path, tuple(times)))
        return len(times)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Whether every queued thumbnail was made (or given up on) within ``timeout_s``; for tests and shutdown."""
        import time  # noqa: PLC0415

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and self._queue.empty():
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._queue.put(None)

    def _work(self) -> None:
        import cv2  # noqa: PLC0415

        while True:
            item = self._queue.get()
            if item is None:
                return
            video_id, media_path, times = item
            try:
                info = probe(media_path)
                if not info.has_video:
                    self._no_video.add(video_id)
                    continue
                reader = FrameReader(info, max_side=self.side, backend="decord")
                (self.root / video_id).mkdir(parents=True, exist_ok=True)
                for t in times:
                    target = self.file(video_id, t)
                    for _, rgb in reader.read(max(0.0, t - 0.25), t + 0.75, fps=2):
                        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
                        if ok:
                            tmp = target.with_suffix(".part")
                            tmp.write_bytes(buf.tobytes())
                            tmp.rename(target)  # never a half-written thumbnail under its final name
                        break
            except (MediaError, OSError) as exc:
                log.info("thumbnails of %s: %s", video_id, exc)
            except Exception:  # noqa: BLE001 - a thumbnail is never worth the page
                log.exception("thumbnails of %s failed", video_id)
            finally:
                with self._lock:
                    self._pending.difference_update((video_id, t) for t in times)
