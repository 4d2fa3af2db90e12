"""Sounds lane: named sound events from the sound tagger (Triton) and from the shape of the signal, fused.

Worker, per window:
- the signal analysis (``sound_signal.py``, no model) names beeps, alarms, rings, sirens, tones, bangs, knocks and
  music from their structure, over the window plus ``sound_lookback_s`` before it and the overflow after it; a
  sound is reported by the window its first burst starts in, whole, so a ringing across a boundary is one event;
- the AudioSet tagger (``audio_tagger``: YAMNet, 521 classes, 0.96 s patches every 0.48 s) names what it hears in
  AudioSet's words, mapped onto ``sound_vocabulary`` names (``audioset_name_for``; a generic parent such as "Animal"
  refined to its likeliest child), believed from ``AudioConfig.audioset_threshold`` or the name's own threshold
  (``AUDIOSET_THRESHOLDS``); consecutive patches of one name are one run, which starts where the tagger first hears the
  name (``TAGGER_FLOOR``) and, where only the tagger heard it, where the level rises in its first patch
  (``heard_onset``). Where that model is not served, BirdNET
  (``sound_tagger``, 3 s chunks, a few generic classes among 6,000 species) is asked instead;
- fusion: one real sound, one event. A tagger run that overlaps a signal sound of a compatible name, or covers most
  of one, is folded into it (the tagger's name of a source, which a trained model gives, wins over the shape's; its catch-all
  answers, a voice or a bird species, do not; both sources in ``attrs["sources"]``); tags that only restate speech ("human vocal" during voice
  activity) or name nothing useful ("noise") are dropped; a species tag over a tonal signal sound is attributed to
  that sound (beeps are often read as bird calls). A broader name (``sound_vocabulary.BROADER``: "alarm" above a
  siren, "bell" above a doorbell) never replaces a specific one, and a specific one heard at the same time refines it;
  what is left as two names of one family for one moment (a bang the tagger calls a gunshot and an explosion, "animal"
  and "dog bark", the signal's hit at a bell's strike) is one sound too (``fold_readings``): one event, the other
  readings kept in ``attrs["tagger_labels"]``;
- a series of calls the tagger names (``CALLS``: a dog barking) is one event whose pattern counts them from the signal
  ("3 barks, 0.4 s apart"); the signal's blips inside it are those calls, not sounds of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .. import zero_shot
from ..events import Event, plural
from ..media import AUDIO_RATE, read_audio
from ..sound_vocabulary import AUDIOSET_THRESHOLDS, REFINES, accepted_names, audioset_name_for, broader_than, name_for
from .base import AssemblyContext, AudioMedia, Lane, LaneOutput
from .sound_signal import SignalConfig, SignalSound, analyse_signal, calls, speech_share
from .speech import speech_regions

AUDIO_TEXT = "audio_text"  # the zero-shot space sound clips are embedded in, where Triton serves that model
JOIN_GAP_S = 1.0  # tagger runs of one name this close are one sound (a patch below the threshold inside music is not a new piece)
UNNAMED_TAGS = {"noise"}  # a tag that names nothing a person would ask for
# restate the speech lane when they fall in voice activity: a voice, and what a tagger takes a voice for (a meow, an animal)
SPEECH_TAGS = {"human voice", "shouting", "crowd", "animal", "cat", "crying"}
# ambiences that broadband noise (a fan, a road, a hiss) also scores: believed only from this probability
AMBIENT_TAGS = {"wind", "rain", "water", "fire", "insect"}
AMBIENT_THRESHOLD = 0.8
# sounds that go on and hold many bursts (a piece of music is notes, drums and chords; a crowd is claps and shouts):
# bursts inside one, or running into its start, that the tagger named nothing else are its parts, not sounds of their own
CONTAINER_TAGS = {
    "music",
    "singing",
    "applause",
    "crowd",
    "vehicle engine",
    "train",
    "aircraft",
    "helicopter",
    "rain",
    "water",
    "power tool",
    "vacuum cleaner",
    "typing",
}
SHAPE_NAMES = {"knock", "bang", "beeping", "tone", "ringing", "music", "footsteps", "applause"}  # the signal's own names
# a cadence the signal measured over seconds (rings 2 s on, 4 s off; beeps 1 s apart) names a device, which 0.96 s
# patches cannot see: a tagger hearing only "music" in a melodic ringtone does not rename it
CADENCES = {"ringing", "alarm", "bell"}
MELODIC_TAGS = {"music", "singing"}
# machinery a tagger hears in the same patches (a railway-crossing bell over a passing train is "train" to YAMNet): it
# names the background, not the struck or rung tones the signal measured, so it does not rename a bell or a ring
MACHINE_TAGS = {"vehicle engine", "train", "aircraft", "helicopter", "boat"}
RUNG = {"ringing", "bell"}
# the tagger's catch-all answers (BirdNET's "human vocal", any bird species): they name no source, so they never
# rename a sound the signal found (a ringtone is not a voice); they are kept in the sound's attributes
GENERIC_TAGS = {"human voice", "animal", "noise"}
# electronic signals a tagger confuses with one another: where runs of several overlap and no signal sound hosts them,
# the likeliest one is the sound (a phone ring also scores "alarm")
SIGNAL_FAMILY = {"alarm", "beeping", "telephone ringing", "ringing", "doorbell", "bell", "tone", "whistle", "dial tone", "siren"}


# sounds made of separate calls, each a burst of its own (a dog barks 3 times): the tagger names the series, the signal
# counts its calls (``sound_signal.calls``) into the pattern ("3 barks"), and the blips it heard inside the series are
# those calls (a bark is voiced: the signal alone reads it as a beep or a hit), not sounds of their own
CALLS = {"dog bark": "bark"}


# what one burst of a sound is called: a sound the tagger renames keeps the signal's count in the new name's words
BURST_UNITS = {
    "car horn": "blast",
    "siren": "wail",
    "telephone ringing": "ring",
    "ringing": "ring",
    "doorbell": "ring",
    "alarm": "beep",
    "beeping": "beep",
    "bell": "strike",
    "knock": "knock",
    "gunshot": "shot",
}


# the AudioSet tagger reports classes from this probability (``audio_tagger``'s threshold): a run of patches this likely
# is the sound's extent once one of them is believed
TAGGER_FLOOR = 0.3

# a tagger run this short (two 0.96 s patches) is one reading of a moment, not a sound of its own, when it lies inside a
# much longer sound the signal found
PATCH_READING_S = 1.5


def _compatible(a: str, b: str) -> bool:
    return a == b or a in accepted_names(b) or b in accepted_names(a)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    """How long [a0, a1] and [b0, b1] overlap (negative: the gap between them)."""
    return min(a1, b1) - max(a0, b0)


def fuse(signal: list[SignalSound], tags: list[tuple[str, float, float, float]], speech: list[tuple[float, float]]) -> list[SignalSound]:
    """Signal sounds and tagger runs ``(name, t0, t1, confidence)`` → one sound per real sound."""
    out = [replace(s, attrs={**s.attrs, "sources": ["signal"]}) for s in signal]
    renamed: set[int] = set()  # hosts already named by the tagger: its likeliest name for them stands
    # each sound's span widened by the tagger runs folded into it (patches are coarser than bursts)
    heard: dict[int, tuple[float, float]] = {id(s): (s.t_start, s.t_end) for s in out}
    for name, t0, t1, conf in sorted(tags, key=lambda t: -t[3]):
        if name in UNNAMED_TAGS:
            continue
        if name in SPEECH_TAGS and speech_share(t0, t1, speech) > 0.3:
            continue
        # hosts are the signal's sounds only (two different tags at one time stay two sounds)
        overlapping = [s for s in out if "signal" in s.attrs["sources"] and _overlap(s.t_start, s.t_end, t0, t1) > 0]
        host = next((s for s in overlapping if _compatible(s.label, name)), None)
        if host is None:  # a sound that mostly fills the run, and the run mostly it, is the sound the tagger heard there
            # (a run is whole 0.96 s patches every 0.48 s: it reaches up to half a patch past the sound at either end;
            # not so a container's, a sound of its own that holds the bursts inside it: a passing train and its bell)
            heard_s = max(t1 - t0 - (0.0 if name in CONTAINER_TAGS else PATCH_S / 2), 1e-6)
            host = next((s for s in overlapping if _overlap(s.t_start, s.t_end, t0, t1) >= 0.5 * max(s.t_end - s.t_start, heard_s)), None)
        inside = next(
            (
                s
                for s in overlapping
                if host is None
                and _overlap(s.t_start, s.t_end, t0, t1) >= 0.7 * (t1 - t0)
                and (t1 - t0) <= PATCH_READING_S
                and (t1 - t0) <= 0.25 * (s.t_end - s.t_start)
            ),
            None,
        )
        if inside is not None:
            # a patch or two within a much longer sound (the onset of a siren scored as music): another reading of
            # that sound, not a second one
            inside.attrs["sources"] = sorted({*inside.attrs["sources"], "tagger"})
            inside.attrs.setdefault("tagger_labels", []).append(name)
            continue
        if host is not None:
            host.attrs["sources"] = sorted({*host.attrs["sources"], "tagger"})
            host.attrs.setdefault("tagger_labels", []).append(name)
            keeps_cadence = (
                (name in MELODIC_TAGS and host.label in CADENCES) or (name in MACHINE_TAGS and host.label in RUNG) or broader_than(name, host.label)
            )  # a broader name ("alarm" over a siren) does not replace a specific one
            if (
                name != host.label and name not in GENERIC_TAGS and (id(host) not in renamed or broader_than(host.label, name)) and not keeps_cadence
            ):  # a trained model's name of a source beats the shape of the signal
                host.attrs.setdefault("signal_label", host.label)
                host.label = name
                if name in BURST_UNITS and "n_bursts" in host.attrs:  # its pattern in the new name's words ("2 blasts", not "2 rings")
                    host.attrs.setdefault("signal_pattern", host.attrs.get("pattern"))
                    host.attrs["pattern"] = plural(int(host.attrs["n_bursts"]), BURST_UNITS[name])
            if name not in GENERIC_TAGS and not keeps_cadence:
                renamed.add(id(host))
            host.confidence = round(max(host.confidence, conf), 3)
            a, b = heard[id(host)]
            heard[id(host)] = (min(a, t0), max(b, t1))
            continue
        rival = next(
            (
                s
                for s in out
                if "tagger" in s.attrs["sources"]
                and name in SIGNAL_FAMILY
                and s.label in SIGNAL_FAMILY
                and _overlap(*heard[id(s)], t0, t1) >= 0.5 * min(heard[id(s)][1] - heard[id(s)][0], t1 - t0)
            ),
            None,
        )
        if rival is not None:  # a likelier name of the same signal came first
            rival.attrs.setdefault("tagger_labels", []).append(name)
            if broader_than(rival.label, name) and rival.attrs["sources"] == ["tagger"]:  # the specific name of it refines the broader one
                rival.label = name
            continue
        out.append(SignalSound(name, t0, t1, round(conf, 3), {"sources": ["tagger"]}))
        heard[id(out[-1])] = (t0, t1)
    return _absorb_parts(sorted(out, key=lambda s: (s.t_start, s.label)))


def _absorb_parts(sounds: list[SignalSound]) -> list[SignalSound]:
    """Signal-only bursts inside a tagger's container sound (or chained up to its start, each within ``JOIN_GAP_S``)
    become its parts: the container starts at the first of them, and they are counted in ``attrs["parts"]``. The
    signal's blips inside a series of calls (``CALLS``) are its calls."""
    for c in [s for s in sounds if s.attrs["sources"] == ["tagger"] and s.label in CALLS]:
        taken = [
            p for p in sounds if p.attrs["sources"] == ["signal"] and p.label in SHAPE_NAMES and p.t_start >= c.t_start - 1e-6 and p.t_end <= c.t_end + 1e-6
        ]
        if taken:  # its sources stay the tagger's: a series may go on next window
            c.attrs["parts"] = c.attrs.get("parts", 0) + len(taken)
            sounds = [s for s in sounds if all(s is not p for p in taken)]
    for c in [s for s in sounds if s.attrs["sources"] == ["tagger"] and s.label in CONTAINER_TAGS]:
        parts = [s for s in sounds if s.attrs["sources"] == ["signal"] and s.label in SHAPE_NAMES]
        taken = [p for p in parts if p.t_start >= c.t_start - 1e-6 and p.t_end <= c.t_end + JOIN_GAP_S]
        for p in sorted((p for p in parts if p.t_start < c.t_start - 1e-6), key=lambda p: -p.t_start):
            if c.t_start - p.t_end > JOIN_GAP_S:
                break
            taken.append(p)
            c.t_start = p.t_start
        if taken:
            c.attrs["parts"] = c.attrs.get("parts", 0) + len(taken)  # its sources stay the tagger's: a run may go on next window
            sounds = [s for s in sounds if all(s is not p for p in taken)]
    return sounds


