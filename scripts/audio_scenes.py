"""Scenes with exact ground truth, mixed from the real recordings of ``audio_corpus.py``.

A *clean* scene is one clip alone between stretches of silence. A *mixed* scene puts a few
clips of different classes into a real background (city street, rain, wind, a conversation,
or silence) at known onsets and levels. Every scene is 16 kHz mono WAV with a truth JSON beside it:

    {"scene", "split", "duration_s", "background": {...},
     "sounds": [{"class", "t_start", "t_end", "source_file", "clip_id", "snr_db", "level_db"}],
     "speech": [{"t_start", "t_end", "text", "source_file"}]}

A sound's span is where its clip is audible: the clip is trimmed to where it is within 40 dB of
its peak before it is placed, so ``t_start`` is its real onset. A *walk* scene is one real footstep
(the corpus' step clips are single steps, as games ship them to be repeated) placed 5-8 times at a
walking cadence drawn from 1.5-2.2 steps a second, each interval and level jittered (5 %, 2 dB) —
one ``footsteps`` sound from the first step's onset to the last step's end; alone over silence and
over a noise bed at 10 dB SNR. A *talk* scene puts a signal people hear over a voice (a phone, an
alarm, a siren, a horn, a bell) 5 dB above a speech recording, inside an utterance. Walk and talk
scenes come after the others, so the other scenes are unchanged. Levels are RMS over that span;
``snr_db`` is relative to the background's RMS (None over silence). The same seed gives the
same scenes, bit for bit. Some scenes are also wrapped as MP4 (a black video track) so the
product's ingest reads them as a video.

    python scripts/audio_scenes.py OUT_DIR [--split dev|heldout|all] [--seed 0] [--mixed 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audio_corpus import load_manifest  # noqa: E402

RATE = 16000
TRIM_DB = 40  # a clip's span: where it is within this many dB of its peak
MAX_CLIP_S = 6.0  # long clips (music, applause) are cut to this
BACKGROUND_DB = -30.0  # background RMS, dBFS
CLEAN_DB = -20.0  # clip RMS in clean scenes
SNRS_DB = (0.0, 5.0, 10.0, 20.0)
SILENCE_LEVELS_DB = (-35.0, -28.0, -20.0, -12.0)
WALK_CLASSES = ("footsteps",)  # corpus classes whose clips are one step of a series: walk scenes repeat them
WALK_STEPS = (5, 8)  # steps per walk (inclusive)
WALK_CADENCE_HZ = (1.5, 2.2)  # steps a second: people walk at about 1.6-2.0 (slow 1.4, brisk 2.2)
WALK_SNR_DB = 10.0
# corpus classes of signals people hear over someone talking (a phone rings while a shop assistant speaks): talk scenes
# put each clip inside a speech recording, ``TALK_SNR_DB`` above it
TALK_CLASSES = ("telephone ringing", "alarm", "beep", "siren", "car horn", "bell")
TALK_DB = -25.0
TALK_SNR_DB = 5.0


def load_audio(path: str | Path) -> np.ndarray:
    """Any audio file → float32 mono at 16 kHz (decoded by FFmpeg, which reads every format in the corpus)."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, np.float32).copy()


def rms_db(y: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))) + 1e-12))


def sound_span(y: np.ndarray, max_s: float = MAX_CLIP_S) -> np.ndarray:
    """The audible part of a clip (trimmed at ``TRIM_DB`` below its peak), at most ``max_s`` long."""
    trimmed, _ = librosa.effects.trim(y, top_db=TRIM_DB, frame_length=512, hop_length=128)
    return trimmed[: int(max_s * RATE)]


def _gain_to(y: np.ndarray, target_db: float) -> np.ndarray:
    return (y * 10 ** ((target_db - rms_db(y)) / 20)).astype(np.float32)


