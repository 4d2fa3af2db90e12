"""Build the held-out evaluation clips, with exact ground truth.

    python tests/eval/heldout/make_clips.py [OUT_DIR]

OUT_DIR defaults to $VDET_TEST_MEDIA/heldout ($VDET_TEST_MEDIA defaults to
~/.cache/video-detective/test-media). The real photos the people are cut from (zidane.jpg,
bus.jpg) come from the test media (fetched if missing, as the test suite does).

Every clip is built like tests/media_factory.py builds its clip: real pixels (people cut from real
photos, moved over a drawn background), real speech (espeak-ng, text chosen here), and sounds
synthesised here with numpy (phone ring, alarm clock, siren, bang, knocks, music chords). The
times of everything are fixed below; the times speech ends depend on espeak-ng's voice, so they
are measured when the clip is built and written, with everything else, to OUT_DIR/truth.json.

The build is deterministic: fixed random seeds, single-threaded encoders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

REPO = Path(__file__).resolve().parents[3]
RATE = 16000

# people in the real photos of the test media: (photo, box x1, y1, x2, y2)
SUITED_MAN = ("zidane.jpg", (700, 40, 1150, 720))  # grey-haired man, dark suit, white shirt, tie
BEIGE_COAT_MAN = ("bus.jpg", (48, 392, 248, 905))  # man in a cream/beige fleece coat and blue jeans
BLACK_COAT_MAN = ("bus.jpg", (215, 400, 350, 865))  # man in a black coat over a red top, blue jeans


# ---------------------------------------------------------------- sounds


def tone(freq: float, dur: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(dur * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def fade(x: np.ndarray, ms: float = 10.0) -> np.ndarray:
    n = min(int(ms / 1000 * RATE), len(x) // 2)
    if n:
        ramp = np.linspace(0, 1, n, dtype=np.float32)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def phone_ring_burst(dur: float = 2.0, amp: float = 0.3) -> np.ndarray:
    """One ring of a telephone: two tones (950/1150 Hz) alternating 16 times a second (the warble)."""
    t = np.arange(int(dur * RATE)) / RATE
    hi = (np.floor(t * 32) % 2).astype(bool)
    freq = np.where(hi, 1150.0, 950.0)
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    x = np.sin(phase) + 0.3 * np.sin(2 * phase)
    return fade((amp * x / 1.3).astype(np.float32), 5)


def alarm_beep(dur: float = 0.5, freq: float = 3000.0, amp: float = 0.3) -> np.ndarray:
    """One beep of an alarm clock: a 3 kHz tone chopped at 8 Hz (bip-bip-bip inside each beep)."""
    t = np.arange(int(dur * RATE)) / RATE
    gate = ((t * 8) % 1 < 0.6).astype(np.float32)
    x = np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(2 * np.pi * 2 * freq * t)
    return fade((amp * gate * x / 1.2).astype(np.float32), 3)


def siren(dur: float, lo: float = 650.0, hi: float = 1450.0, period: float = 3.0, amp: float = 0.3) -> np.ndarray:
    """An emergency-vehicle wail: a tone sweeping between lo and hi Hz and back every `period` s."""
    t = np.arange(int(dur * RATE)) / RATE
    freq = lo + (hi - lo) * 0.5 * (1 - np.cos(2 * np.pi * t / period))
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    x = np.sin(phase) + 0.25 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase)
    return fade((amp * x / 1.35).astype(np.float32), 200)


def bang(seed: int = 1, amp: float = 0.9) -> np.ndarray:
    """A single loud bang: broadband noise with a sharp attack and a 60 ms decay, plus a low thump."""
    rng = np.random.default_rng(seed)
    n = int(0.5 * RATE)
    t = np.arange(n) / RATE
    noise = rng.standard_normal(n) * np.exp(-t / 0.06)
    thump = np.sin(2 * np.pi * 70 * t) * np.exp(-t / 0.12)
    x = noise + 1.5 * thump
    return (amp * x / np.abs(x).max()).astype(np.float32)


def knock(seed: int, amp: float = 0.6) -> np.ndarray:
    """One knock on a door: band-passed (150-1500 Hz) noise with a 15 ms decay."""
    rng = np.random.default_rng(seed)
    n = int(0.15 * RATE)
    t = np.arange(n) / RATE
    sos = butter(2, [150, 1500], btype="bandpass", fs=RATE, output="sos")
    x = sosfilt(sos, rng.standard_normal(n)) * np.exp(-t / 0.015)
    return (amp * x / np.abs(x).max()).astype(np.float32)


CHORDS = {  # root-position triads, Hz
    "C": (261.63, 329.63, 392.00),
    "F": (349.23, 440.00, 523.25),
    "G": (392.00, 493.88, 587.33),
    "Am": (220.00, 261.63, 329.63),
    "Dm": (293.66, 349.23, 440.00),
}


def music(progression: list[str], chord_s: float = 4.0, amp: float = 0.25) -> np.ndarray:
    """Sustained chords, one every `chord_s` seconds, each note with a few harmonics (organ-like)."""
    out = []
    for name in progression:
        t = np.arange(int(chord_s * RATE)) / RATE
        x = np.zeros_like(t)
        for f in CHORDS[name]:
            for k, a in ((1, 1.0), (2, 0.4), (3, 0.2), (4, 0.1)):
                x += a * np.sin(2 * np.pi * f * k * t)
            x += 0.5 * np.sin(2 * np.pi * f / 2 * t)  # bass an octave down
        env = np.minimum(1.0, t / 0.08) * np.minimum(1.0, (chord_s - t) / 0.15)
        out.append(fade((amp * env * x / np.abs(x).max()).astype(np.float32), 20))
    return np.concatenate(out)


def speech(text: str, voice: str, workdir: Path) -> np.ndarray:
    wav = workdir / "speech.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(wav), text], check=True, capture_output=True)
    with wave.open(str(wav)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    pcm = resample_poly(pcm, RATE, rate).astype(np.float32)
    # trim espeak's leading/trailing silence so the recorded times are the times words are heard
    loud = np.flatnonzero(np.abs(pcm) > 0.01)
    return pcm[loud[0] : loud[-1] + 1] * 0.8


# ---------------------------------------------------------------- pictures


def gradient(w: int, h: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> np.ndarray:
    a = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = (1 - a) * np.array(top, np.float32) + a * np.array(bottom, np.float32)
    return np.repeat(img, w, axis=1).astype(np.uint8)


def street(w: int, h: int, evening: bool = False) -> np.ndarray:
    sky = ((120, 160, 210), (190, 210, 230)) if not evening else ((70, 60, 110), (230, 140, 80))
    img = gradient(w, h, *sky)
    horizon = int(h * 0.55)
    img[horizon:] = gradient(w, h - horizon, (110, 110, 110), (70, 70, 75))
    img[horizon : horizon + 6] = (200, 200, 200)  # kerb
    for x in range(0, w, 80):  # lane marks
        img[int(h * 0.85) : int(h * 0.85) + 4, x : x + 40] = (230, 230, 230)
    return img


def sign(img: np.ndarray, lines: list[str], board: tuple[int, int, int], ink: tuple[int, int, int]) -> np.ndarray:
    """A board with big text, centred in the upper part of the frame (RGB colours)."""
    h, w = img.shape[:2]
    out = img.copy()
    x1, y1, x2, y2 = int(w * 0.12), int(h * 0.08), int(w * 0.88), int(h * 0.62)
    cv2.rectangle(out, (x1, y1), (x2, y2), board, -1)
    cv2.rectangle(out, (x1, y1), (x2, y2), (40, 40, 40), 3)
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 1.6 * w / 640, max(2, int(4 * w / 640))
    widest = max(cv2.getTextSize(s, font, scale, thick)[0][0] for s in lines)
    scale *= min(1.0, 0.88 * (x2 - x1) / widest)  # long lines get smaller letters, with a margin
    sizes = [cv2.getTextSize(s, font, scale, thick)[0] for s in lines]
    gap = int(20 * h / 360)
    total = sum(s[1] for s in sizes) + gap * (len(lines) - 1)
    y = (y1 + y2) // 2 - total // 2
    for s, (tw, th) in zip(lines, sizes):
        y += th
        cv2.putText(out, s, ((x1 + x2) // 2 - tw // 2, y), font, scale, ink, thick, cv2.LINE_AA)
        y += gap
    return out


def load_sprite(media: Path, who: tuple[str, tuple[int, int, int, int]], height: int) -> np.ndarray:
    photo, (x1, y1, x2, y2) = who
    img = cv2.cvtColor(cv2.imread(str(media / photo)), cv2.COLOR_BGR2RGB)
    crop = img[y1:y2, x1:x2]
    scale = height / crop.shape[0]
    return cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------- scenes


@dataclass
class Person:
    who: tuple[str, tuple[int, int, int, int]]
    start: float
    end: float
    direction: str = "left_to_right"  # or right_to_left, or standing
    stand_x: float = 0.5  # for standing: fraction of the free width
    label: str = ""


@dataclass
class Clip:
    name: str
    duration_s: float
    fps: int = 10
    size: tuple[int, int] = (640, 360)
    backgrounds: list[tuple[float, str]] = field(default_factory=list)  # (from t, background name)
    signs: list[tuple[float, float, list[str], tuple, tuple, str, str]] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    speech: list[tuple[float, str, str]] = field(default_factory=list)  # (at, text, voice)
    sounds: list[tuple[str, float, dict]] = field(default_factory=list)  # (kind, at, params)
    audio_bitrate: int = 64000
    notes: str = ""


def backgrounds_for(w: int, h: int) -> dict[str, np.ndarray]:
    return {
        "office": gradient(w, h, (95, 110, 135), (150, 160, 175)),
        "street": street(w, h),
        "street_evening": street(w, h, evening=True),
        "garage": gradient(w, h, (120, 95, 70), (70, 55, 45)),
        "station": gradient(w, h, (150, 150, 160), (90, 95, 100)),
        "night": np.full((h, w, 3), 14, np.uint8),
    }


SOUNDS = {
    "phone ring": lambda **p: phone_ring_burst(p.get("dur", 2.0)),
    "alarm beep": lambda **p: alarm_beep(),
    "siren": lambda **p: siren(p["dur"]),
    "bang": lambda **p: bang(),
    "knock": lambda **p: knock(p.get("seed", 0)),
    "music": lambda **p: music(p["chords"]),
}


def build(clip: Clip, media: Path, out_dir: Path, workdir: Path) -> dict:
    w, h = clip.size
    n_audio = int(round(clip.duration_s * RATE))
    segments: list[tuple[int, np.ndarray]] = []
    truth: dict = {
        "file": clip.name,
        "duration_s": clip.duration_s,
        "fps": clip.fps,
        "size": list(clip.size),
        "notes": clip.notes,
        "speech": [],
        "sounds": [],
        "people": [],
        "scenes": [],
        "signs": [],
    }
    for at, text, voice in clip.speech:
        pcm = speech(text, voice, workdir)
        segments.append((int(at * RATE), pcm))
        truth["speech"].append({"start": at, "end": round(at + len(pcm) / RATE, 2), "text": text, "voice": voice})
    for kind, at, params in clip.sounds:
        pcm = SOUNDS[kind](**params)
        segments.append((int(at * RATE), pcm))
        truth["sounds"].append({"kind": kind, "start": at, "end": round(at + len(pcm) / RATE, 2)})
    spans = sorted((s["start"], s["end"], s.get("text", s.get("kind"))) for s in truth["speech"] + truth["sounds"])
    for (a0, a1, an), (b0, b1, bn) in zip(spans, spans[1:]):
        assert a1 <= b0, f"{clip.name}: {an!r} ({a0}-{a1}) overlaps {bn!r} ({b0}-{b1})"
    assert spans[-1][1] <= clip.duration_s, f"{clip.name}: audio runs past the end"

    bgs = backgrounds_for(w, h)
    scene_list = sorted(clip.backgrounds)
    for i, (t0, name) in enumerate(scene_list):
        t1 = scene_list[i + 1][0] if i + 1 < len(scene_list) else clip.duration_s
        truth["scenes"].append({"start": t0, "end": t1, "background": name})
    sign_imgs = []
    for t0, t1, lines, board, ink, board_name, ink_name in clip.signs:
        sign_imgs.append((t0, t1, lines))
        truth["signs"].append({"start": t0, "end": t1, "text": lines, "board": board_name, "ink": ink_name})
    sprites = []
    for p in clip.people:
        sp = load_sprite(media, p.who, int(h * 0.8))
        if p.direction == "right_to_left":
            sp = sp[:, ::-1].copy()
        sprites.append((p, sp))
        truth["people"].append({"start": p.start, "end": p.end, "direction": p.direction, "label": p.label, "photo": p.who[0]})

    def background_at(t: float) -> tuple[str, np.ndarray]:
        name = [n for t0, n in scene_list if t0 <= t][-1]
        base = bgs[name]
        for (t0, t1, lines), s in zip(sign_imgs, clip.signs):
            if t0 <= t < t1:
                key = (name, tuple(lines))
                if key not in cache:
                    cache[key] = sign(base, lines, s[3], s[4])
                return str(key), cache[key]
        return name, base

    cache: dict = {}
    out_path = out_dir / clip.name
    tmp_path = out_dir / (clip.name + ".part.mp4")
    rng = np.random.default_rng(0)
    with av.open(str(tmp_path), "w") as container:
        vs = container.add_stream("libx264", rate=clip.fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"g": str(clip.fps * 2), "preset": "veryfast", "threads": "1"}
        as_ = container.add_stream("aac", rate=RATE)
        as_.layout = "mono"
        as_.bit_rate = clip.audio_bitrate
        n_frames = int(round(clip.duration_s * clip.fps))
        a_pos = 0
        chunk = 1024
        for i in range(n_frames):
            t = i / clip.fps
            _, frame = background_at(t)
            drawn = False
            for p, sp in sprites:
                if p.start <= t < p.end:
                    if not drawn:
                        frame = frame.copy()
                        drawn = True
                    sh, sw = sp.shape[:2]
                    frac = (t - p.start) / (p.end - p.start)
                    if p.direction == "standing":
                        frac = p.stand_x
                    elif p.direction == "right_to_left":
                        frac = 1 - frac
                    x = int(frac * (w - sw))
                    y = h - sh - int(h * 0.03)
                    frame[y : y + sh, x : x + sw] = sp
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            vf.time_base = Fraction(1, clip.fps)
            for packet in vs.encode(vf):
                container.mux(packet)
            # audio up to this frame's end, in encoder-sized chunks, made on the fly (long clips stay small in memory)
            a_until = min(n_audio, int(round((i + 1) / clip.fps * RATE)))
            while a_pos < a_until or (i == n_frames - 1 and a_pos < n_audio):
                n = min(chunk, n_audio - a_pos)
                buf = (rng.standard_normal(n) * 0.001).astype(np.float32)
                for s0, pcm in segments:
                    lo, hi = max(a_pos, s0), min(a_pos + n, s0 + len(pcm))
                    if lo < hi:
                        buf[lo - a_pos : hi - a_pos] += pcm[lo - s0 : hi - s0]
                af = av.AudioFrame.from_ndarray(np.clip(buf, -1, 1)[None, :], format="flt", layout="mono")
                af.sample_rate = RATE
                af.pts = a_pos
                af.time_base = Fraction(1, RATE)
                for packet in as_.encode(af):
                    container.mux(packet)
                a_pos += n
        for packet in vs.encode():
            container.mux(packet)
        for packet in as_.encode():
            container.mux(packet)
    tmp_path.replace(out_path)
    return truth


# ---------------------------------------------------------------- the clips


def clips() -> list[Clip]:
    ring = lambda at: ("phone ring", at, {})  # noqa: E731
    beeps = lambda at: [("alarm beep", at + k, {}) for k in range(6)]  # noqa: E731
    return [
        Clip(
            "office_call.mp4",
            90.0,
            backgrounds=[(0.0, "office")],
            people=[Person(SUITED_MAN, 6.0, 16.0, "left_to_right", label="grey-haired man in a dark suit")],
            speech=[
                (2.0, "Good morning everyone. This is the weekly report from the north office.", "en-us"),
                (38.0, "Hello, yes, this is Maria. I will call you back after lunch.", "en-us+f3"),
                (60.0, "Sorry about that alarm. The budget meeting is moved to Thursday at three o'clock.", "en-us"),
                (75.0, "Please bring the blue folder and your laptop. That is all for today.", "en-us"),
            ],
            sounds=[ring(20.0), ring(26.0), ring(32.0), *beeps(50.0)],
            notes="Narration, a telephone ringing three times (2 s on, 4 s off), a woman answering, "
            "an alarm clock (6 beeps 1 s apart), two more announcements. One man walks across early on.",
        ),
        Clip(
            "street_siren.mp4",
            100.0,
            backgrounds=[(0.0, "street"), (50.0, "street_evening")],
            people=[
                Person(SUITED_MAN, 8.0, 20.0, "left_to_right", label="grey-haired man in a dark suit"),
                Person(BEIGE_COAT_MAN, 58.0, 70.0, "right_to_left", label="man in a beige coat and blue jeans"),
            ],
            speech=[
                (24.0, "It is a very quiet morning on Baker Street.", "en-gb"),
                (78.0, "Did you see that ambulance? It was going really fast toward the hospital.", "en-gb"),
            ],
            sounds=[("siren", 35.0, {"dur": 10.0})],
            notes="A street; a man walks left to right, a siren wails for 10 s, the light turns to evening "
            "(scene cut at 50 s), a second man walks right to left, a comment about the ambulance.",
        ),
        Clip(
            "garage_bang.mp4",
            60.0,
            backgrounds=[(0.0, "garage")],
            people=[Person(BLACK_COAT_MAN, 40.0, 56.0, "standing", stand_x=0.6, label="man in a black coat")],
            speech=[
                (3.0, "I am going to check the garage door now.", "en-us"),
                (17.0, "What was that? I think a box fell off the top shelf.", "en-us"),
                (36.0, "Come in, the door is open.", "en-us"),
                (45.0, "Thanks. I brought the spare keys you asked for.", "en-gb"),
            ],
            sounds=[("bang", 15.0, {}), ("knock", 32.0, {"seed": 1}), ("knock", 32.5, {"seed": 2}), ("knock", 33.0, {"seed": 3})],
            notes="Speech, one loud bang, speech about it, three knocks, 'come in', a man appears and speaks.",
        ),
        Clip(
            "station_sign.mp4",
            75.0,
            backgrounds=[(0.0, "station"), (30.0, "station")],
            signs=[
                (0.0, 30.0, ["NO PARKING", "TOW AWAY ZONE"], (200, 20, 20), (255, 255, 255), "red", "white"),
                (30.0, 75.0, ["PLATFORM 7", "TRAINS TO OXFORD"], (250, 210, 0), (0, 0, 0), "yellow", "black"),
            ],
            speech=[
                (4.0, "Attention please. Do not leave your car in front of the gate.", "en-gb"),
                (62.0, "The next train to Oxford leaves from platform seven at ten fifteen.", "en-gb"),
            ],
            sounds=[("music", 34.0, {"chords": ["C", "Am", "F", "G", "C", "F"]})],
            notes="A red sign (NO PARKING / TOW AWAY ZONE) until 30 s, then a yellow one (PLATFORM 7 / "
            "TRAINS TO OXFORD); organ-like chords for 24 s; two announcements. Nobody is in view.",
        ),
        Clip(
            "night_watch_long.mp4",
            3930.0,
            fps=2,
            size=(320, 180),
            backgrounds=[(0.0, "night")],
            people=[Person(SUITED_MAN, 3660.0, 3680.0, "left_to_right", label="grey-haired man in a dark suit")],
            speech=[
                (10.0, "Recording started. Camera one is online.", "en-us"),
                (1800.0, "Half hour check. Nothing to report.", "en-us"),
                (3690.0, "A delivery truck has arrived at the loading dock.", "en-us"),
                (3765.0, "The driver is unloading twelve boxes.", "en-us"),
                (3850.0, "End of shift. Camera one is going offline.", "en-us"),
            ],
            sounds=beeps(3810.0),
            audio_bitrate=24000,
            notes="65.5 minutes of a dark, still camera view (2 fps, 320x180); a few remarks at known times, "
            "a man walks across at 1:01:00-1:01:20, an alarm beeps six times at 1:03:30.",
        ),
    ]


def main(argv: list[str]) -> int:
    media = Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media"))
    out_dir = Path(argv[0]) if argv else media / "heldout"
    out_dir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    from orchestrator import weights

    weights.fetch_test_media(media, log=lambda *_: None)
    only = set(argv[1:])
    truth_path = out_dir / "truth.json"
    truths = json.loads(truth_path.read_text()) if truth_path.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="heldout-") as tmp:
        for clip in clips():
            if only and clip.name not in only:
                continue
            print(f"building {clip.name} ({clip.duration_s:.0f} s)", flush=True)
            truths[clip.name] = build(clip, media, out_dir, Path(tmp))
    truth_path.write_text(json.dumps(truths, indent=1) + "\n")
    print(f"clips and truth.json in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
