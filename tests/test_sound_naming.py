"""Sounds named as people name them, on synthesised signals with exact truth: a struck tone is a bell, a horn's
harmonic blasts are a car horn (a pure beep or a square-wave buzzer is not), a walk is footsteps, and a tagger's
"train" over a rung bell does not rename the bell."""

from __future__ import annotations

import numpy as np

from orchestrator.lanes.sound_signal import SignalSound, analyse_signal
from orchestrator.lanes.sounds import fold_readings, fuse
from orchestrator.sound_vocabulary import audioset_name_for

RATE = 16000
rng = np.random.default_rng(11)


def _t(d: float) -> np.ndarray:
    return np.arange(int(d * RATE)) / RATE


def _scene(duration: float, parts: list[tuple[float, np.ndarray]], noise: float = 0.003) -> np.ndarray:
    pcm = rng.standard_normal(int(duration * RATE)).astype(np.float32) * noise
    for at, x in parts:
        i = int(at * RATE)
        pcm[i : i + len(x)] += x[: len(pcm) - i].astype(np.float32)
    return pcm


def _named(pcm):
    return [(s.label, round(s.t_start, 1), s.attrs.get("pattern")) for s in analyse_signal(pcm)]


def _blast(f0: float, harmonics, d: float = 0.5) -> np.ndarray:
    t = _t(d)
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in harmonics)
    ramp = np.minimum(1, np.minimum(t, d - t) / 0.01)  # abrupt on and off (10 ms)
    return 0.1 * x * ramp


def test_a_struck_tone_is_a_bell_and_a_held_one_is_not():
    ding = 0.3 * np.sin(2 * np.pi * 880 * _t(0.6)) * np.exp(-_t(0.6) / 0.08)  # falls ~50 dB over 0.6 s
    assert _named(_scene(5, [(2, ding)])) == [("bell", 2.0, "1 strike")]
    beep = 0.2 * np.sin(2 * np.pi * 880 * _t(0.3))
    assert [g[0] for g in _named(_scene(5, [(2, beep)]))] == ["beeping"]


def test_a_horns_harmonic_blasts_are_a_car_horn_a_beep_or_a_buzzer_is_not():
    horn = _blast(400, range(1, 9))
    got = _named(_scene(6, [(2, horn), (2.8, horn)]))
    assert got == [("car horn", 2.0, "2 blasts")]
    buzzer = _blast(400, range(1, 16, 2))  # square-wave-like: odd harmonics only
    assert "car horn" not in [g[0] for g in _named(_scene(6, [(2, buzzer), (2.8, buzzer)]))]
    pure = _blast(400, [1])
    assert "car horn" not in [g[0] for g in _named(_scene(6, [(2, pure), (2.8, pure)]))]
    high = _blast(1500, range(1, 5))  # harmonic, but far above a horn's fundamental
    assert "car horn" not in [g[0] for g in _named(_scene(6, [(2, high), (2.8, high)]))]


def test_five_steps_at_a_walking_pace_are_footsteps_three_quick_hits_a_knock():
    step = np.exp(-_t(0.08) * 60) * rng.standard_normal(int(0.08 * RATE)) * 0.4
    walk = [(2 + 0.6 * k, step) for k in range(5)]
    assert _named(_scene(8, walk)) == [("footsteps", 2.0, "5 steps, 0.6 s apart")]
    knocks = [(2 + 0.25 * k, step) for k in range(3)]
    assert [g[0] for g in _named(_scene(6, knocks))] == ["knock"]


def test_a_train_heard_over_a_rung_bell_does_not_rename_it():
    bell = [SignalSound("bell", 2.0, 4.6, 0.7, {"pattern": "4 strikes"})]
    fused = fuse(bell, [("vehicle engine", 1.4, 4.8, 0.91), ("train", 1.4, 4.8, 0.91)], speech=[])
    assert [(s.label, sorted(s.attrs["tagger_labels"])) for s in fused] == [("bell", ["train", "vehicle engine"])]
    horn = [SignalSound("tone", 2.0, 4.0, 0.7, {"pattern": "2.0 s at 300 Hz"})]  # the tagger still names a tone
    assert [s.label for s in fuse(horn, [("train", 1.4, 4.8, 0.91)], speech=[])] == ["train"]