@dataclass
class Scene:
    name: str
    split: str
    audio: np.ndarray
    background: dict
    sounds: list[dict] = field(default_factory=list)
    speech: list[dict] = field(default_factory=list)

    def truth(self) -> dict:
        return {
            "scene": self.name,
            "split": self.split,
            "duration_s": round(len(self.audio) / RATE, 3),
            "background": self.background,
            "sounds": self.sounds,
            "speech": self.speech,
        }

    def add_sound(self, rec: dict, t_start: float, level_db: float, snr_db: float | None) -> None:
        clip = _gain_to(sound_span(load_audio(rec["path"])), level_db)
        i = int(round(t_start * RATE))
        clip = clip[: len(self.audio) - i]
        self.audio[i : i + len(clip)] += clip
        self.sounds.append(
            {
                "class": rec["sound"],
                "t_start": round(i / RATE, 3),
                "t_end": round((i + len(clip)) / RATE, 3),
                "source_file": rec["file"],
                "clip_id": rec["id"],
                "level_db": round(level_db, 1),
                "snr_db": None if snr_db is None else round(snr_db, 1),
            }
        )

    def add_walk(self, rec: dict, t_start: float, level_db: float, snr_db: float | None, rng: np.random.Generator) -> None:
        """One step clip repeated at a walking cadence (each step at about ``level_db``): one ``footsteps`` sound."""
        step = _gain_to(sound_span(load_audio(rec["path"])), level_db)
        n = int(rng.integers(WALK_STEPS[0], WALK_STEPS[1] + 1))
        period = 1.0 / float(rng.uniform(*WALK_CADENCE_HZ))
        onsets = t_start + np.r_[0.0, np.cumsum(period * (1 + 0.05 * rng.standard_normal(n - 1)))]
        i0 = int(round(t_start * RATE))
        end = i0
        for at in onsets:
            i = int(round(at * RATE))
            clip = (step * 10 ** (float(rng.uniform(-2, 2)) / 20))[: max(0, len(self.audio) - i)]
            self.audio[i : i + len(clip)] += clip
            end = max(end, i + len(clip))
        self.sounds.append(
            {
                "class": rec["sound"],
                "t_start": round(i0 / RATE, 3),
                "t_end": round(end / RATE, 3),
                "source_file": rec["file"],
                "clip_id": rec["id"],
                "level_db": round(level_db, 1),
                "snr_db": None if snr_db is None else round(snr_db, 1),
                "steps": n,
                "cadence_hz": round(1.0 / period, 2),
            }
        )

    def add_speech(self, rec: dict, t_start: float, level_db: float) -> None:
        """A whole speech recording (not trimmed: its reference segments are timed against the file)."""
        y = load_audio(rec["path"])
        y = _gain_to(y, level_db)[: len(self.audio) - int(t_start * RATE)]
        i = int(round(t_start * RATE))
        self.audio[i : i + len(y)] += y
        segments = rec["segments"]
        if not segments:  # one utterance: its span is where the recording is audible
            _, (a, b) = librosa.effects.trim(y, top_db=TRIM_DB, frame_length=512, hop_length=128)
            segments = [{"t_start": a / RATE, "t_end": b / RATE, "text": rec["transcript"]}]
        for s in segments:
            if i / RATE + s["t_end"] <= len(self.audio) / RATE:
                self.speech.append(
                    {"t_start": round(i / RATE + s["t_start"], 3), "t_end": round(i / RATE + s["t_end"], 3), "text": s["text"], "source_file": rec["file"]}
                )

    def write(self, out_dir: Path, mp4: bool = False) -> Path:
        """``<name>.wav`` (and ``<name>.mp4``) plus ``<name>.json``; returns the JSON's path."""
        out_dir.mkdir(parents=True, exist_ok=True)
        peak = float(np.max(np.abs(self.audio))) if len(self.audio) else 0.0
        audio = self.audio / peak * 0.98 if peak > 0.98 else self.audio  # no clipping; times are unchanged
        wav = out_dir / f"{self.name}.wav"
        sf.write(wav, audio, RATE, subtype="PCM_16")
        truth = self.truth()
        truth["media"] = wav.name
        if mp4:
            video = out_dir / f"{self.name}.mp4"
            subprocess.run(
                [
                    "ffmpeg",
                    "-v",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    f"color=c=black:s=320x240:r=5:d={truth['duration_s']}",
                    "-i",
                    str(wav),
                    "-shortest",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-tune",
                    "stillimage",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "128k",
                    str(video),
                ],
                check=True,
            )
            truth["media"] = video.name
        path = out_dir / f"{self.name}.json"
        path.write_text(json.dumps(truth, indent=1))
        return path


