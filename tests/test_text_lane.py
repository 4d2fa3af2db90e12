"""Text lane: de-duplication of readings across frames and windows (pure, synthetic readings), and a real clip with
signs drawn on a real photo, ingested through the real pipeline with Tesseract reading it."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from orchestrator.config import IngestConfig
from orchestrator.lanes.base import AssemblyContext
from orchestrator.lanes.text import TextLane, TextReading, TextResult
from orchestrator.windows import Window

SIGNS = (("NO PARKING", 0.0, 15.0), ("PLATFORM 7", 15.0, 30.0))


def _reading(text: str, box=(0.2, 0.2, 0.6, 0.3), conf: float = 90.0) -> TextReading:
    return TextReading(text, [(w, conf) for w in text.split()], box)


def _assemble_all(windows: list[tuple[float, float, list[tuple[float, list[TextReading]]]]]):
    lane = TextLane()
    state = lane.new_state(IngestConfig())
    events = []
    for i, (t0, t1, frames) in enumerate(windows):
        ctx = AssemblyContext(info=None, window=Window(i, t0, t1), config=IngestConfig(), is_last=i == len(windows) - 1, state=state)
        out = lane.assemble(TextResult([t for t, _ in frames], [r for _, r in frames]), ctx)
        events += [(i, e) for e in out.events]
    return events


def test_one_sign_read_noisily_across_windows_is_one_event_with_its_span():
    noisy = ["NO PARKING", "NO PARKlNG", "N0 PARKING", "NO PARKING", "PARKING", "NO PARKING"]
    frames = [(float(t), [_reading(noisy[t % len(noisy)])]) for t in range(0, 50)]  # seen 0..49 s, windows of 20 s
    windows = [
        (0.0, 20.0, [f for f in frames if f[0] < 20]),
        (20.0, 40.0, [f for f in frames if 20 <= f[0] < 40]),
        (40.0, 60.0, [f for f in frames if f[0] >= 40]),
    ]
    events = _assemble_all(windows)
    assert len(events) == 1
    window, e = events[0]
    assert window == 2 and e.kind == "text" and e.label == "NO PARKING" and e.text == "NO PARKING"
    assert (e.t_start, e.t_end) == (0.0, 49.0)
    assert e.id == "text-00000-000" and e.attrs["frames"] == 50 and e.attrs["box"] == [0.2, 0.2, 0.6, 0.3]
    assert e.attrs["confidence_words"] == [["NO", 90.0], ["PARKING", 90.0]]
    assert e.describe() == 'text "NO PARKING" on screen from 00:00 to 00:49'


def test_texts_close_when_unseen_and_ids_are_deterministic():
    frames = [(float(t), [_reading("NO PARKING")]) for t in range(0, 6)]
    frames += [(float(t), [_reading("PLATFORM 7", (0.5, 0.6, 0.8, 0.7))]) for t in range(8, 30)]
    frames += [(float(t), [_reading("EXIT")]) for t in (33.0,)]  # read once: not an event
    frames += [(float(t), [_reading("NO PARKING")]) for t in range(34, 38)]  # back after 29 s: a new sighting
    windows = [(0.0, 20.0, [f for f in frames if f[0] < 20]), (20.0, 40.0, [f for f in frames if f[0] >= 20])]
    first = _assemble_all(windows)
    again = _assemble_all(windows)
    assert [(w, e.id, e.label, e.t_start, e.t_end) for w, e in first] == [(w, e.id, e.label, e.t_start, e.t_end) for w, e in again]
    got = [(w, e.id, e.label, e.t_start, e.t_end) for w, e in first]
    assert got == [
        (0, "text-00000-000", "NO PARKING", 0.0, 5.0),  # closed inside window 0 (not seen for 4 s)
        (1, "text-00000-001", "PLATFORM 7", 8.0, 29.0),
        (1, "text-00001-001", "NO PARKING", 34.0, 37.0),
    ]  # text-00001-000 was EXIT, read once


def test_without_tesseract_the_lane_reads_nothing_and_warns_once(monkeypatch, caplog):
    from orchestrator.lanes import text
    from orchestrator.lanes.base import VideoMedia
    from orchestrator.sampling import FrameDecision

    monkeypatch.setattr(text.shutil, "which", lambda name: None)
    monkeypatch.setattr(text, "_ENGINE", {})
    frame = np.zeros((36, 64, 3), np.uint8)
    media = VideoMedia([FrameDecision(0.0, True, "first", 0.0, 0.0)], [frame], "test")
    with caplog.at_level("WARNING", logger=text.__name__):
        results = [TextLane().analyse(None, media, None) for _ in range(3)]
    assert all(r.times == [] and r.skipped for r in results)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "apt-get install tesseract-ocr tesseract-ocr-eng" in warnings[0].getMessage()


def _sign_clip(out: Path, photo: Path, duration_s: float = 30.0, fps: int = 10, size=(640, 360)) -> None:
    """A real photo with a slow camera drift, and a sign (white plate, black words) on it: each of ``SIGNS`` in turn."""
    w, h = size
    img = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    big = cv2.resize(img, (w + 80, h + 45), interpolation=cv2.INTER_AREA)
    with av.open(str(out), "w") as container:
        vs = container.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"g": str(fps * 2), "preset": "veryfast"}
        for i in range(int(duration_s * fps)):
            t = i / fps
            dx = int(40 + 30 * np.sin(t / 5.0))
            frame = np.ascontiguousarray(big[20 : 20 + h, dx : dx + w])
            text = next(s for s, a, b in SIGNS if a <= t < b)
            x0, y0 = 140 + dx // 4, 60
            cv2.rectangle(frame, (x0, y0), (x0 + 300, y0 + 70), (245, 245, 240), -1)
            cv2.rectangle(frame, (x0, y0), (x0 + 300, y0 + 70), (40, 40, 40), 3)
            cv2.putText(frame, text, (x0 + 18, y0 + 48), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (10, 10, 10), 3, cv2.LINE_AA)
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for packet in vs.encode(vf):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed (scripts/setup.sh installs it)")
def test_signs_in_a_real_clip_are_two_text_events_with_their_spans(media_dir, services, tmp_path):
    from orchestrator.graph import EventGraph
    from orchestrator.pipeline import Ingestor, database_path

    clip = tmp_path / "signs.mp4"
    _sign_clip(clip, media_dir / "bus.jpg")
    summary = Ingestor(tmp_path / "home", services, IngestConfig(lanes=("motion", "text"))).ingest(clip)
    with EventGraph(database_path(tmp_path / "home"), read_only=True) as g:
        texts = sorted((e for e in g.events(summary.video_id) if e["kind"] == "text"), key=lambda e: e["t_start"])
    print([(e["label"], e["t_start"], e["t_end"], e["attrs"]["frames"], e["attrs"]["box"]) for e in texts])

    def on_sign(e) -> bool:  # the sign's plate: x 0.22..0.72, y 0.17..0.36 of the frame as the camera drifts (a reading may run over its edge)
        x1, y1, x2, y2 = e["attrs"]["box"]
        return x1 >= 0.15 and x2 <= 0.8 and y1 >= 0.12 and y2 <= 0.42

    signs = [e for e in texts if on_sign(e)]
    assert [e["label"].upper() for e in signs] == [s for s, _, _ in SIGNS]  # each sign once, for its whole span
    for e, (_, t0, t1) in zip(signs, SIGNS):
        assert abs(e["t_start"] - t0) <= 1.5 and abs(e["t_end"] - t1) <= 2.0
        assert e["text"] == e["label"] and e["attrs"]["frames"] >= 5 and e["confidence"] >= 0.8
        assert (e["attrs"]["board_colour"], e["attrs"]["letter_colour"]) == ("white", "black")  # a white plate, black words
    # anything else read is the photo's own text (the bus's route number), never a piece of the sign
    assert all(not set(e["label"].upper().split()) & {"NO", "PARKING", "PLATFORM", "7"} for e in texts if not on_sign(e))
