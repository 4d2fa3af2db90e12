"""Speech lane: voice activity (Silero VAD, run on the worker: it is tiny), then ASR (Whisper, Triton) per region.

A speech region belongs to the window it starts in and may run past the window's end (the audio source reads
``boundary_overflow_s`` more), so an utterance across a boundary is transcribed once, whole. What an earlier
window already transcribed past its end is found by running that window's VAD again (memoised per process), so
the analysis stays a pure function of its task.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Callable

import numpy as np

from ..audio import SpeechRegion, VoiceActivity
from ..events import Event
from ..media import AUDIO_RATE, MediaInfo, read_audio
from ..windows import Window
from .base import AudioMedia, Lane


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


class SpeechLane(Lane):
    name = "speech"
    source = "audio"
    models = ("asr",)

    def analyse(self, task, media: AudioMedia, models) -> list[Event]:
        acfg, info, w = task.config.audio, task.info, task.window
        pcm = media.pcm
        events: list[Event] = []
        # regions that start in this window, minus what an earlier window already transcribed past its end
        regions = speech_regions(info, w, acfg, pcm)
        reach = max((p.t_end + acfg.boundary_overflow_s for p in task.speech_lookback), default=w.t_start)
        covered_until = 0.0
        if any(r.t_start < reach for r in regions):
            covered_until = max((r.t_end for p in task.speech_lookback for r in speech_regions(info, p, acfg)), default=0.0)
        for region in regions:
            start = max(region.t_start, covered_until)
            if region.t_end - start < acfg.min_speech_s:
                continue
            clip = pcm[int(round((start - w.t_start) * AUDIO_RATE)) : int(round((region.t_end - w.t_start) * AUDIO_RATE))]
            for seg in models.transcribe(clip):
                events.append(
                    Event(
                        f"speech-{w.index:05d}-{len(events):03d}",
                        "speech",
                        "speech",
                        start + seg.start,
                        start + seg.end,
                        round(float(min(1.0, max(0.0, 1.0 + seg.avg_logprob / 2))), 3),
                        text=seg.text,
                        window_index=w.index,
                        attrs={
                            "words": [[round(start + x.start, 3), round(start + x.end, 3), x.word.strip()] for x in seg.words],
                            "no_speech_prob": seg.no_speech_prob,
                            "avg_logprob": seg.avg_logprob,
                            "language": seg.language,
                        },
                    )
                )
            covered_until = max(covered_until, region.t_end)
        return events