def clean_scene(rec: dict, pad_s: float = 2.0) -> Scene:
    """One clip alone: ``pad_s`` of silence, the clip at ``CLEAN_DB``, ``pad_s`` of silence."""
    if rec["sound"] == "speech":
        n = len(load_audio(rec["path"]))
        scene = Scene(f"clean-{rec['id']}", rec["split"], np.zeros(n + int(2 * pad_s * RATE), np.float32), {"kind": "silence"})
        scene.add_speech(rec, pad_s, CLEAN_DB)
        return scene
    n = len(sound_span(load_audio(rec["path"])))
    scene = Scene(f"clean-{rec['id']}", rec["split"], np.zeros(n + int(2 * pad_s * RATE), np.float32), {"kind": "silence"})
    scene.add_sound(rec, pad_s, CLEAN_DB, None)
    return scene


def mixed_scene(name: str, split: str, records: list[dict], kind: str, rng: np.random.Generator, duration_s: float = 30.0, n_sounds: int = 3) -> Scene:
    """``n_sounds`` clips of different classes into a ``kind`` background ("silence", "noise" or "speech")."""
    sounds = [r for r in records if r["split"] == split and r["sound"] not in ("speech", "background")]
    noises = [r for r in records if r["split"] == split and r["sound"] == "background"]
    speeches = [r for r in records if r["split"] == split and r["sound"] == "speech"]
    n = int(duration_s * RATE)
    audio = np.zeros(n, np.float32)
    background: dict = {"kind": kind}
    if kind in ("noise", "speech") and noises:
        bed = noises[int(rng.integers(len(noises)))]
        y = load_audio(bed["path"])
        start = int(rng.integers(max(1, len(y) - n)))
        y = np.resize(y[start:], n)  # loops a short recording
        audio += _gain_to(y, BACKGROUND_DB if kind == "noise" else BACKGROUND_DB - 15)
        background |= {"source_file": bed["file"], "level_db": BACKGROUND_DB if kind == "noise" else BACKGROUND_DB - 15}
    scene = Scene(name, split, audio, background)
    if kind == "speech" and speeches:
        talk = speeches[int(rng.integers(len(speeches)))]
        scene.add_speech(talk, 1.0, BACKGROUND_DB)
        background |= {"speech_file": talk["file"], "speech_level_db": BACKGROUND_DB}
    classes = sorted({r["sound"] for r in sounds})
    chosen = rng.choice(classes, size=min(n_sounds, len(classes)), replace=False)
    slot = duration_s / len(chosen)  # one sound per slot, so sounds never overlap each other
    for k, cls in enumerate(chosen):
        pool = [r for r in sounds if r["sound"] == cls]
        rec = pool[int(rng.integers(len(pool)))]
        onset = k * slot + float(rng.uniform(0.5, max(0.6, slot - MAX_CLIP_S - 0.5)))
        if kind == "silence":
            level, snr = float(rng.choice(SILENCE_LEVELS_DB)), None
        else:
            snr = float(rng.choice(SNRS_DB))
            level = BACKGROUND_DB + snr
        scene.add_sound(rec, round(onset, 2), level, snr)
    return scene


def walk_scene(rec: dict, records: list[dict], noisy: bool, rng: np.random.Generator, duration_s: float = 10.0) -> Scene:
    """A walk (``Scene.add_walk``) from 2 s into ``duration_s``: over silence, or over a noise bed of the same split at
    ``WALK_SNR_DB``."""
    audio = np.zeros(int(duration_s * RATE), np.float32)
    background: dict = {"kind": "silence"}
    noises = [r for r in records if r["split"] == rec["split"] and r["sound"] == "background"]
    if noisy and noises:
        bed = noises[int(rng.integers(len(noises)))]
        y = np.resize(load_audio(bed["path"]), len(audio))
        audio += _gain_to(y, BACKGROUND_DB)
        background = {"kind": "noise", "source_file": bed["file"], "level_db": BACKGROUND_DB}
    scene = Scene(f"walk-{'noise-' if noisy and noises else ''}{rec['id']}", rec["split"], audio, background)
    if noisy and noises:
        scene.add_walk(rec, 2.0, BACKGROUND_DB + WALK_SNR_DB, WALK_SNR_DB, rng)
    else:
        scene.add_walk(rec, 2.0, CLEAN_DB, None, rng)
    return scene


