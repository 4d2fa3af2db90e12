"""Generated clips with exact ground truth: a person crossing the frame, speech at a known time,
a tone at a known time. Real pixels (a person cut from a real photo) and real speech (espeak-ng),
so the real detector and the real ASR must find them.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from scipy.signal import resample_poly

RATE = 16000


@dataclass(frozen=True)
class GroundTruth:
    duration_s: float
    person: tuple[float, float]  # visible from, to
    speech: tuple[float, float]
    speech_text: str
    tone: tuple[float, float]
    tone_hz: float
    cut_at: float  # the background changes here: a scene cut


def synth_speech(text: str, workdir: Path) -> np.ndarray:
    wav = workdir / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(wav), text], check=True, capture_output=True)
    with wave.open(str(wav)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    return resample_poly(pcm, RATE, rate).astype(np.float32)


def person_sprite(photo: Path, box: tuple[int, int, int, int], height: int) -> np.ndarray:
    img = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    x1, y1, x2, y2 = box
    crop = img[y1:y2, x1:x2]
    scale = height / crop.shape[0]
    return cv2.resize(crop, (int(crop.shape[1] * scale), height), interpolation=cv2.INTER_AREA)


def make_ground_truth_clip(
    out: Path,
    photo: Path,
    person_box: tuple[int, int, int, int],
    workdir: Path,
    duration_s: float = 40.0,
    fps: int = 10,
    size: tuple[int, int] = (640, 360),
    person: tuple[float, float] = (4.0, 12.0),
    speech_at: float = 18.5,
    speech_text: str = "The red car is parked near the old railway station.",
    tone: tuple[float, float] = (30.0, 31.0),
    tone_hz: float = 1000.0,
    cut_at: float = 25.0,
    person_x: float | None = None,  # stand still at this fraction of the width instead of walking across
    person_hidden: tuple[float, float] | None = None,  # not drawn during this span (an occlusion)
) -> GroundTruth:
    w, h = size
    sprite = person_sprite(photo, person_box, int(h * 0.8))
    sh, sw = sprite.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    bg_a = np.stack([80 + 60 * xx / w, 90 + 40 * yy / h, 110 + 0 * xx], axis=-1).astype(np.uint8)
    bg_b = np.stack([150 + 0 * xx, 120 + 50 * yy / h, 60 + 60 * xx / w], axis=-1).astype(np.uint8)

    speech = synth_speech(speech_text, workdir)
    audio = (np.random.default_rng(0).standard_normal(int(duration_s * RATE)) * 0.001).astype(np.float32)
    s0 = int(speech_at * RATE)
    audio[s0 : s0 + len(speech)] += speech[: len(audio) - s0] * 0.8
    t0, t1 = int(tone[0] * RATE), int(tone[1] * RATE)
    audio[t0:t1] += 0.3 * np.sin(2 * np.pi * tone_hz * np.arange(t1 - t0) / RATE).astype(np.float32)
    speech_end = speech_at + len(speech) / RATE

    with av.open(str(out), "w") as container:
        vs = container.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"g": str(fps * 2), "preset": "veryfast"}
        as_ = container.add_stream("aac", rate=RATE)
        as_.layout = "mono"
        for i in range(int(duration_s * fps)):
            t = i / fps
            frame = (bg_a if t < cut_at else bg_b).copy()
            hidden = person_hidden is not None and person_hidden[0] <= t < person_hidden[1]
            if person[0] <= t < person[1] and not hidden:
                x = int(person_x * (w - sw)) if person_x is not None else int((t - person[0]) / (person[1] - person[0]) * (w - sw))
                y = h - sh - 10
                frame[y : y + sh, x : x + sw] = sprite
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for packet in vs.encode(vf):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        chunk = 1024
        for i in range(0, len(audio), chunk):
            af = av.AudioFrame.from_ndarray(audio[None, i : i + chunk], format="flt", layout="mono")
            af.sample_rate = RATE
            af.pts = i
            af.time_base = Fraction(1, RATE)
            for packet in as_.encode(af):
                container.mux(packet)
        for packet in as_.encode():
            container.mux(packet)
    return GroundTruth(duration_s, person, (speech_at, round(speech_end, 3)), speech_text, tone, tone_hz, cut_at)