def tagger_runs(
    tags,
    name_of,
    threshold: float = 0.0,
    gap_s: float = 0.01,
    floor: float | None = None,
    thresholds: dict[str, float] | None = None,
    speech: list[tuple[float, float]] = (),
) -> list[tuple[str, float, float, float]]:
    """Tagger hits ``(t_start, t_end, label, confidence)`` → runs ``(name, t0, t1, confidence)``.

    Each label is named by ``name_of`` (None: not a sound to report). A patch's score for a name is the best of the
    labels it takes (AudioSet's parent and child classes fire on the same evidence: a dog is "Animal", "Dog" and
    "Bark" at once, so they are pooled by their maximum, not added). A generic name the ontology refines
    (``sound_vocabulary.REFINES``: "animal" → dog bark, cat, bird ...) gives its score to its likeliest child where
    that child scores at least ``floor``. A run is the patches of one name at or above ``floor``, overlapping or
    within ``gap_s`` of each other, believed where one of them reaches its name's threshold (``thresholds``, else
    ``threshold``): hysteresis, so a sound that fades in starts where the tagger first hears it, not where it is
    loudest. Without ``floor`` a run holds only believed patches. In voice activity (``speech``, timed as the tags) a
    generic name that restates a voice (``SPEECH_TAGS``: "animal") refines nothing: a child there is believed from its
    own score only (a voice is not a dog).

    >>> from types import SimpleNamespace as T
    >>> tagger_runs([T(t_start=0.0, t_end=0.96, label="Telephone", confidence=0.8), T(t_start=0.48, t_end=1.44,
    ...              label="Ringtone", confidence=0.6), T(t_start=0.48, t_end=1.44, label="Speech", confidence=0.9)],
    ...             audioset_name_for, threshold=0.5)
    [('telephone ringing', 0.0, 1.44, 0.8)]
    >>> tagger_runs([T(t_start=0.0, t_end=0.96, label="Applause", confidence=0.32), T(t_start=0.48, t_end=1.44,
    ...              label="Applause", confidence=0.9), T(t_start=2.0, t_end=2.96, label="Animal", confidence=0.82),
    ...              T(t_start=2.0, t_end=2.96, label="Dog", confidence=0.32)], audioset_name_for, threshold=0.6, floor=0.3)
    [('applause', 0.0, 1.44, 0.9), ('dog bark', 2.0, 2.96, 0.82)]
    """
    thresholds = thresholds or {}
    low = threshold if floor is None else min(floor, threshold)

    def believed_from(name: str) -> float:
        t = thresholds.get(name, threshold)
        return max(t, AMBIENT_THRESHOLD) if name in AMBIENT_TAGS else t

    patches: dict[tuple[float, float], dict[str, float]] = {}
    for tag in tags:
        name = name_of(tag.label)
        if name is None:
            continue
        scores = patches.setdefault((tag.t_start, tag.t_end), {})
        scores[name] = max(scores.get(name, 0.0), float(tag.confidence))
    runs: dict[str, list[list[float]]] = {}
    for (t0, t1), scores in sorted(patches.items()):
        for parent, children in REFINES.items():
            if parent in SPEECH_TAGS and speech_share(t0, t1, speech) > 0.3:
                continue  # in voice activity the generic name restates the voice: it lends its score to no child
            if parent in scores:
                child = max(children, key=lambda c: scores.get(c, 0.0))
                if scores.get(child, 0.0) >= (low if floor is not None else believed_from(child)):
                    scores[child] = max(scores[child], scores.pop(parent))
        for name, p in scores.items():
            if p < (low if floor is not None else believed_from(name)):
                continue
            run = runs.get(name)
            if run and t0 - run[-1][1] <= gap_s:
                run[-1][1], run[-1][2] = max(run[-1][1], t1), max(run[-1][2], p)
            else:
                runs.setdefault(name, []).append([t0, t1, p])
    return [(name, a, b, c) for name, rs in runs.items() for a, b, c in rs if c >= believed_from(name)]


