"""Speech lane: voice activity (Silero VAD, run on the worker: it is tiny), then ASR (Whisper, Triton): one request per
window carrying its audio and its speech regions, which the model decodes as one batch.

A speech region belongs to the window it starts in and may run past the window's end (the audio source reads
``boundary_overflow_s`` more), so an utterance across a boundary is transcribed once, whole. What an earlier
window already transcribed past its end is found by running that window's VAD again (memoised per process), so
the analysis stays a pure function of its task. The language is detected once per video: the first window with
speech that a worker process transcribes detects it, and the process sends it with the video's later windows.

Speakers: where Triton serves ``speaker_embedder`` (Resemblyzer's voice encoder), each transcribed segment's voice is
embedded on the worker, and the driver gives it a speaker (``attrs["speaker"]``: "speaker 1", "speaker 2", ... in
order of first appearance in the video) by comparing it with the voices heard so far (``audio.Speakers``, carried in
the lane's state across windows and checkpoints).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..audio import (
    ASR_MODEL,
    SPEAKER_MODEL,
    Speakers,
    SpeechRegion,
    VoiceActivity,
    speaker_embeddings,
    transcribe_regions,
    voice_pitch,
    voice_register,
)
from ..events import Event
from ..media import AUDIO_RATE, MediaInfo, read_audio
from ..windows import Window
from .base import AssemblyContext, AudioMedia, Lane, LaneOutput


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


_REGIONS = _OnceCache()
_LANGUAGES: dict[tuple, str] = {}  # video -> the language Whisper detected in its first window with speech (this process)
_VAD: list[VoiceActivity] = []
_VAD_LOCK = threading.Lock()


def voice_activity() -> VoiceActivity:
    with _VAD_LOCK:  # one ONNX session per process (its run() is thread-safe)
        if not _VAD:
            _VAD.append(VoiceActivity())
        return _VAD[0]


def speech_regions(info: MediaInfo, w: Window, acfg, pcm: np.ndarray | None = None) -> list[SpeechRegion]:
    """VAD regions that start in window ``w``, read from its audio plus the overflow past its end (memoised)."""

    def compute() -> list[SpeechRegion]:
        audio = pcm if pcm is not None else read_audio(info, w.t_start, min(info.duration_s, w.t_end + acfg.boundary_overflow_s))
        return [r for r in voice_activity().regions(audio, acfg, offset_s=w.t_start) if w.t_start <= r.t_start < w.t_end]

    return _REGIONS.get((info.path, info.size_bytes, info.duration_s, w, acfg), compute)


@dataclass
class SpeechAnalysis:
    """A window's speech events and, where the speaker model ran, each one's voice embedding (None: not embedded)."""

    events: list[Event] = field(default_factory=list)
    voices: list[np.ndarray | None] = field(default_factory=list)


@dataclass
class SpeechState:
    """What the speech lane carries across windows: the voices heard so far."""

    speakers: Speakers = field(default_factory=Speakers)
    pitches: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # speaker -> (pitch Hz, seconds) heard

    def register(self, speaker: str, pitch_hz: float | None, seconds: float) -> str:
        """A speaker's voice register from all their utterances so far (the duration-weighted median pitch)."""
        if not hasattr(self, "pitches"):  # a checkpoint written before voices had a pitch
            self.pitches = {}
        heard = self.pitches.setdefault(speaker, [])
        if pitch_hz is not None:
            heard.append((pitch_hz, seconds))
        if not heard:
            return ""
        ordered = sorted(heard)
        half, run = sum(d for _, d in ordered) / 2, 0.0
        for pitch, d in ordered:
            run += d
            if run >= half:
                return voice_register(pitch)
        return voice_register(ordered[-1][0])


class SpeechLane(Lane):
    name = "speech"
    source = "audio"
    models = (ASR_MODEL, SPEAKER_MODEL)

    def new_state(self, config) -> SpeechState:
        return SpeechState()

    def assemble(self, result: SpeechAnalysis, ctx: AssemblyContext) -> LaneOutput:
        """Each embedded utterance gets its speaker, in time order (a label once given is final: the window is written)."""
        state: SpeechState = ctx.state if ctx.state is not None else SpeechState()
        for event, voice in sorted(zip(result.events, result.voices), key=lambda p: (p[0].t_start, p[0].id)):
            heard = state.speakers.assign(voice, event.t_end - event.t_start) if voice is not None else None
            if heard is not None:
                event.attrs["speaker"], event.attrs["speaker_similarity"] = heard
            # low / high voice: the speaker's pitch over all their lines so far (an unlabelled line's own)
            pitch = event.attrs.get("pitch_hz")
            register = state.register(heard[0], pitch, event.t_end - event.t_start) if heard is not None else voice_register(pitch)
            if register:
                event.attrs["voice"] = register
        return LaneOutput(events=list(result.events))

    def analyse(self, task, media: AudioMedia, models) -> SpeechAnalysis:
        acfg, info, w = task.config.audio, task.info, task.window
        pcm = media.pcm
        out = SpeechAnalysis()
        events = out.events
        embed = models.serves(SPEAKER_MODEL)
        # regions that start in this window, minus what an earlier window already transcribed past its end
        regions = speech_regions(info, w, acfg, pcm)
        reach = max((p.t_end + acfg.boundary_overflow_s for p in task.speech_lookback), default=w.t_start)
        covered_until = 0.0
        if any(r.t_start < reach for r in regions):
            covered_until = max((r.t_end for p in task.speech_lookback for r in speech_regions(info, p, acfg)), default=0.0)
        spans = []  # seconds into this window's audio
        for region in regions:
            start = max(region.t_start, covered_until)
            if region.t_end - start >= acfg.min_speech_s:
                spans.append((start - w.t_start, region.t_end - w.t_start))
            covered_until = max(covered_until, region.t_end)
        if not spans:
            return out
        video = (info.path, info.size_bytes, info.duration_s)
        segments = transcribe_regions(models, pcm, spans, _LANGUAGES.get(video))  # the window's regions: one request, one batch
        if segments and segments[0].language and video not in _LANGUAGES:
            _LANGUAGES[video] = segments[0].language  # detected once per video (per worker process): later windows say it
        for seg in segments:
            events.append(
                Event(
                    f"speech-{w.index:05d}-{len(events):03d}",
                    "speech",
                    "speech",
                    w.t_start + seg.start,
                    w.t_start + seg.end,
                    round(float(min(1.0, max(0.0, 1.0 + seg.avg_logprob / 2))), 3),
                    text=seg.text,
                    window_index=w.index,
                    attrs={
                        "words": [[round(w.t_start + x.start, 3), round(w.t_start + x.end, 3), x.word.strip()] for x in seg.words],
                        "no_speech_prob": seg.no_speech_prob,
                        "avg_logprob": seg.avg_logprob,
                        "language": seg.language,
                        "pitch_hz": voice_pitch(pcm[int(seg.start * AUDIO_RATE) : int(seg.end * AUDIO_RATE)]),
                    },
                )
            )
        if embed and segments:
            out.voices.extend(speaker_embeddings(models, pcm, [(seg.start, seg.end) for seg in segments]))
        else:
            out.voices.extend([None] * len(segments))
        return out
