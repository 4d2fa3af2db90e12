"""Sounds named from the structure of the signal itself, with no model (librosa for the spectral analysis).

The audio is cut into *bursts* (stretches clearly above the background) and each burst is described by its
shape: a **steady** tone (one pitch held), a **warble** (a trill or a fast wobble of pitch: electronic ringers,
bells), a **sweep** (pitch gliding up and down over seconds: sirens), a **decaying** tone (struck: a bell,
a ding-dong), **impulsive** broadband (a bang, a knock) or **harmonic** sustained sound (music). Bursts that
belong together become one sound with a pattern, named as people name them:

- repeated short steady beeps at a regular pace → ``alarm`` ("6 beeps, 1.0 s apart"); fewer or irregular →
  ``beeping``
- warbling tonal bursts, or long steady bursts repeated in a ring cadence → ``ringing`` ("3 rings")
- struck tones (a sudden onset, then a steady exponential decay: a straight fall in dB) → ``bell`` ("1 strike")
- a horn's blast: a steady pitch with a low fundamental (250-700 Hz) and a rich series of harmonics, even ones among
  them (a reed or a diaphragm, not a pure electronic beep nor a square-wave buzzer) → ``car horn`` ("2 blasts")
- a doorbell's two struck notes, the second a third or so below the first (2.5-5.5 semitones, struck 0.15-1.5 s
  later, while the first still rings or after it) → ``doorbell`` ("ding-dong", "2 ding-dongs")
- a sweep, a yelp (a fast sweep, seen as the same short glide at the top of each cycle, 1.5-8 a second, in one
  unbroken sound), or two held notes 2-8 semitones apart alternating at a regular pace (a hi-lo siren) → ``siren``
  ("rising and falling", "yelp, 12 sweeps", "two-tone (hi-lo)"); one long steady tone → ``tone``
- one impulsive hit → ``bang``; a quick series of them → ``knock`` ("3 knocks"); four or more at a walking
  cadence (1.2-2.5 a second, roughly regular) → ``footsteps``
- sustained harmonic sound outside speech → ``music``

A series of calls a tagger names (a dog barking) is counted here too (``calls``: each call a peak of the level that
stands out of the dips around it), so its pattern says how many ("3 barks, 0.4 s apart").

Speech is not a sound: bursts inside voice activity are dropped unless they are pure steady tones (a beep over
someone talking is still a beep).

    >>> import numpy as np
    >>> t = np.arange(int(0.25 * 16000)) / 16000
    >>> beep = 0.2 * np.sin(2 * np.pi * 2500 * t)
    >>> pcm = np.zeros(16000 * 8, np.float32)
    >>> for k in range(5):
    ...     pcm[16000 * (1 + k): 16000 * (1 + k) + len(beep)] += beep
    >>> [(s.label, s.attrs["pattern"]) for s in analyse_signal(pcm)]
    [('alarm', '5 beeps, 1.0 s apart')]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..events import plural

RATE = 16000
N_FFT = 1024
HOP = 160  # 10 ms
FPS = RATE / HOP
BACKGROUND_S = 10.0  # long enough that a sound lasting a few seconds does not become its own background
MIN_FREQ_HZ = 150.0
MIN_TONE_HZ = 250.0  # tonal bursts lower than this are hum and rumble  # below: hum and rumble, not a sound anyone names


@dataclass(frozen=True)
class SignalConfig:
    rise_db: float = 10.0  # a burst stands this far above the background (its running 10th percentile)
    min_level_db: float = -50.0  # and is at least this loud (dB re full scale RMS)
    tonal: float = 0.55  # energy share of the 3 strongest spectral peaks that makes a frame tonal
    speech_tonal: float = 0.8  # inside speech only purer tones count
    min_burst_s: float = 0.08
    speech_burst_s: float = 0.15  # a tone inside voice activity must hold this long (vowels are tonal for a moment)
    group_gap_s: float = 4.5  # bursts of one sound are at most this far apart (a ring cadence is 2 s on, 4 s off)
    same_pitch: float = 0.2  # relative pitch difference of bursts of one sound
    short_burst_s: float = 0.7  # a beep is shorter than this
    regular_cv: float = 0.3  # coefficient of variation of intervals below which a pattern is regular
    impulse_s: float = 0.35  # an impulsive burst is shorter than this
    knock_gap_s: float = 0.8  # knocks of one series are at most this far apart
    music_min_s: float = 4.0
    music_chord: float = 0.45  # share of a frame's tonal energy outside its strongest peak that makes it polyphonic
    lone_beep_tonality: float = 0.75  # a single short beep is reported only when this pure
    melody_gap_s: float = 0.35  # tonal bursts of different pitch this close are notes of one tune
    speech_margin_s: float = 0.5  # a thud this close to voice activity is taken for the voice
    struck_s: float = 0.15  # a struck tone rings at least this long
    struck_drop_db: float = 8.0  # and halfway through its decay it has fallen this far from its peak
    struck_fit: float = 0.8  # along a straight line in dB (an exponential decay): r^2 of the fit
    horn_f0_hz: tuple[float, float] = (250.0, 700.0)  # a horn's fundamental (a car's is 300-500 Hz, a truck's lower)
    horn_s: tuple[float, float] = (0.2, 3.0)  # one blast
    horn_harmonics: int = 5  # of its first ten harmonics at least this many within 30 dB of the strongest
    horn_spread_st: float = 1.5  # its pitch holds within this many semitones (p10-p90, octave errors folded; dev car horn: 1.4)
    walk_steps: int = 4  # footsteps: at least this many hits
    walk_interval_s: tuple[float, float] = (0.4, 0.85)  # at a walking cadence (1.2-2.5 steps a second)
    ding_dong_st: tuple[float, float] = (2.5, 5.5)  # a doorbell's second note is a third (or so) below its first
    ding_dong_s: tuple[float, float] = (0.15, 1.5)  # and is struck this long after it
    voice_f0_hz: tuple[float, float] = (80.0, 300.0)  # a speaking voice's fundamental (men ~85-180, women ~165-255, children to ~300)
    yelp_glides: int = 5  # a yelp siren: at least this many glides at one pitch
    yelp_rate_hz: tuple[float, float] = (1.5, 8.0)  # recurring this many times a second
    yelp_min_s: float = 1.5  # over a sound lasting this long
    two_tone_st: tuple[float, float] = (2.0, 8.0)  # a hi-lo siren's two notes are this many semitones apart
    two_tone_s: tuple[float, float] = (0.2, 1.5)  # and each is held this long before the other
    call_prominence_db: float = 10.0  # one call of a series (a bark) rises this far above the dips either side of it
    call_gap_s: float = 0.12  # calls of one series are at least this far apart (a dog barks at most ~8 times a second)


@dataclass
class Burst:
    t0: float
    t1: float
    shape: str  # steady | warble | sweep | yelp | two-tone | ding-dong | glide | melodic | chord | decaying | horn | impulsive | harmonic
    freq_hz: float
    level_db: float
    tonality: float
    in_speech: float  # fraction of the burst inside voice activity
    f0_hz: float = 0.0  # a harmonic burst's fundamental, where measured
    harmonics: int = 0  # how many of its first ten harmonics are strong (a yelp: how many sweeps)

    @property
    def duration(self) -> float:
        return self.t1 - self.t0


@dataclass
class SignalSound:
    label: str
    t_start: float
    t_end: float
    confidence: float
    attrs: dict = field(default_factory=dict)


def _runs(mask: np.ndarray, fill: int = 0) -> list[tuple[int, int]]:
    """[start, end) index runs where ``mask`` holds, gaps of up to ``fill`` frames bridged."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > fill + 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]] + 1
    return list(zip(starts.tolist(), ends.tolist()))