def test_audioset_bell_classes_name_a_bell():
    assert {audioset_name_for(c) for c in ("Bell", "Tuning fork", "Cowbell", "Church bell", "Bicycle bell")} == {"bell"}
    assert {audioset_name_for(c) for c in ("Vehicle horn, car horn, honking", "Toot", "Air horn, truck horn")} == {"car horn"}
    assert audioset_name_for("Walk, footsteps") == "footsteps"


def _hi_lo(f_hi: float, f_lo: float, note_s: float, notes: int) -> np.ndarray:
    """A hi-lo siren: two notes (a few harmonics each) alternating without a pause, phase continuous."""
    f = np.concatenate([np.full(int(note_s * RATE), f_hi if k % 2 == 0 else f_lo) for k in range(notes)])
    phase = 2 * np.pi * np.cumsum(f) / RATE
    return 0.15 * sum(np.sin(k * phase) / k for k in (1, 2, 3))


def test_a_hi_lo_siren_is_a_siren_not_a_tone_or_beeps():
    assert _named(_scene(10, [(2, _hi_lo(600, 450, 0.55, 8))])) == [("siren", 2.0, "two-tone (hi-lo)")]
    # the same notes with a short pause between them (each its own burst)
    note = [(2 + 0.6 * k, _hi_lo(600 if k % 2 == 0 else 450, 0, 0.55, 1)) for k in range(8)]
    assert [g[0] for g in _named(_scene(10, note))] == ["siren"]
    # one pitch repeated stays an alarm; two notes an octave apart are no siren's
    beeps = [(2 + k, 0.2 * np.sin(2 * np.pi * 2500 * _t(0.25))) for k in range(5)]
    assert [g[0] for g in _named(_scene(10, beeps))] == ["alarm"]
    assert "siren" not in [g[0] for g in _named(_scene(10, [(2, _hi_lo(880, 440, 0.55, 8))]))]


def _strike(f: float, d: float = 1.2, tau: float = 0.25) -> np.ndarray:
    return 0.3 * np.exp(-_t(d) / tau) * np.sin(2 * np.pi * f * _t(d))


def test_a_ding_dong_is_a_doorbell():
    # E5 then C5 (a major third down), the second struck while the first still rings: one burst
    assert _named(_scene(8, [(2, _strike(659)), (2.5, _strike(523))])) == [("doorbell", 2.0, "ding-dong")]
    # each note rung down before the next: two bursts
    assert _named(_scene(8, [(2, _strike(659, 0.5, 0.08)), (2.7, _strike(523, 0.5, 0.08))])) == [("doorbell", 2.0, "ding-dong")]
    twice = [(2, _strike(659)), (2.5, _strike(523)), (5, _strike(659)), (5.5, _strike(523))]
    assert _named(_scene(9, twice)) == [("doorbell", 2.0, "2 ding-dongs")]
    # one note struck twice is a bell; a rising pair is no doorbell's
    assert [g[0] for g in _named(_scene(8, [(2, _strike(659)), (3.5, _strike(659))]))] == ["bell"]
    assert "doorbell" not in [g[0] for g in _named(_scene(8, [(2, _strike(523)), (2.5, _strike(659))]))]


def test_a_broader_tag_does_not_rename_a_siren_and_a_specific_one_refines_it():
    siren = [SignalSound("siren", 2.0, 8.0, 0.7, {"pattern": "rising and falling"})]
    fused = fuse(siren, [("alarm", 1.9, 8.2, 0.9)], speech=[])
    assert [(s.label, s.attrs["tagger_labels"]) for s in fused] == [("siren", ["alarm"])]
    # only the tagger heard it: "Alarm" likelier than "Siren", the siren is what it is
    assert [s.label for s in fuse([], [("alarm", 1.9, 8.2, 0.82), ("siren", 1.9, 8.2, 0.68)], speech=[])] == ["siren"]
    # a signal alarm the tagger hears as plain beeping stays an alarm
    alarm = [SignalSound("alarm", 2.0, 7.0, 0.8, {"pattern": "6 beeps, 1.0 s apart"})]
    assert [s.label for s in fuse(alarm, [("beeping", 2.0, 7.0, 0.9)], speech=[])] == ["alarm"]