PATCH_S = 0.96  # one AudioSet tagger patch
ONSET_DB = 15.0  # a sound starts where its level first comes within this of the loudest moment of its first patch


def _patch_level_db(pcm: np.ndarray, offset_s: float, a_s: float, b_s: float) -> np.ndarray | None:
    """The level in dB of each 10 ms frame of [a_s, b_s] (None: too short to tell)."""
    import librosa  # noqa: PLC0415 - heavy (numba): loaded on first use

    a = max(0, int(round((a_s - offset_s) * AUDIO_RATE)))
    b = min(len(pcm), int(round((b_s - offset_s) * AUDIO_RATE)))
    hop = AUDIO_RATE // 100
    if b - a < 2 * hop:
        return None
    return librosa.amplitude_to_db(
        librosa.feature.rms(y=pcm[a:b].astype(np.float32), frame_length=2 * hop, hop_length=hop, center=False)[0], ref=1.0, top_db=None
    )


def heard_onset(pcm: np.ndarray, offset_s: float, t0: float, t1: float) -> float:
    """Where in its first patch a sound only the tagger heard begins: a patch says that the sound is somewhere in its
    0.96 s, the level says when (the first 10 ms frame within ``ONSET_DB`` of the patch's loudest; the patch's start
    where the sound is already going, as over a steady background).

    >>> pcm = np.zeros(AUDIO_RATE * 2, np.float32)
    >>> pcm[int(1.6 * AUDIO_RATE):] = 0.1
    >>> heard_onset(pcm, 0.0, 1.0, 2.0), heard_onset(pcm, 0.0, 1.7, 2.0)
    (1.6, 1.7)
    """
    db = _patch_level_db(pcm, offset_s, t0, min(t1, t0 + PATCH_S))
    if db is None:
        return t0
    first = int(np.argmax(db >= db.max() - ONSET_DB))
    hop = 1 / 100
    return round(t0 + first * hop + hop * (first > 0), 3)  # the frame's centre, or the patch's start