def talk_scene(rec: dict, records: list[dict], duration_s: float = 15.0) -> Scene | None:
    """A clip of a ``TALK_CLASSES`` class inside someone talking: the split's speech recording from 0.5 s at
    ``TALK_DB``, the clip ``TALK_SNR_DB`` above it, starting 0.5 s into the longest utterance it fits in (None: the
    split has no speech recording)."""
    speeches = [r for r in records if r["split"] == rec["split"] and r["sound"] == "speech"]
    if not speeches:
        return None
    scene = Scene(f"talk-{rec['id']}", rec["split"], np.zeros(int(duration_s * RATE), np.float32), {"kind": "speech"})
    scene.add_speech(speeches[0], 0.5, TALK_DB)
    scene.background |= {"speech_file": speeches[0]["file"], "speech_level_db": TALK_DB}
    clip_s = len(sound_span(load_audio(rec["path"]))) / RATE
    fits = [u for u in scene.speech if u["t_start"] + 0.5 + clip_s <= duration_s] or scene.speech[:1]
    onset = max(fits, key=lambda u: u["t_end"] - u["t_start"])["t_start"] + 0.5 if fits else 2.0
    scene.add_sound(rec, round(onset, 2), TALK_DB + TALK_SNR_DB, TALK_SNR_DB)
    return scene


def build_scenes(
    out_dir: Path, records: list[dict] | None = None, split: str = "all", seed: int = 0, n_mixed: int = 8, clean: bool = True, mp4_every: int = 3
) -> list[Path]:
    """Clean scenes for every clip, ``n_mixed`` mixed scenes per split and (with the clean ones) walk scenes for every
    step clip; returns the truth files.

    Every ``mp4_every``-th scene is also written as MP4 (0: none)."""
    records = records if records is not None else load_manifest()
    splits = ("dev", "heldout") if split == "all" else (split,)
    scenes = []
    if clean:
        scenes += [clean_scene(r) for r in records if r["split"] in splits and r["sound"] != "background"]
    kinds = ("silence", "noise", "speech")
    for sp in splits:
        for i in range(n_mixed):
            rng = np.random.default_rng([seed, i, ("dev", "heldout").index(sp)])
            kind = kinds[i % len(kinds)]
            scenes.append(mixed_scene(f"mix-{sp}-s{seed}-{i:02d}-{kind}", sp, records, kind, rng))
    if clean:  # after the others, which stay as they were
        walks = [r for r in records if r["split"] in splits and r["sound"] in WALK_CLASSES]
        for k, r in enumerate(walks):
            for noisy in (False, True):
                scenes.append(walk_scene(r, records, noisy, np.random.default_rng([seed, 1000 + k, int(noisy), ("dev", "heldout").index(r["split"])])))
        talks = [talk_scene(r, records) for r in records if r["split"] in splits and r["sound"] in TALK_CLASSES]
        scenes += [t for t in talks if t is not None]
    return [s.write(out_dir, mp4=bool(mp4_every) and k % mp4_every == mp4_every - 1) for k, s in enumerate(scenes)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixed", type=int, default=8, help="mixed scenes per split (default 8)")
    parser.add_argument("--no-clean", action="store_true", help="only mixed scenes")
    parser.add_argument("--mp4-every", type=int, default=3, help="wrap every Nth scene as MP4 too (0: none)")
    args = parser.parse_args(argv)
    records = load_manifest()
    if not records:
        print("error: the corpus is not fetched; run `python scripts/audio_corpus.py` first", file=sys.stderr)
        return 1
    paths = build_scenes(Path(args.out_dir), records, args.split, args.seed, args.mixed, not args.no_clean, args.mp4_every)
    print(f"{len(paths)} scenes in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
