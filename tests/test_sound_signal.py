"""The sounds lane's naming, on synthesised sounds with exact truth (no Triton, no media files): one event per
sound with its pattern, nothing reported for speech, and tagger labels fused into the signal's events."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.lanes.sound_signal import analyse_signal
from orchestrator.lanes.sounds import fuse

RATE = 16000
rng = np.random.default_rng(7)


def _t(d: float) -> np.ndarray:
    return np.arange(int(d * RATE)) / RATE


def _scene(duration: float, parts: list[tuple[float, np.ndarray]], noise: float = 0.003) -> np.ndarray:
    pcm = rng.standard_normal(int(duration * RATE)).astype(np.float32) * noise
    for at, x in parts:
        i = int(at * RATE)
        pcm[i : i + len(x)] += x[: len(pcm) - i].astype(np.float32)
    return pcm


def _named(pcm, speech=()):
    return [(s.label, round(s.t_start, 1), round(s.t_end, 1), s.attrs.get("pattern")) for s in analyse_signal(pcm, speech)]


def test_six_beeps_are_one_alarm_with_its_pattern():
    beep = 0.2 * np.sin(2 * np.pi * 3000 * _t(0.2))
    got = _named(_scene(12, [(2 + k, beep) for k in range(6)]))
    assert got == [("alarm", 2.0, 7.2, "6 beeps, 1.0 s apart")]


@pytest.mark.parametrize(
    "ring",
    [
        0.15 * (np.sin(2 * np.pi * 440 * _t(2)) + np.sin(2 * np.pi * 480 * _t(2))),  # a dual-tone ringer, 2 s on, 4 s off
        0.2 * np.sin(2 * np.pi * (1000 + 200 * np.sign(np.sin(2 * np.pi * 20 * _t(2)))) * _t(2)),  # a 20 Hz trill
    ],
)
def test_a_ring_cadence_is_one_ringing(ring):
    got = _named(_scene(20, [(1, ring), (7, ring), (13, ring)]))
    assert [g[0] for g in got] == ["ringing"] and got[0][3] == "3 rings" and abs(got[0][1] - 1.0) < 0.1


def test_a_wail_is_a_siren_and_knocks_are_one_knock():
    sweep = _t(6)
    siren = 0.2 * np.sin(2 * np.pi * np.cumsum(800 + 400 * np.sin(2 * np.pi * 0.25 * sweep)) / RATE)
    assert [g[0] for g in _named(_scene(10, [(2, siren)]))] == ["siren"]
    knock = np.exp(-_t(0.06) * 80) * rng.standard_normal(int(0.06 * RATE)) * 0.5
    assert _named(_scene(6, [(2, knock), (2.5, knock), (3.0, knock)])) == [("knock", 2.0, 3.1, "3 knocks")]
    assert _named(_scene(6, [(3, 2 * knock)])) == [("bang", 3.0, 3.1, "1 hit")]


def test_speech_is_not_a_sound_but_a_beep_over_it_is():
    # a voice-like signal: a 140 Hz buzz with moving formant-ish harmonics, marked as voice activity
    t = _t(3)
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    voice = sum((0.05 / k) * np.sin(2 * np.pi * np.cumsum(k * f0) / RATE) for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)
    assert _named(_scene(6, [(1, voice)]), speech=[(1.0, 4.0)]) == []
    beep = 0.2 * np.sin(2 * np.pi * 2500 * _t(0.25))
    got = _named(_scene(6, [(1, voice), (2.5, beep)]), speech=[(1.0, 4.0)])
    assert [g[0] for g in got] == ["beeping"] and abs(got[0][1] - 2.5) <= 0.15


def test_fusion_one_event_per_sound():
    signal = analyse_signal(_scene(12, [(2 + k, 0.2 * np.sin(2 * np.pi * 3000 * _t(0.2))) for k in range(6)]))
    fused = fuse(
        signal, [("animal", 3.0, 6.0, 0.9), ("noise", 0.0, 3.0, 0.9), ("human voice", 8.0, 11.0, 0.8), ("siren", 20.0, 23.0, 0.7)], speech=[(8.0, 11.0)]
    )
    # the species tag over the beeps is folded into the alarm, noise and speech-restating tags are dropped, the siren stays
    assert [(s.label, s.attrs["sources"]) for s in fused] == [("alarm", ["signal", "tagger"]), ("siren", ["tagger"])]
    dog = fuse(signal, [("dog bark", 2.0, 5.0, 0.6)], speech=[])
    assert dog[0].label == "dog bark" and dog[0].attrs["signal_label"] == "alarm"  # a trained model's name beats the shape
    voice = fuse(signal, [("human voice", 2.0, 5.0, 0.9)], speech=[])  # outside speech: a catch-all tag, not a name
    assert voice[0].label == "alarm" and voice[0].attrs["tagger_labels"] == ["human voice"]


def test_fusion_keeps_different_tags_apart_and_a_long_tag_whole():
    fused = fuse([], [("dog bark", 20.0, 23.0, 0.6), ("car horn", 20.0, 23.0, 0.7), ("siren", 21.0, 29.0, 0.5)], speech=[])
    assert sorted((s.label, s.t_start, s.t_end) for s in fused) == [("car horn", 20.0, 23.0), ("dog bark", 20.0, 23.0), ("siren", 21.0, 29.0)]
    alarm = analyse_signal(_scene(12, [(2 + k, 0.2 * np.sin(2 * np.pi * 3000 * _t(0.2))) for k in range(4)]))
    fused = fuse(alarm, [("music", 0.0, 40.0, 0.8)], speech=[])  # 40 s of music is not the 4 s alarm inside it
    assert sorted(s.label for s in fused) == ["alarm", "music"]


def test_fusion_takes_the_taggers_likeliest_name_for_one_signal():
    rings = analyse_signal(_scene(12, [(2 + 2 * k, 0.2 * np.sin(2 * np.pi * 3000 * _t(0.2))) for k in range(3)]))
    # a phone ring scores "telephone" and, lower, "alarm": one sound, called a phone, whatever order the runs come in
    tags = [("alarm", 2.0, 7.5, 0.68), ("telephone ringing", 2.0, 7.5, 0.82)]
    for order in (tags, tags[::-1]):
        hosted = fuse(rings, order, speech=[])
        assert [s.label for s in hosted] == ["telephone ringing"] and hosted[0].attrs["tagger_labels"] == ["telephone ringing", "alarm"]
        alone = fuse([], order, speech=[])
        assert [(s.label, s.attrs["tagger_labels"]) for s in alone] == [("telephone ringing", ["alarm"])]
    # sounds of different kinds at one time stay apart
    assert sorted(s.label for s in fuse([], [("telephone ringing", 2.0, 7.5, 0.82), ("dog bark", 3.0, 4.0, 0.7)], speech=[])) == [
        "dog bark",
        "telephone ringing",
    ]


def test_bursts_inside_music_are_its_notes_not_sounds_of_their_own():
    from orchestrator.lanes.sound_signal import SignalSound

    def burst(label, t0, t1):
        return SignalSound(label, t0, t1, 0.7, {})

    signal = [burst("knock", 2.0, 2.3), burst("bang", 3.0, 3.4), burst("beeping", 6.0, 6.2), burst("knock", 20.0, 20.2)]
    fused = fuse(signal, [("music", 3.8, 12.0, 0.9)], speech=[])
    # the quiet intro's hits chain into the music's start; the beep inside it is a note; a knock 8 s later is a knock
    assert [(s.label, s.t_start, s.t_end) for s in fused] == [("music", 2.0, 12.0), ("knock", 20.0, 20.2)]
    assert fused[0].attrs["parts"] == 3
    # a sound the tagger also names inside the music stays a sound of its own
    fused = fuse(signal[:3], [("music", 3.8, 12.0, 0.9), ("beeping", 5.9, 6.9, 0.8)], speech=[])
    assert sorted(s.label for s in fused) == ["beeping", "music"]


def test_one_patch_read_differently_inside_a_long_sound_is_that_sound():
    from orchestrator.lanes.sound_signal import SignalSound

    siren = [SignalSound("siren", 35.0, 45.0, 0.7, {"pattern": "2 wails"})]
    # the siren's onset patch also scored "music": one sound, the siren, with the other reading kept
    fused = fuse(siren, [("siren", 35.0, 45.0, 0.99), ("music", 34.9, 35.9, 0.82)], speech=[])
    assert [(s.label, s.attrs["tagger_labels"]) for s in fused] == [("siren", ["siren", "music"])]
    # a longer run of another name is a sound of its own, and so is a short one beside a short sound
    fused = fuse(siren, [("siren", 35.0, 45.0, 0.99), ("dog bark", 38.0, 41.0, 0.8)], speech=[])
    assert sorted(s.label for s in fused) == ["dog bark", "siren"]
    beep = [SignalSound("beeping", 2.0, 4.0, 0.7, {})]
    assert sorted(s.label for s in fuse(beep, [("dog bark", 2.5, 3.4, 0.8)], speech=[])) == ["beeping", "dog bark"]


def test_a_sob_inside_speech_is_the_voices():
    # like a shout: crying scored over voice activity restates the speech lane; outside speech it is a sound
    assert fuse([], [("crying", 27.7, 29.2, 0.82)], speech=[(27.8, 30.0)]) == []
    assert [s.label for s in fuse([], [("crying", 27.7, 29.2, 0.82)], speech=[])] == ["crying"]


def test_a_ring_cadence_stays_a_ring_when_the_tagger_hears_only_music():
    from orchestrator.lanes.sound_signal import SignalSound

    rings = [SignalSound("ringing", 2.0, 7.0, 0.7, {"pattern": "3 rings"})]
    fused = fuse(rings, [("music", 1.4, 8.6, 0.99)], speech=[])  # a melodic ringtone: patches of it are music
    assert [(s.label, s.attrs["tagger_labels"]) for s in fused] == [("ringing", ["music"])]
    # the tagger naming the device still renames it
    fused = fuse(rings, [("music", 1.4, 8.6, 0.99), ("telephone ringing", 2.0, 7.0, 0.7)], speech=[])
    assert [s.label for s in fused] == ["telephone ringing"]


def test_tagger_patches_become_runs_of_one_name():
    from types import SimpleNamespace

    from orchestrator.lanes.sounds import tagger_runs
    from orchestrator.sound_vocabulary import audioset_name_for

    def hit(t0, label, p):
        return SimpleNamespace(t_start=t0, t_end=t0 + 0.96, label=label, confidence=p)

    hits = [
        hit(0.0, "Music", 0.9),
        hit(0.48, "Piano", 0.7),
        hit(0.96, "Music", 0.8),
        hit(5.0, "Music", 0.9),
        hit(5.0, "Speech", 0.99),
        hit(7.0, "Dog", 0.55),
        hit(7.0, "Bark", 0.7),
    ]
    runs = tagger_runs(hits, audioset_name_for, threshold=0.6)
    assert runs == [("music", 0.0, 1.92, 0.9), ("music", 5.0, 5.96, 0.9), ("dog bark", 7.0, 7.96, 0.7)]


def test_damaged_audio_does_not_stop_the_lane():
    pcm = _scene(6, [(2, 0.2 * np.sin(2 * np.pi * 3000 * _t(0.3)))])
    pcm[100:200] = np.nan
    pcm[300] = np.inf
    assert [s.label for s in analyse_signal(pcm)] == ["beeping"]


def test_a_sound_longer_than_the_overflow_continues_in_the_next_window():
    from orchestrator.lanes.sound_signal import SignalSound
    from orchestrator.lanes.sounds import _owned
    from orchestrator.windows import Window

    long_alarm = SignalSound("alarm", 15.0, 75.0, 0.9, {"sources": ["signal"]})  # as window 1 (20-40 s) sees it: from its lookback
    assert _owned([long_alarm], Window(0, 0.0, 20.0), 10.0) == [long_alarm]
    (cont,) = _owned([long_alarm], Window(1, 20.0, 40.0), 10.0)  # window 0 reported it up to 30 s: this one goes on from there
    assert (cont.t_start, cont.t_end, cont.attrs["continues"]) == (30.0, 75.0, True)
    assert _owned([SignalSound("bang", 15.0, 15.1, 0.9, {"sources": ["signal"]})], Window(1, 20.0, 40.0), 10.0) == []


def test_a_sound_only_the_tagger_hears_is_one_event_across_windows():
    from types import SimpleNamespace

    from orchestrator.events import Event
    from orchestrator.lanes.sounds import SoundsLane

    lane = SoundsLane()
    state = lane.new_state(None)

    def window(i, events, last=False):
        ctx = SimpleNamespace(window=SimpleNamespace(index=i, t_start=20.0 * i, t_end=20.0 * (i + 1)), is_last=last, state=state)
        return [(e.label, e.t_start, e.t_end) for e in lane.assemble(events, ctx).events]

    def tagged(i, label, t0, t1, sources=("tagger",)):
        return Event(f"sound-{i:05d}-{t0:g}", "sound", label, t0, t1, 0.8, window_index=i, attrs={"sources": list(sources)})

    # music from 12 s to 47 s, heard by the tagger in three windows, with a dog at 30 s and a signal beep at 15 s
    assert window(0, [tagged(0, "music", 12.0, 20.0), tagged(0, "beeping", 15.0, 15.5, ("signal",))]) == [("beeping", 15.0, 15.5)]
    assert window(1, [tagged(1, "music", 20.0, 40.0), tagged(1, "dog bark", 30.0, 31.0)]) == [("dog bark", 30.0, 31.0)]
    assert window(2, [tagged(2, "music", 40.0, 47.0)]) == [("music", 12.0, 47.0)]  # closed when a window ends without it
    assert state.open == []
    # the video's last window closes what is open
    assert window(3, [tagged(3, "siren", 70.0, 80.0)], last=True) == [("siren", 70.0, 80.0)]


def _thud(d: float = 0.12, f: float = 90.0) -> np.ndarray:
    """A footstep's thump: a low partial or two, struck and gone (neither noise-like nor a tone that lasts)."""
    t = _t(d)
    return 0.4 * np.exp(-t * 30) * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(2 * np.pi * 2.3 * f * t))