def heard_end(pcm: np.ndarray, offset_s: float, t0: float, t1: float) -> float:
    """Where in its last patch a sound only the tagger heard ends: the last 10 ms frame within ``ONSET_DB`` of that
    patch's loudest (the patch's end where the sound is still going, as music into the next window).

    >>> pcm = np.zeros(AUDIO_RATE * 3, np.float32)
    >>> pcm[int(0.5 * AUDIO_RATE) : int(1.4 * AUDIO_RATE)] = 0.1
    >>> heard_end(pcm, 0.0, 0.48, 1.92), heard_end(pcm, 0.0, 0.48, 1.2)
    (1.4, 1.2)
    """
    db = _patch_level_db(pcm, offset_s, max(t0, t1 - PATCH_S), t1)
    if db is None:
        return t1
    last = len(db) - 1 - int(np.argmax(db[::-1] >= db.max() - ONSET_DB))
    return t1 if last == len(db) - 1 else round(max(t0, t1 - PATCH_S) + (last + 1) / 100, 3)  # the frame's centre


def call_pattern(onsets: list[float], word: str) -> dict:
    """The count of a series of calls, and their pace where it is regular: "3 barks, 0.4 s apart".

    >>> call_pattern([1.0, 1.4, 1.8], "bark")["pattern"], call_pattern([2.0], "bark")["pattern"]
    ('3 barks, 0.4 s apart', '1 bark')
    """
    n = len(onsets)
    gaps = np.diff(onsets)
    regular = n >= 3 and float(gaps.std()) < 0.3 * float(gaps.mean())
    pattern = plural(n, word) + (f", {float(np.median(gaps)):.1f} s apart" if regular else "")
    return {"pattern": pattern, "n_bursts": n, "call_onsets": [round(float(x), 3) for x in onsets]}


