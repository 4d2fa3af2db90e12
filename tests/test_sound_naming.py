"""Sounds named as people name them, on synthesised signals with exact truth: a struck tone is a bell, a horn's
harmonic blasts are a car horn (a pure beep or a square-wave buzzer is not), a walk is footsteps, and a tagger's
"train" over a rung bell does not rename the bell."""

from __future__ import annotations

import numpy as np

from orchestrator.lanes.sound_signal import SignalSound, analyse_signal
from orchestrator.lanes.sounds import fuse
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
