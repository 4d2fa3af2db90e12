"""Sounds lane: named sound events from the sound tagger (Triton) and from the shape of the signal, fused.

Worker, per window:
- the signal analysis (``sound_signal.py``, no model) names beeps, alarms, rings, sirens, tones, bangs, knocks and
  music from their structure, over the window plus ``sound_lookback_s`` before it and the overflow after it; a
  sound is reported by the window its first burst starts in, whole, so a ringing across a boundary is one event;
- the tagger (BirdNET on the embedded default; an AudioSet tagger where its weights are present) labels 3 s
  chunks; its labels are mapped onto ``sound_vocabulary`` names, consecutive chunks merged;
- fusion: one real sound, one event. A tagger run that overlaps a signal sound of a compatible name, or covers most
  of one, is folded into it (the tagger's name of a source, which a trained model gives, wins over the shape's; its catch-all
  answers, a voice or a bird species, do not; both sources in ``attrs["sources"]``); tags that only restate speech ("human vocal" during voice
  activity) or name nothing useful ("noise") are dropped; a species tag over a tonal signal sound is attributed to
  that sound (beeps are often read as bird calls).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..events import Event
from ..media import AUDIO_RATE, read_audio
from ..sound_vocabulary import accepted_names, name_for
from .base import AudioMedia, Lane
from .sound_signal import SignalConfig, SignalSound, analyse_signal, speech_share
from .speech import speech_regions

UNNAMED_TAGS = {"noise"}  # a tag that names nothing a person would ask for
SPEECH_TAGS = {"human voice"}  # restates the speech lane when it falls in voice activity
# the tagger's catch-all answers (BirdNET's "human vocal", any bird species): they name no source, so they never
# rename a sound the signal found (a ringtone is not a voice); they are kept in the sound's attributes
GENERIC_TAGS = {"human voice", "animal", "noise"}


def _compatible(a: str, b: str) -> bool:
    return a == b or a in accepted_names(b) or b in accepted_names(a)


def fuse(signal: list[SignalSound], tags: list[tuple[str, float, float, float]], speech: list[tuple[float, float]]) -> list[SignalSound]:
    """Signal sounds and tagger runs ``(name, t0, t1, confidence)`` → one sound per real sound."""
    out = [replace(s, attrs={**s.attrs, "sources": ["signal"]}) for s in signal]
    for name, t0, t1, conf in tags:
        if name in UNNAMED_TAGS:
            continue
        if name in SPEECH_TAGS and speech_share(t0, t1, speech) > 0.3:
            continue
        # hosts are the signal's sounds only (two different tags at one time stay two sounds)
        overlapping = [s for s in out if "signal" in s.attrs["sources"] and min(s.t_end, t1) > max(s.t_start, t0)]
        host = next((s for s in overlapping if _compatible(s.label, name)), None)
        if host is None:  # a sound that mostly fills the run, and the run mostly it, is the sound the tagger heard there
            host = next((s for s in overlapping
                         if min(s.t_end, t1) - max(s.t_start, t0) >= 0.5 * max(s.t_end - s.t_start, t1 - t0, 1e-6)), None)
        if host is not None:
            host.attrs["sources"] = sorted({*host.attrs["sources"], "tagger"})
            host.attrs.setdefault("tagger_labels", []).append(name)
            if name != host.label and name not in GENERIC_TAGS:  # a trained model's name of a source beats the shape of the signal
                host.attrs["signal_label"] = host.label
                host.label = name
            host.confidence = round(max(host.confidence, conf), 3)
            continue
        out.append(SignalSound(name, t0, t1, round(conf, 3), {"sources": ["tagger"]}))
    return sorted(out, key=lambda s: (s.t_start, s.label))


def _owned(sounds: list[SignalSound], w, overflow_s: float) -> list[SignalSound]:
    """The sounds this window reports: those that start in it (whole, into the overflow past its end), and the part
    of a longer one, started earlier, beyond what the window before could see (its end plus the overflow)."""
    out = []
    reported_until = w.t_start + overflow_s
    for s in sounds:
        if w.t_start <= s.t_start < w.t_end:
            out.append(s)
        elif s.t_start < w.t_start and s.t_end > reported_until and "signal" in s.attrs["sources"]:
            out.append(replace(s, t_start=reported_until, attrs={**s.attrs, "continues": True}))
    return out


class SoundsLane(Lane):
    name = "sounds"
    source = "audio"
    models = ("sound_tagger",)

    def analyse(self, task, media: AudioMedia, models) -> list[Event]:
        acfg, info, w = task.config.audio, task.info, task.window
        lead_s = min(acfg.sound_lookback_s, w.t_start)
        lead = read_audio(info, w.t_start - lead_s, w.t_start) if lead_s > 0 else media.pcm[:0]
        pcm = np.concatenate([lead, media.pcm]) if len(lead) else media.pcm
        t0 = w.t_start - len(lead) / AUDIO_RATE
        # voice activity over the same stretch: this window's regions, the previous ones that reach into it, the next one's
        speech = [(r.t_start, r.t_end) for p in task.speech_lookback for r in speech_regions(info, p, acfg)]
        speech += [(r.t_start, r.t_end) for r in speech_regions(info, w, acfg, media.pcm)]
        found = analyse_signal(pcm, speech, SignalConfig(), offset_s=t0)
        runs: dict[str, list] = {}
        for tag in sorted(models.tag_sounds(media.window_pcm), key=lambda x: x.t_start):
            name = name_for(tag.label)
            run = runs.get(name)
            if run and tag.t_start - run[-1][1] <= 0.01:
                run[-1][1], run[-1][2] = tag.t_end, max(run[-1][2], tag.confidence)
            else:
                runs.setdefault(name, []).append([tag.t_start, tag.t_end, tag.confidence])
        tags = [(name, w.t_start + a, w.t_start + b, c) for name, rs in runs.items() for a, b, c in rs]
        events = []
        for s in _owned(fuse(found, tags, speech), w, acfg.boundary_overflow_s):
            events.append(Event(f"sound-{w.index:05d}-{len(events):03d}", "sound", s.label, s.t_start, s.t_end, s.confidence,
                                window_index=w.index, attrs=s.attrs))
        return events