def _count_calls(s: SignalSound, pcm: np.ndarray, t0: float) -> SignalSound:
    """A series of calls (``CALLS``) with its count: its calls are the signal's peaks inside it (at least one)."""
    onsets = calls(pcm, s.t_start, s.t_end, offset_s=t0) or [s.t_start]
    return replace(s, t_start=min(s.t_start, onsets[0]), attrs={**s.attrs, **call_pattern(onsets, CALLS[s.label])})


# names a tagger (or the tagger and the signal) gives one sound at the same moment: a bang is "gunshot" and
# "explosion" at once, a hiss "rain" and "water", a dog "animal" and "dog bark", a siren's vehicle its engine
READING_FAMILIES = (
    frozenset(SIGNAL_FAMILY),
    frozenset({"gunshot", "explosion", "fireworks", "bang"}),
    frozenset(AMBIENT_TAGS),
    frozenset({"animal", *REFINES["animal"]}),
    frozenset({"siren", "vehicle engine"}),
)
# a single hit the signal found inside a rung, beeped or struck sound (or just after it) is that sound's attack
TONAL_HOSTS = frozenset({*SIGNAL_FAMILY, "bell"})
ATTACK_TAIL_S = 0.5


def _one_family(a: str, b: str) -> bool:
    return any(a in f and b in f for f in READING_FAMILIES)