def test_a_thud_is_a_hit_but_not_next_to_speech():
    assert [g[0] for g in _named(_scene(6, [(3, _thud())]))] == ["bang"]
    # the same thump 0.3 s before voice activity starts is taken for the voice (a plosive the VAD's edge missed)
    assert _named(_scene(6, [(3, _thud())]), speech=[(3.42, 5.5)]) == []
    # a low hum that lasts is still nothing
    assert _named(_scene(6, [(1, 0.3 * np.sin(2 * np.pi * 90 * _t(3)))])) == []


def test_tagger_runs_start_where_the_tagger_first_hears_and_refine_a_generic_name():
    from types import SimpleNamespace

    from orchestrator.lanes.sounds import tagger_runs
    from orchestrator.sound_vocabulary import audioset_name_for

    def hit(t0, label, p):
        return SimpleNamespace(t_start=t0, t_end=t0 + 0.96, label=label, confidence=p)

    # applause swelling: heard at 0.32 from 2.0 s, believed at 4.0 s; a run that never reaches its threshold is nothing
    hits = [hit(2.0 + 0.48 * k, "Applause", p) for k, p in enumerate([0.32, 0.32, 0.5, 0.5, 0.9, 0.9])] + [hit(9.0, "Siren", 0.5)]
    assert tagger_runs(hits, audioset_name_for, threshold=0.6, gap_s=1.0, floor=0.3) == [("applause", 2.0, 5.36, 0.9)]
    # without a floor only believed patches count (the old behaviour)
    assert tagger_runs(hits, audioset_name_for, threshold=0.6) == [("applause", 3.92, 5.36, 0.9)]
    # "Animal" sure, "Dog" its likeliest child: a dog; a per-name threshold believes a dog from even odds
    dog = [hit(1.0, "Animal", 0.82), hit(1.0, "Domestic animals, pets", 0.68), hit(1.0, "Dog", 0.32), hit(1.0, "Cat", 0.09)]
    assert [r[0] for r in tagger_runs(dog, audioset_name_for, threshold=0.6, floor=0.3)] == ["dog bark"]
    assert [r[0] for r in tagger_runs(dog[:2], audioset_name_for, threshold=0.6, floor=0.3)] == ["animal"]
    assert tagger_runs([hit(1.0, "Bark", 0.5)], audioset_name_for, threshold=0.6, floor=0.3, thresholds={"dog bark": 0.45}) == [("dog bark", 1.0, 1.96, 0.5)]


def test_a_sound_only_the_tagger_heard_starts_where_its_level_rises():
    from orchestrator.lanes.sounds import heard_onset

    pcm = _scene(4, [(2.3, 0.2 * rng.standard_normal(RATE))])
    assert abs(heard_onset(pcm, 0.0, 1.92, 3.5) - 2.3) <= 0.02  # the patch at 1.92 s holds the onset at 2.3 s
    assert heard_onset(pcm, 0.0, 2.4, 3.5) == 2.4  # already going at the patch's start