def _frame_features(pcm: np.ndarray):
    import librosa  # noqa: PLC0415 - heavy (numba): loaded by the lane on first use, not by importing the core

    spec = np.abs(librosa.stft(pcm.astype(np.float32), n_fft=N_FFT, hop_length=HOP, center=True)) ** 2
    freqs = librosa.fft_frequencies(sr=RATE, n_fft=N_FFT)
    band = spec[freqs >= MIN_FREQ_HZ]
    bfreqs = freqs[freqs >= MIN_FREQ_HZ]
    total = band.sum(axis=0) + 1e-12
    level = librosa.power_to_db(total / (N_FFT * N_FFT / 6), ref=1.0)  # ~dBFS RMS of the band (Hann window power gain)
    # tonality: share of energy in the 3 strongest peaks (±2 bins each); chord: how much of it is not the strongest one
    from scipy.ndimage import uniform_filter1d  # noqa: PLC0415

    smooth = uniform_filter1d(band, 5, axis=0, mode="constant") * 5  # energy within ±2 bins of each bin
    work = smooth.copy()
    cols = np.arange(work.shape[1])
    shares = []
    top = np.argmax(work, axis=0)
    for _ in range(3):
        i = np.argmax(work, axis=0)
        shares.append(work[i, cols] / total)
        for k in range(-4, 5):
            work[np.clip(i + k, 0, len(work) - 1), cols] = 0
    tonality = np.clip(sum(shares), 0, 1)
    chord = 1.0 - shares[0] / np.maximum(tonality, 1e-9)
    # purity: the strongest peak against its neighbourhood (±12 bins): a partial is narrow, rumble and noise are not
    wide = uniform_filter1d(band, 25, axis=0, mode="constant") * 25
    purity = smooth[top, cols] / np.maximum(wide[top, cols], 1e-12)
    tonality = np.where(purity >= 0.6, tonality, 0.0)
    flatness = librosa.feature.spectral_flatness(S=np.sqrt(band))[0]
    return level, tonality, chord, bfreqs[top], flatness, spec


def _background(level: np.ndarray) -> np.ndarray:
    """Running background level: the 10th percentile over ``BACKGROUND_S`` around each frame."""
    from scipy.ndimage import percentile_filter  # noqa: PLC0415

    return percentile_filter(level, 10, size=int(BACKGROUND_S * FPS) | 1, mode="nearest")


def speech_share(t0: float, t1: float, speech: list[tuple[float, float]]) -> float:
    """The fraction of [t0, t1) that lies inside the voice-activity regions ``speech``."""
    inside = sum(max(0.0, min(t1, b) - max(t0, a)) for a, b in speech)
    return inside / max(t1 - t0, 1e-6)