def test_dog_barks_are_one_event_with_their_count():
    from orchestrator.lanes.sounds import _count_calls

    bark = 0.3 * np.exp(-_t(0.15) * 20) * sum(np.sin(2 * np.pi * k * 520 * _t(0.15)) / k for k in (1, 2, 3))
    pcm = _scene(6, [(2.0 + 0.4 * k, bark) for k in range(3)])
    fused = fuse(analyse_signal(pcm), [("dog bark", 1.92, 3.36, 0.8)], speech=[])
    assert [s.label for s in fused] == ["dog bark"]  # the signal's blips inside the barking are its barks
    (dog,) = [_count_calls(s, pcm, 0.0) for s in fused]
    assert (dog.attrs["pattern"], round(dog.t_start, 1)) == ("3 barks, 0.4 s apart", 2.0)
    one = _scene(6, [(2.0, bark)])
    assert _count_calls(SignalSound("dog bark", 1.92, 2.88, 0.8, {"sources": ["tagger"]}), one, 0.0).attrs["pattern"] == "1 bark"


def test_a_ringers_trill_over_a_voice_is_still_a_ring():
    # an electronic ringer: 1 s bursts of a tone trilling between 1000 and 1250 Hz 20 times a second, 2 s on 2 s off
    t = _t(1.0)
    f = np.where(np.floor(t * 40) % 2 == 0, 1000.0, 1250.0)
    trill = 0.2 * np.sin(2 * np.pi * np.cumsum(f) / RATE)
    pcm = _scene(9, [(2, trill), (5, trill)])
    heard = [s.label for s in analyse_signal(pcm, speech=[(1.5, 7.0)])]  # someone talks (or the ringing is taken for talk)
    assert heard == ["ringing"]
    # a voice's pitch that wanders is still the voice
    voice = 0.2 * np.sin(2 * np.pi * np.cumsum(220 + 60 * np.sin(2 * np.pi * 3 * _t(1.0))) / RATE)
    assert analyse_signal(_scene(6, [(2, voice)]), speech=[(1.5, 3.5)]) == []


def test_in_voice_activity_a_generic_animal_tag_is_no_dog():
    from types import SimpleNamespace

    from orchestrator.lanes.sounds import tagger_runs

    patch = [SimpleNamespace(t_start=1.0, t_end=1.96, label=label, confidence=p) for label, p in (("Animal", 0.82), ("Dog", 0.32))]
    runs = dict(threshold=0.6, floor=0.3, thresholds={"dog bark": 0.45})
    assert [r[0] for r in tagger_runs(patch, audioset_name_for, **runs)] == ["dog bark"]
    in_talk = tagger_runs(patch, audioset_name_for, speech=[(0.5, 3.0)], **runs)
    assert [r[0] for r in in_talk] == ["animal"]  # which restates the voice: the lane drops it
    assert fuse([], [(n, a, b, c) for n, a, b, c in in_talk], speech=[(0.5, 3.0)]) == []
    barking = patch + [SimpleNamespace(t_start=1.0, t_end=1.96, label="Bark", confidence=0.68)]  # a dog the tagger hears itself
    assert "dog bark" in [r[0] for r in tagger_runs(barking, audioset_name_for, speech=[(0.5, 3.0)], **runs)]


def test_a_yelp_siren_is_a_siren_and_a_bark_series_is_not():
    # a yelp: 1000 +- 400 Hz, 2.5 sweeps a second for 4 s (too fast for a tonal frame but at the top of each sweep)
    yelp = 0.15 * np.sin(2 * np.pi * np.cumsum(1000 + 400 * np.sin(2 * np.pi * 2.5 * _t(4.0))) / RATE)
    assert _named(_scene(8, [(2, yelp)])) == [("siren", 2.0, "yelp, 10 sweeps")]
    # barks: the same glide over and over, but each a call of its own, with silence between them
    bark_t = _t(0.15)
    bark = 0.3 * np.exp(-bark_t * 10) * np.sin(2 * np.pi * np.cumsum(1300 - 1500 * bark_t) / RATE)
    assert "siren" not in [g[0] for g in _named(_scene(8, [(2 + 0.4 * k, bark) for k in range(10)]))]


def test_a_held_vowel_is_the_voice_a_beep_over_it_is_a_beep():
    # a vowel held for 0.2 s: 150 Hz with ten harmonics, the third (its first formant, 450 Hz) the strongest
    weights = {1: 0.3, 2: 0.6, 3: 1.0, 4: 0.5, 5: 0.3, 6: 0.2, 7: 0.15, 8: 0.1, 9: 0.08, 10: 0.05}
    vowel = 0.1 * sum(w * np.sin(2 * np.pi * k * 150 * _t(0.2)) for k, w in weights.items())
    assert analyse_signal(_scene(6, [(3, vowel)]), speech=[(2.0, 4.5)]) == []
    beep = 0.2 * np.sin(2 * np.pi * 1000 * _t(0.3))
    assert [s.label for s in analyse_signal(_scene(6, [(3, vowel), (3.5, beep)]), speech=[(2.0, 4.5)])] == ["beeping"]