def _reading_rank(s: SignalSound) -> tuple:
    """Which of two readings of one sound names it: a trained model's name over the signal's shape, a specific name over
    a catch-all, then the likelier one."""
    return ("tagger" in s.attrs["sources"], s.label not in GENERIC_TAGS, s.confidence, s.t_end - s.t_start)


def _holds(a: SignalSound, b: SignalSound) -> bool:
    """``a`` lasts at least twice as long as ``b`` and holds it."""
    return a.t_end - a.t_start >= 2 * (b.t_end - b.t_start) and a.t_start <= b.t_start + 1e-6 and b.t_end <= a.t_end + 1e-6


def _is_attack(hit: SignalSound, host: SignalSound) -> bool:
    return (
        hit.attrs["sources"] == ["signal"]
        and hit.label == "bang"
        and hit.attrs.get("n_bursts", 1) == 1
        and host.label in TONAL_HOSTS
        and host.t_start - 1e-6 <= hit.t_start <= host.t_end + ATTACK_TAIL_S
    )


def fold_readings(sounds: list[SignalSound]) -> list[SignalSound]:
    """One event per sound: two names of one family (``READING_FAMILIES``) for one moment, overlapping over half the
    shorter, are two readings of one sound, and so is the signal's lone hit at the start of, inside or just after a
    ring, a beep or a bell (its attack or a strike). The sound keeps the name ``_reading_rank`` prefers, or that of
    the one at least twice as long holding the other (a moment of a dog's barking that sounded like a bird is the
    barking); its span is both, the other name is kept in ``attrs["tagger_labels"]``.

    >>> gun = SignalSound("gunshot", 2.0, 3.85, 0.9, {"sources": ["tagger"]})
    >>> boom = SignalSound("explosion", 2.0, 4.33, 0.7, {"sources": ["tagger"]})
    >>> [(s.label, s.t_end, s.attrs["tagger_labels"]) for s in fold_readings([boom, gun])]
    [('gunshot', 4.33, ['explosion'])]
    >>> bell = SignalSound("bell", 2.0, 4.6, 0.8, {"sources": ["signal", "tagger"]})
    >>> hit = SignalSound("bang", 2.6, 2.7, 0.6, {"sources": ["signal"], "n_bursts": 1})
    >>> [(s.label, s.attrs["parts"]) for s in fold_readings([bell, hit])]
    [('bell', 1)]
    """
    kept = [replace(s, attrs=dict(s.attrs)) for s in sounds]
    merged = True
    while merged:
        merged = False
        for a in kept:
            for b in kept:
                if a is b:
                    continue
                if _is_attack(b, a):
                    a.attrs["parts"] = a.attrs.get("parts", 0) + 1
                    kept.remove(b)
                    merged = True
                    break
                shorter = min(a.t_end - a.t_start, b.t_end - b.t_start)
                if not _one_family(a.label, b.label) or _overlap(a.t_start, a.t_end, b.t_start, b.t_end) < 0.5 * shorter:
                    continue
                if not _holds(a, b) and (_holds(b, a) or _reading_rank(b) > _reading_rank(a)):
                    continue  # b names it: this pair is folded when b's turn comes
                a.t_start, a.t_end = min(a.t_start, b.t_start), max(a.t_end, b.t_end)
                a.confidence = max(a.confidence, b.confidence)
                a.attrs["sources"] = sorted({*a.attrs["sources"], *b.attrs["sources"]})
                a.attrs["tagger_labels"] = [*a.attrs.get("tagger_labels", []), *(x for x in (b.label, *b.attrs.get("tagger_labels", [])) if x != a.label)]
                if "n_bursts" in b.attrs and "n_bursts" not in a.attrs:  # the signal's count, in the name's words
                    a.attrs["n_bursts"] = b.attrs["n_bursts"]
                    a.attrs["pattern"] = plural(int(b.attrs["n_bursts"]), BURST_UNITS[a.label]) if a.label in BURST_UNITS else b.attrs.get("pattern")
                kept.remove(b)
                merged = True
                break
            if merged:
                break
    return sorted(kept, key=lambda s: (s.t_start, s.label))


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