def _semitones(freq_hz):
    """Pitch in semitones from A4 (440 Hz), for one frequency or an array of them."""
    return 12 * np.log2(np.maximum(freq_hz, 1.0) / 440.0)


def _notes(f: np.ndarray) -> int:
    """Distinct pitches (semitone bins) that each hold at least 10 % of a burst's frames."""
    semis = np.round(_semitones(f)).astype(int)
    _, counts = np.unique(semis, return_counts=True)
    return int(np.count_nonzero(counts >= max(2, 0.1 * len(f))))


def _periodic(track: np.ndarray, min_lag: int = 3, max_lag: int = 12) -> bool:
    """Whether a pitch track repeats itself every 3-12 frames (an 8-33 Hz trill), not just jitters."""
    x = track - track.mean()
    if len(x) < 3 * max_lag or not x.any():
        return False
    energy = float(np.dot(x, x))
    return max(float(np.dot(x[:-lag], x[lag:])) for lag in range(min_lag, max_lag + 1)) / energy >= 0.5


def _struck(lv: np.ndarray, cfg: SignalConfig) -> bool:
    """Whether a burst's level (dB, 10 ms frames) is a struck tone's: it peaks early (the first third) and then falls
    steadily, along a straight line in dB (an exponential decay), at least ``struck_drop_db`` by halfway through its
    decay. A beep holds its level and stops; a bell rings down.

    >>> _struck(np.r_[-30, -10 - 0.5 * np.arange(40)], SignalConfig()), _struck(np.r_[-10 * np.ones(39), -40], SignalConfig())
    (True, False)
    """
    if len(lv) < cfg.struck_s * FPS:
        return False
    peak = int(np.argmax(lv))
    body = lv[peak:]
    if peak > len(lv) / 3 or len(body) < 5 or lv[peak] - body[len(body) // 2] < cfg.struck_drop_db:
        return False
    x = np.arange(len(body))
    fit = np.polyval(np.polyfit(x, body, 1), x)
    return 1.0 - float(np.sum((body - fit) ** 2)) / max(float(np.sum((body - body.mean()) ** 2)), 1e-9) >= cfg.struck_fit


def _harmonic_profile(seg: np.ndarray, power: np.ndarray) -> tuple[float, float, int, int]:
    """A tonal burst's fundamental (median YIN estimate, Hz), how far its pitch moves (p10-p90 in semitones, folded
    into one octave: YIN's octave errors are not a change of pitch), how many of its first ten harmonics carry
    energy within 30 dB of the strongest, and how many of those are even ones (a square-wave buzzer has none)."""
    import librosa  # noqa: PLC0415

    f0 = librosa.yin(seg, fmin=100, fmax=1000, sr=RATE, frame_length=N_FFT, hop_length=HOP)
    n = min(len(f0), power.shape[1])
    if n < 3:
        return 0.0, 99.0, 0, 0
    f0, power = f0[:n], power[:, :n]
    semis = 12 * np.log2(f0 / np.median(f0))
    folded = (semis + 6) % 12 - 6
    spread = float(np.subtract(*np.percentile(folded, [90, 10])))
    energy = librosa.f0_harmonics(power, f0=f0, freqs=librosa.fft_frequencies(sr=RATE, n_fft=N_FFT), harmonics=np.arange(1, 11)).mean(axis=1)
    strong = energy >= energy.max() * 1e-3
    return float(np.median(f0)), spread, int(strong.sum()), int(strong[1::2].sum())


def _held_vowel(seg: np.ndarray, power: np.ndarray, peak_hz: float, cfg: SignalConfig) -> bool:
    """Whether a steady tonal burst is a voice's held vowel: a fundamental in the speaking range (``voice_f0_hz``) that
    holds, a rich series of harmonics, and its strongest partial one of the first few of them (a vowel's first
    formant, under ~1 kHz). A beep over a voice is a pure tone or a buzzer's high partial, not that."""
    f0, spread, harmonics, _ = _harmonic_profile(seg, power)
    if not cfg.voice_f0_hz[0] <= f0 <= cfg.voice_f0_hz[1] or spread > 2.0 or harmonics < cfg.horn_harmonics:
        return False
    k = peak_hz / f0
    return round(k) <= 4 and abs(k - round(k)) <= 0.15


def _two_tone(semis: np.ndarray, cfg: SignalConfig) -> int:
    """How many times a pitch track (semitones, 10 ms frames) alternates between two held notes a few semitones apart,
    each held ``two_tone_s`` at a regular pace: a hi-lo siren ("nee-naw"). 0 where it does not (one note, a tune of
    several, notes held irregularly).

    >>> hi_lo = np.r_[np.zeros(50), 5 * np.ones(50), np.zeros(50), 5 * np.ones(50), np.zeros(50)]
    >>> _two_tone(hi_lo, SignalConfig()), _two_tone(np.zeros(250), SignalConfig())
    (4, 0)
    """
    bins = np.round(semis).astype(int)
    values, counts = np.unique(bins, return_counts=True)
    if len(values) < 2:
        return 0
    a, b = sorted(values[np.argsort(counts)[-2:]])
    near = (np.abs(bins - a) <= 1) | (np.abs(bins - b) <= 1)
    if not cfg.two_tone_st[0] <= b - a <= cfg.two_tone_st[1] or near.mean() < 0.8:
        return 0
    high = (np.abs(bins - b) < np.abs(bins - a))[near]
    changes = np.flatnonzero(np.diff(high.astype(int)))
    held = np.diff(np.r_[0, changes + 1, len(high)]) / FPS  # each note's run
    inner = held[1:-1] if len(held) > 2 else held
    if len(changes) < 3 or not (cfg.two_tone_s[0] <= np.median(inner) <= cfg.two_tone_s[1]) or inner.std() > 0.35 * inner.mean():
        return 0
    return int(len(changes))


def _ding_dong(semis: np.ndarray, lv: np.ndarray, cfg: SignalConfig) -> bool:
    """Whether one tonal burst (pitch in semitones and level in dB, 10 ms frames) is a doorbell's two struck notes, the
    second struck while the first still rings: a higher note, then a lower one ``ding_dong_st`` below it that starts
    ``ding_dong_s`` after it with a new strike (its level rises again) and then rings down.

    >>> ding = -10 - 0.3 * np.arange(60)
    >>> _ding_dong(np.r_[4 * np.ones(60), np.zeros(80)], np.r_[ding, -8 - 0.3 * np.arange(80)], SignalConfig())
    True
    >>> _ding_dong(np.r_[4 * np.ones(60), np.zeros(80)], -10 * np.ones(140), SignalConfig())  # held notes: not struck
    False
    """
    bins = np.round(semis).astype(int)
    head = bins[: max(1, int(cfg.ding_dong_s[0] * FPS))]
    hi = int(np.bincount(head - head.min()).argmax() + head.min())  # the first note: the commonest pitch of its start
    lows = bins[bins <= hi - cfg.ding_dong_st[0]]
    if len(lows) < cfg.struck_s * FPS:
        return False
    lo = int(np.bincount(lows - lows.min()).argmax() + lows.min())  # the second: the commonest pitch well below it
    if not cfg.ding_dong_st[0] <= hi - lo <= cfg.ding_dong_st[1]:
        return False
    is_hi, is_lo = np.abs(bins - hi) <= 1, np.abs(bins - lo) <= 1
    split = int(np.argmax(is_lo))  # where the second note starts
    if not cfg.ding_dong_s[0] * FPS <= split <= cfg.ding_dong_s[1] * FPS or is_hi[:split].mean() < 0.8 or is_lo[split:].mean() < 0.8:
        return False
    restruck = float(lv[split : split + 5].max()) >= float(lv[max(0, split - 3) : split].mean()) + 3.0
    return restruck and int(np.argmax(lv[:split])) <= split / 3 and _struck(lv[split:], cfg)


def _shape_of_tonal(f: np.ndarray, lv: np.ndarray, chord: float, cfg: SignalConfig = SignalConfig()) -> str:
    dur = len(f) / FPS
    lo, hi = np.percentile(f, [5, 95])
    mid = (lo + hi) / 2
    spread = (hi - lo) / max(mid, 1.0)
    centred = np.sign(f - mid)
    reversals = np.count_nonzero(np.diff(centred[centred != 0])) / dur
    semis = _semitones(f)
    visited = len(np.unique(np.round(semis)))
    if spread > 0.25 and dur >= 0.8 and reversals < 16 and visited >= 5 and float(np.median(np.abs(np.diff(semis)))) < 0.5:
        return "sweep"  # a glide through many pitches, smoothly: a wail, or a yelp (a few glides a second)
    if spread > 0.06 and reversals >= 16 and _periodic(semis):
        return "warble"  # a trill: pitch alternating regularly, 8 or more times a second
    if dur >= 1.0 and _two_tone(semis, cfg):
        return "two-tone"  # a hi-lo siren: two held notes, alternating
    if dur >= 2 * cfg.struck_s and _ding_dong(semis, lv, cfg):
        return "ding-dong"  # a doorbell: two struck notes, the second a third or so lower
    if spread > 0.06 and np.mean(np.abs(np.diff(semis)) < 0.3) < 0.7:
        return "glide"  # pitch moving without holding: a voice, a bark; not a sound this analysis names
    if chord > 0.45:
        return "chord"
    if _notes(f) >= 3:
        return "melodic"  # held notes, in steps
    if _struck(lv, cfg):
        return "decaying"  # struck: a bell, a chime, a ding
    return "steady"


def _yelps(bursts: list[Burst], level: np.ndarray, active: np.ndarray, times: np.ndarray, cfg: SignalConfig) -> list[Burst]:
    """A yelp siren sweeps up and down several times a second, too fast for a tonal frame but at the top of each sweep,
    where it slows: there it leaves a short glide, at one pitch, again and again. One unbroken sound (no pause between
    calls, as barks have) lasting ``yelp_min_s`` or more, outside speech, in which such glides recur at a regular pace
    of ``yelp_rate_hz`` within a semitone or two of one pitch, is one ``yelp`` burst in their place."""
    glides = [b for b in bursts if b.shape == "glide"]
    if len(glides) < cfg.yelp_glides:
        return bursts
    out = [b for b in bursts if b.shape != "glide"]
    taken: set[int] = set()
    for a, b in _runs(active, fill=int(0.1 * FPS)):
        t0, t1 = float(times[a]), float(times[b - 1]) + 1 / FPS
        if t1 - t0 < cfg.yelp_min_s:
            continue
        inside = [g for g in glides if g.t0 >= t0 - 1e-6 and g.t1 <= t1 + 1e-6]
        if len(inside) < cfg.yelp_glides:
            continue
        logf = np.log([g.freq_hz for g in inside])
        close = np.abs(logf[:, None] - logf[None, :]) < cfg.same_pitch / 2
        same = [g for g, near in zip(inside, close[int(np.argmax(close.sum(axis=1)))]) if near]  # the commonest pitch (the top, or the foot)
        pitch = float(np.median([g.freq_hz for g in same]))
        regular, interval = _regular([g.t0 for g in same], cfg)
        if len(same) < cfg.yelp_glides or not regular or not 1 / cfg.yelp_rate_hz[1] <= interval <= 1 / cfg.yelp_rate_hz[0]:
            continue
        taken |= {id(g) for g in inside}
        tonality = float(np.mean([g.tonality for g in same]))
        out.append(Burst(round(t0, 3), round(t1, 3), "yelp", round(pitch, 1), float(level[a:b].max()), tonality, 0.0, harmonics=len(same)))
    return sorted(out + [g for g in glides if id(g) not in taken], key=lambda x: x.t0)


def find_bursts(pcm: np.ndarray, speech: list[tuple[float, float]] = (), cfg: SignalConfig = SignalConfig(), offset_s: float = 0.0) -> list[Burst]:
    """Bursts of sound standing out of the background, each with its shape (times in seconds plus ``offset_s``)."""
    if len(pcm) < N_FFT:
        return []
    pcm = np.nan_to_num(np.asarray(pcm, np.float32), nan=0.0, posinf=0.0, neginf=0.0)  # a damaged stream must not stop the lane
    level, tonality, chord, freq, flatness, spec = _frame_features(pcm)
    background = _background(level)
    active = (level > background + cfg.rise_db) & (level > cfg.min_level_db)
    times = offset_s + np.arange(len(level)) / FPS
    speaking = np.zeros(len(level), bool)
    for a, b in speech:
        speaking |= (times >= a) & (times < b)
    bursts: list[Burst] = []
    # sustained polyphony outside speech is music, however long it lasts (so not measured against the background,
    # which a sound longer than ``BACKGROUND_S`` becomes)
    polyphonic = (level > cfg.min_level_db) & (tonality >= cfg.tonal) & (chord >= cfg.music_chord) & ~speaking
    in_music = np.zeros(len(level), bool)
    for a, b in _runs(polyphonic, fill=int(0.3 * FPS)):
        if (b - a) / FPS >= cfg.music_min_s and polyphonic[a:b].mean() >= 0.6:
            in_music[a:b] = True
            bursts.append(
                Burst(
                    round(float(times[a]), 3),
                    round(float(times[b - 1]) + 1 / FPS, 3),
                    "harmonic",
                    0.0,
                    float(level[a:b].max()),
                    float(tonality[a:b].mean()),
                    0.0,
                )
            )
    # tonal bursts, frame by frame: a beep over someone talking is found inside the speech, but there only pure tones count
    tonal = active & ~in_music & (tonality >= np.where(speaking, cfg.speech_tonal, cfg.tonal))
    for a, b in _runs(tonal, fill=3):
        t0, t1 = float(times[a]), float(times[b - 1]) + 1 / FPS
        if t1 - t0 < cfg.min_burst_s:
            continue
        if float(np.median(freq[a:b])) < MIN_TONE_HZ:
            continue  # a low hum or rumble: tonal, but nothing people call a tone
        shape = _shape_of_tonal(freq[a:b], level[a:b], float(np.median(chord[a:b])), cfg)
        speech_frac = float(speaking[a:b].mean())
        if speech_frac > 0.3 and (shape not in ("steady", "warble") or t1 - t0 < cfg.speech_burst_s):
            # pitch that moves, or holds only for a moment, inside voice activity is the voice; a pure tone or an
            # electronic trill (a ringer: pitch alternating 8+ times a second, like clockwork) is not, over a voice or
            # where the voice detector takes the ringing itself for one
            continue
        f = freq[a:b]
        if (
            speech_frac > 0.3
            and shape == "steady"
            and _held_vowel(pcm[int((t0 - offset_s) * RATE) : int((t1 - offset_s) * RATE)], spec[:, a:b], float(np.median(f)), cfg)
        ):
            continue  # a vowel held for a moment: the voice, however steady
        centre = float(np.sqrt(np.prod(np.percentile(f, [5, 95])))) if shape in ("warble", "sweep", "two-tone") else float(np.median(f))
        f0, harmonics = 0.0, 0
        if shape in ("steady", "melodic", "chord", "decaying") and speech_frac <= 0.3 and cfg.horn_s[0] <= t1 - t0 <= cfg.horn_s[1]:
            # the strongest peak of a horn hops between its harmonics (so "melodic" or "chord"); its fundamental holds
            f0, spread, harmonics, even = _harmonic_profile(pcm[int((t0 - offset_s) * RATE) : int((t1 - offset_s) * RATE)], spec[:, a:b])
            if cfg.horn_f0_hz[0] <= f0 <= cfg.horn_f0_hz[1] and spread <= cfg.horn_spread_st and harmonics >= cfg.horn_harmonics and even >= 2:
                shape = "horn"
        bursts.append(
            Burst(round(t0, 3), round(t1, 3), shape, centre, float(level[a:b].max()), float(tonality[a:b].mean()), speech_frac, round(f0, 1), harmonics)
        )
    bursts = _yelps(bursts, level, active & ~speaking & ~in_music, times, cfg)
    near_tonal = np.convolve(tonal, np.ones(7), mode="same") > 0
    for a, b in _runs(active & ~near_tonal & ~speaking & ~in_music, fill=3):
        t0, t1 = float(times[a]), float(times[b - 1]) + 1 / FPS
        dur = t1 - t0
        lv = level[a:b]
        if dur < cfg.min_burst_s / 2:
            continue
        jump = float(lv.max() - background[a])
        if dur <= cfg.impulse_s and jump >= cfg.rise_db + 5 and float(flatness[a:b].max()) > 0.05:
            bursts.append(Burst(round(t0, 3), round(t1, 3), "impulsive", 0.0, float(lv.max()), float(tonality[a:b].mean()), 0.0))
        elif dur >= cfg.music_min_s and _harmonic_share(spec[:, a:b]) > 0.6:
            bursts.append(Burst(round(t0, 3), round(t1, 3), "harmonic", 0.0, float(lv.max()), float(tonality[a:b].mean()), 0.0))
    # a short sudden sound neither rule took (a thud: a footstep, a boot, a door, its energy in a few low partials, so
    # neither noise-like nor a tone that lasts): over as fast as it came, it is a hit; not next to voice activity,
    # whose edges are a syllable off (a plosive just before a region starts is the voice)
    near_speech = np.zeros(len(level), bool)
    for a, b in speech:
        near_speech |= (times >= a - cfg.speech_margin_s) & (times < b + cfg.speech_margin_s)
    for a, b in _runs(active & ~near_speech & ~in_music, fill=3):
        t0, t1 = float(times[a]), float(times[b - 1]) + 1 / FPS
        if not cfg.min_burst_s / 2 <= t1 - t0 <= cfg.impulse_s or any(x.t0 < t1 and x.t1 > t0 for x in bursts):
            continue
        if float(level[a:b].max() - background[a]) >= cfg.rise_db + 5:
            bursts.append(Burst(round(t0, 3), round(t1, 3), "impulsive", 0.0, float(level[a:b].max()), float(tonality[a:b].mean()), 0.0))
    return sorted(bursts, key=lambda x: x.t0)


def calls(pcm: np.ndarray, t0: float, t1: float, offset_s: float = 0.0, cfg: SignalConfig = SignalConfig()) -> list[float]:
    """The onsets (s, plus ``offset_s``) of the separate calls in [t0, t1) of ``pcm``: a bark series is one sound, and
    each bark a peak of its level (30 ms smoothed) that stands ``call_prominence_db`` above the dips either side of it
    (scipy's peak prominence, within a second), above the background, at least ``call_gap_s`` after the one before.
    A bark's own tail or a growl under it is not a new call: it does not rise again that far.

    >>> t = np.arange(int(0.15 * RATE)) / RATE
    >>> bark = 0.3 * np.sin(2 * np.pi * 500 * t) * np.exp(-t * 20)
    >>> pcm = np.zeros(RATE * 3, np.float32)
    >>> for at in (0.5, 0.9, 1.5):
    ...     pcm[int(at * RATE) : int(at * RATE) + len(bark)] += bark
    >>> [round(x, 1) for x in calls(pcm, 0.0, 3.0)]
    [0.5, 0.9, 1.5]
    """
    from scipy.ndimage import uniform_filter1d  # noqa: PLC0415
    from scipy.signal import find_peaks  # noqa: PLC0415

    a, b = max(0, int((t0 - offset_s) * RATE)), min(len(pcm), int((t1 - offset_s) * RATE))
    if b - a < N_FFT:
        return []
    pcm = np.nan_to_num(np.asarray(pcm, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    level = _frame_features(pcm)[0]  # the whole stretch, so the background is the one the bursts were measured against
    background = _background(level)
    pad = int(0.3 * FPS)  # a call that starts or ends the stretch rises before it and falls past it
    i0, i1 = max(0, int(a / HOP) - pad), min(len(level), int(b / HOP) + pad)
    smooth = uniform_filter1d(level[i0:i1], 3, mode="nearest")
    peaks, _ = find_peaks(smooth, prominence=cfg.call_prominence_db, distance=max(1, int(cfg.call_gap_s * FPS)), wlen=int(FPS) | 1)
    peaks = [p for p in peaks if a / HOP - 0.1 * FPS <= i0 + p < b / HOP and smooth[p] > background[i0 + p] + cfg.rise_db and smooth[p] > cfg.min_level_db]
    out = []
    for p in peaks:  # each call's onset: where its rise began (the last frame more than the prominence below its peak)
        before = np.flatnonzero(smooth[: p + 1] < smooth[p] - cfg.call_prominence_db)
        start = int(before[-1]) + 1 if len(before) else 0
        out.append(round(offset_s + (i0 + start) / FPS, 3))
    return out


def _harmonic_share(spec: np.ndarray) -> float:
    import librosa  # noqa: PLC0415

    harmonic, percussive = librosa.decompose.hpss(spec, power=2.0)
    return float(harmonic.sum() / max(harmonic.sum() + percussive.sum(), 1e-12))


def _regular(onsets: list[float], cfg: SignalConfig) -> tuple[bool, float]:
    if len(onsets) < 3:
        return False, float(np.diff(onsets).mean()) if len(onsets) == 2 else 0.0
    gaps = np.diff(onsets)
    return bool(gaps.std() / max(gaps.mean(), 1e-6) < cfg.regular_cv), float(np.median(gaps))


def group_bursts(bursts: list[Burst], cfg: SignalConfig = SignalConfig()) -> list[SignalSound]:
    """Bursts that belong together (same kind, similar pitch, close in time) become one named sound."""
    sounds: list[SignalSound] = []
    tonal = [b for b in bursts if b.shape not in ("impulsive", "harmonic", "glide")]
    tonal, music = _music_stretches(tonal, cfg)
    sounds += music
    groups: list[list[Burst]] = []
    for b in sorted(tonal, key=lambda x: x.t0):
        for g in reversed(groups[-3:]):
            last = g[-1]
            same_pitch = abs(np.log(max(b.freq_hz, 1) / max(last.freq_hz, 1))) < cfg.same_pitch or "sweep" in (b.shape, last.shape)
            melody = b.t0 - last.t1 <= cfg.melody_gap_s  # notes of one tune follow each other closely
            # or are struck one soon after the other (a doorbell's ding-dong, each ringing down)
            melody = melody or (b.shape == last.shape == "decaying" and b.t0 - last.t0 <= cfg.ding_dong_s[1])
            if b.t0 - last.t1 <= cfg.group_gap_s and (same_pitch or melody):
                g.append(b)
                break
        else:
            groups.append([b])
    for g in groups:
        if len(g) == 1 and g[0].shape == "steady" and g[0].duration < cfg.short_burst_s and g[0].tonality < cfg.lone_beep_tonality:
            continue  # one short, impure blip is too little to name
        sounds.append(_name_tonal_group(g, cfg))
    impulses = sorted((b for b in bursts if b.shape == "impulsive"), key=lambda x: x.t0)
    series: list[list[Burst]] = []
    for b in impulses:
        if series and b.t0 - series[-1][-1].t1 <= cfg.knock_gap_s:
            series[-1].append(b)
        else:
            series.append([b])
    for s in series:
        loud = max(b.level_db for b in s)
        n = len(s)
        regular, interval = _regular([b.t0 for b in s], cfg)
        if n >= 8 and interval < 0.3:
            label, pattern = "applause", f"{n} claps"
        elif n >= cfg.walk_steps and regular and cfg.walk_interval_s[0] <= interval <= cfg.walk_interval_s[1]:
            label, pattern = "footsteps", f"{n} steps, {interval:.1f} s apart"
        elif n >= 2:
            label, pattern = "knock", plural(n, "knock")
        else:
            label, pattern = "bang", "1 hit"
        sounds.append(
            SignalSound(
                label,
                s[0].t0,
                s[-1].t1,
                round(min(0.9, 0.5 + 0.1 * n), 3),
                {"pattern": pattern, "n_bursts": n, "shape": "impulsive", "level_db": round(loud, 1)},
            )
        )
    for b in (b for b in bursts if b.shape == "harmonic"):
        sounds.append(SignalSound("music", b.t0, b.t1, 0.5, {"pattern": f"{b.duration:.0f} s of sustained harmonic sound", "shape": "harmonic"}))
    return sorted(sounds, key=lambda s: s.t_start)


def _music_stretches(tonal: list[Burst], cfg: SignalConfig) -> tuple[list[Burst], list[SignalSound]]:
    """Dense runs of tonal bursts in many pitches (a tune, chords) become music; the rest is returned for grouping."""
    chains: list[list[Burst]] = []
    for b in sorted(tonal, key=lambda x: x.t0):
        if chains and b.t0 - max(x.t1 for x in chains[-1]) <= 1.0:
            chains[-1].append(b)
        else:
            chains.append([b])
    rest, music = [], []
    for c in chains:
        span = max(x.t1 for x in c) - c[0].t0
        pitches = len({round(float(_semitones(x.freq_hz))) for x in c})
        coverage = sum(x.duration for x in c) / max(span, 1e-6)
        chords = sum(x.duration for x in c if x.shape == "chord") / max(span, 1e-6)
        if span >= cfg.music_min_s + 2 and coverage >= 0.5 and (pitches >= 4 or chords >= 0.5):
            music.append(
                SignalSound(
                    "music",
                    c[0].t0,
                    max(x.t1 for x in c),
                    round(min(0.8, 0.4 + 0.05 * pitches), 3),
                    {"pattern": f"{span:.0f} s, {pitches} pitches", "shape": "melodic", "n_bursts": len(c)},
                )
            )
        else:
            rest += c
    return rest, music


def _struck_pairs(g: list[Burst], cfg: SignalConfig) -> bool:
    """Whether a group is a doorbell's struck notes, each a burst of its own: pairs of a higher note and one
    ``ding_dong_st`` below it struck ``ding_dong_s`` later (the doorbell pressed once, or a few times)."""
    if len(g) % 2 or any(b.shape != "decaying" for b in g):
        return False
    for ding, dong in zip(g[::2], g[1::2]):
        drop = float(_semitones(ding.freq_hz) - _semitones(dong.freq_hz))
        if not cfg.ding_dong_st[0] <= drop <= cfg.ding_dong_st[1] or not cfg.ding_dong_s[0] <= dong.t0 - ding.t0 <= cfg.ding_dong_s[1]:
            return False
    return True


def _alternating(g: list[Burst], cfg: SignalConfig) -> bool:
    """Whether a group's bursts are a hi-lo siren's notes, each a burst of its own: held ``two_tone_s``, one after the
    other with no pause to speak of, alternating between two pitches a few semitones apart (4 notes at least)."""
    if len(g) < 4 or any(b.shape not in ("steady", "horn") for b in g):
        return False
    if any(not cfg.two_tone_s[0] <= b.duration <= cfg.two_tone_s[1] for b in g) or any(b.t0 - a.t1 > 0.15 for a, b in zip(g, g[1:])):
        return False
    steps = np.diff(_semitones(np.array([b.freq_hz for b in g])))
    return bool(
        np.all(steps[1:] * steps[:-1] < 0)
        and np.all(np.abs(np.abs(steps) - np.abs(steps).mean()) <= 1.0)
        and cfg.two_tone_st[0] <= np.abs(steps).mean() <= cfg.two_tone_st[1]
    )


def _name_tonal_group(g: list[Burst], cfg: SignalConfig) -> SignalSound:
    n = len(g)
    onsets = [b.t0 for b in g]
    regular, interval = _regular(onsets, cfg)
    shapes = [b.shape for b in g]
    mean_dur = float(np.mean([b.duration for b in g]))
    freq = float(np.median([b.freq_hz for b in g]))
    attrs = {"n_bursts": n, "frequency_hz": round(freq, 1), "shape": max(set(shapes), key=shapes.count), "burst_s": round(mean_dur, 2)}
    tonality = float(np.mean([b.tonality for b in g]))
    span = g[-1].t1 - g[0].t0
    pitches = len({round(float(_semitones(b.freq_hz))) for b in g})
    if shapes.count("sweep") * 2 >= n:
        label, pattern = "siren", ("rising and falling" if n == 1 else f"{n} wails")
    elif shapes.count("yelp") * 2 >= n:
        label, pattern = "siren", f"yelp, {sum(b.harmonics for b in g if b.shape == 'yelp')} sweeps"
    elif shapes.count("two-tone") * 2 >= n or _alternating(g, cfg):
        label, pattern = "siren", "two-tone (hi-lo)"
    elif shapes.count("horn") * 2 >= n:
        label, pattern = "car horn", plural(n, "blast")
        attrs["fundamental_hz"] = round(float(np.median([b.f0_hz for b in g if b.shape == "horn"])), 1)
    elif shapes.count("ding-dong") * 2 >= n or _struck_pairs(g, cfg):
        pairs = max(shapes.count("ding-dong"), n // 2 if "ding-dong" not in shapes else 0)
        label, pattern = "doorbell", "ding-dong" if pairs == 1 else f"{pairs} ding-dongs"
    elif shapes.count("decaying") * 2 >= n and "warble" not in shapes:
        label, pattern = "bell", plural(n, "strike") + (f", {interval:.1f} s apart" if n >= 3 and regular else "")
    elif (shapes.count("warble") + shapes.count("decaying") + shapes.count("melodic") + shapes.count("chord")) * 2 >= n or pitches >= 3:
        label, pattern = "ringing", plural(n, "ring")
    elif mean_dur < cfg.short_burst_s:
        if n >= 3 and regular:
            label, pattern = "alarm", f"{n} beeps, {interval:.1f} s apart"
        elif n >= 6:  # a long series of beeps in a cadence (groups of beeps) is an alarm too
            label, pattern = "alarm", f"{n} beeps in {span:.0f} s"
        else:
            label, pattern = "beeping", plural(n, "beep")
    elif n >= 2 and regular or n == 2:
        label, pattern = "ringing", plural(n, "ring")  # long steady bursts in a cadence: a ringer
    else:
        label, pattern = "tone", f"{mean_dur:.1f} s at {freq:.0f} Hz"
    confidence = round(min(0.95, 0.4 + 0.4 * tonality + (0.1 if n >= 3 and regular else 0.0)), 3)
    return SignalSound(label, g[0].t0, g[-1].t1, confidence, {"pattern": pattern, **attrs})


def analyse_signal(pcm: np.ndarray, speech: list[tuple[float, float]] = (), cfg: SignalConfig = SignalConfig(), offset_s: float = 0.0) -> list[SignalSound]:
    """The named sounds in ``pcm`` (16 kHz mono), times in seconds plus ``offset_s``."""
    return group_bursts(find_bursts(pcm, list(speech), cfg, offset_s), cfg)