def test_a_tagger_run_a_patch_wider_than_a_signal_sound_is_that_sound():
    ring = [SignalSound("ringing", 1.99, 2.93, 0.6, {"pattern": "1 ring"})]
    fused = fuse(ring, [("car horn", 1.44, 3.36, 0.82)], speech=[])  # whole patches: half a patch past it at each end
    assert [(s.label, s.attrs.get("signal_label")) for s in fused] == [("car horn", "ringing")]


def test_a_container_run_a_patch_wider_than_a_ring_holds_it_rather_than_being_it():
    ring = [SignalSound("ringing", 1.99, 2.93, 0.6, {"pattern": "1 ring"})]
    fused = fuse(ring, [("vehicle engine", 1.44, 3.36, 0.82)], speech=[])  # an engine holding a ring: its part
    assert [s.label for s in fused] == ["vehicle engine"]


def test_a_renamed_sound_keeps_its_count_in_the_new_names_words():
    beeps = [SignalSound("beeping", 0.88, 2.42, 0.6, {"pattern": "3 beeps", "n_bursts": 3})]
    (horn,) = fuse(beeps, [("car horn", 0.8, 2.5, 0.9)], speech=[])
    assert (horn.label, horn.attrs["pattern"], horn.attrs["signal_pattern"]) == ("car horn", "3 blasts", "3 beeps")


def _tagged(name: str, t0: float, t1: float, conf: float, **attrs) -> SignalSound:
    return SignalSound(name, t0, t1, conf, {"sources": ["tagger"], **attrs})


def test_one_bang_read_as_a_gunshot_and_an_explosion_is_one_event():
    """The tagger names one bang twice (a gunshot and an explosion over the same patches) and the signal heard its hit:
    one event, the likelier name, the other reading kept, the signal's count in the name's words."""
    hit = SignalSound("bang", 2.02, 2.2, 0.6, {"sources": ["signal"], "pattern": "1 hit", "n_bursts": 1})
    (bang,) = fold_readings([_tagged("explosion", 2.02, 4.33, 0.68), _tagged("gunshot", 2.02, 3.85, 0.95), hit])
    assert (bang.label, bang.t_start, bang.t_end) == ("gunshot", 2.02, 4.33)
    assert set(bang.attrs["tagger_labels"]) == {"explosion", "bang"} and bang.attrs["pattern"] == "1 shot"
    assert bang.attrs["sources"] == ["signal", "tagger"]


def test_a_moment_of_barking_heard_as_a_bird_is_the_barking():
    dog = _tagged("dog bark", 5.28, 9.62, 0.82, pattern="5 barks", n_bursts=5)
    fused = fold_readings([_tagged("animal", 5.03, 9.13, 0.91), dog, _tagged("bird", 6.72, 8.65, 0.91)])
    assert [(s.label, s.attrs["pattern"]) for s in fused] == [("dog bark", "5 barks")]


def test_a_bells_strike_is_the_bell_and_other_sounds_stay_sounds_of_their_own():
    bell = SignalSound("ringing", 43.99, 46.62, 0.9, {"sources": ["signal", "tagger"], "pattern": "4 rings"})
    strikes = [SignalSound("bang", t, t + 0.1, 0.6, {"sources": ["signal"], "n_bursts": 1}) for t in (44.58, 46.03, 47.5)]
    later = [s.t_start for s in fold_readings([bell, *strikes])]
    assert later == [43.99, 47.5]  # the hit 0.9 s after the ring ends is a sound of its own
    # two sounds of different families at one moment stay two: a siren and a dog barking over it
    siren = _tagged("siren", 1.0, 8.0, 0.95)
    assert [s.label for s in fold_readings([siren, _tagged("dog bark", 3.0, 5.0, 0.8)])] == ["siren", "dog bark"]
    # readings of one family that barely touch are two sounds: a gunshot, then an explosion that starts as it ends
    assert len(fold_readings([_tagged("gunshot", 1.0, 2.0, 0.9), _tagged("explosion", 1.8, 4.0, 0.8)])) == 2