class SoundsResult(list):
    """A window's sound events, with each one's clip embedded by the audio-text model (``vectors``: event id -> vector)
    where Triton serves it."""

    def __init__(self, events: list[Event], vectors: dict[str, np.ndarray]):
        super().__init__(events)
        self.vectors = vectors


@dataclass
class SoundsState:
    """Sounds only the tagger heard that reached the end of the last window: the next window may continue them."""

    open: list[Event] = field(default_factory=list)


class SoundsLane(Lane):
    name = "sounds"
    source = "audio"
    models = ("audio_tagger", "sound_tagger")

    def new_state(self, config) -> SoundsState:
        return SoundsState()

    def assemble(self, result: list[Event], ctx: AssemblyContext) -> LaneOutput:
        """A tagger-only sound running into the next window is one event (music over a minute is one piece of music),
        held open until a window no longer continues it; the signal's sounds are already whole (``_owned``)."""
        state: SoundsState = ctx.state if ctx.state is not None else SoundsState()
        out: list[Event] = []
        still_open: list[Event] = []
        owner: dict[str, str] = {}  # a tagger run folded into an open sound: the event its clip belongs to
        for e in sorted(result, key=lambda e: e.t_start):
            if e.attrs.get("sources") == ["tagger"]:
                prev = next((o for o in state.open + still_open if o.label == e.label and e.t_start - o.t_end <= JOIN_GAP_S), None)
                if prev is not None:
                    prev.t_end, prev.confidence = max(prev.t_end, e.t_end), max(prev.confidence, e.confidence)
                    if e.label in CALLS and "call_onsets" in prev.attrs:  # one series across the boundary: its calls add up
                        prev.attrs.update(call_pattern(sorted({*prev.attrs["call_onsets"], *e.attrs.get("call_onsets", [])}), CALLS[e.label]))
                    owner[e.id] = prev.id
                    if prev in state.open:
                        state.open.remove(prev)
                        still_open.append(prev)
                    continue
                if not ctx.is_last and e.t_end >= ctx.window.t_end - JOIN_GAP_S:
                    still_open.append(e)
                    continue
            out.append(e)
        out += state.open  # not continued by this window: done
        for o in list(still_open):
            if ctx.is_last or o.t_end < ctx.window.t_end - JOIN_GAP_S:
                still_open.remove(o)
                out.append(o)
        state.open = still_open
        vectors = getattr(result, "vectors", {})
        rows = [
            {"space": AUDIO_TEXT, "t_start": e.t_start, "t_end": e.t_end, "vec": vectors[e.id], "event_id": owner.get(e.id, e.id), "ref": e.label}
            for e in result
            if e.id in vectors
        ]
        return LaneOutput(events=sorted(out, key=lambda e: (e.t_start, e.id)), vectors=rows)

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
        if models.serves("audio_tagger"):
            runs = tagger_runs(
                models.tag_audioset(media.window_pcm),
                audioset_name_for,
                acfg.audioset_threshold,
                gap_s=JOIN_GAP_S,
                floor=TAGGER_FLOOR,
                thresholds=AUDIOSET_THRESHOLDS,
                speech=[(a - w.t_start, b - w.t_start) for a, b in speech],
            )
        else:
            runs = tagger_runs(models.tag_sounds(media.window_pcm), name_for)
        tags = [(name, w.t_start + a, w.t_start + b, c) for name, a, b, c in runs]
        events = []
        fused = [
            replace(s, t_start=heard_onset(pcm, t0, s.t_start, s.t_end), t_end=heard_end(pcm, t0, s.t_start, s.t_end))
            if s.attrs["sources"] == ["tagger"]
            else s
            for s in fuse(found, tags, speech)
        ]
        fused = fold_readings([_count_calls(s, pcm, t0) if s.label in CALLS else s for s in fused])
        for s in _owned(fused, w, acfg.boundary_overflow_s):
            events.append(
                Event(f"sound-{w.index:05d}-{len(events):03d}", "sound", s.label, s.t_start, s.t_end, s.confidence, window_index=w.index, attrs=s.attrs)
            )
        if events and models.serves(AUDIO_TEXT):  # each sound's clip in the audio-text space, for phrases no name covers
            clips = [pcm[max(0, int((e.t_start - t0) * AUDIO_RATE)) : max(0, int((e.t_end - t0) * AUDIO_RATE))] for e in events]
            return SoundsResult(events, dict(zip((e.id for e in events), zero_shot.embed_clips(models, clips))))
        return events
