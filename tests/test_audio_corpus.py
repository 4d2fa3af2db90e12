"""The audio scene builder's ground truth is exact and deterministic (scripts/audio_scenes.py).

Uses clips of the real corpus (``python scripts/audio_corpus.py`` fetches it); skipped when it is not fetched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import audio_corpus  # noqa: E402


def test_no_package_in_both_splits():
    splits: dict[str, set[str]] = {}
    for clip in audio_corpus.CLIPS:
        splits.setdefault(clip.package, set()).add(audio_corpus.SOURCES[clip.package].split)
    assert all(len(s) == 1 for s in splits.values())
    assert len({audio_corpus.clip_id(c) for c in audio_corpus.CLIPS}) == len(audio_corpus.CLIPS)


@pytest.fixture(scope="module")
def scenes():
    pytest.importorskip("librosa")
    records = [r for r in audio_corpus.load_manifest() if Path(r["path"]).exists()]
    if not records:
        pytest.skip("audio corpus not fetched (python scripts/audio_corpus.py)")
    import audio_scenes  # noqa: PLC0415

    return audio_scenes, records


def _db(y):
    return 20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))) + 1e-12)


def test_clean_scene_puts_the_clip_where_the_truth_says(scenes, tmp_path):
    mod, records = scenes
    rec = next(r for r in records if r["sound"] == "dog bark")
    scene = mod.clean_scene(rec)
    (truth,) = scene.sounds
    a, b = round(truth["t_start"] * mod.RATE), round(truth["t_end"] * mod.RATE)
    assert not scene.audio[:a].any() and not scene.audio[b:].any()  # silence outside the span
    assert abs(scene.audio[a]) > 0 and abs(_db(scene.audio[a:b]) - mod.CLEAN_DB) < 0.1
    path = scene.write(tmp_path)
    assert json.loads(path.read_text())["sounds"] == scene.sounds
    assert (tmp_path / f"{scene.name}.wav").exists()


def test_mixed_scene_levels_and_spans_are_exact_and_seeded(scenes):
    mod, records = scenes
    split = next(r["split"] for r in records if r["sound"] == "dog bark")
    one = mod.mixed_scene("t", split, records, "silence", np.random.default_rng(7), duration_s=20, n_sounds=2)
    two = mod.mixed_scene("t", split, records, "silence", np.random.default_rng(7), duration_s=20, n_sounds=2)
    other = mod.mixed_scene("t", split, records, "silence", np.random.default_rng(8), duration_s=20, n_sounds=2)
    assert np.array_equal(one.audio, two.audio) and one.truth() == two.truth()
    assert other.truth() != one.truth()
    outside = np.ones(len(one.audio), bool)
    for s in one.sounds:
        a, b = round(s["t_start"] * mod.RATE), round(s["t_end"] * mod.RATE)
        outside[a:b] = False
        assert abs(_db(one.audio[a:b]) - s["level_db"]) < 0.1  # sounds never overlap, so each span holds one clip
        assert s["snr_db"] is None
    assert not one.audio[outside].any()


def test_noise_scene_snr_is_relative_to_the_background(scenes):
    mod, records = scenes
    split = next(r["split"] for r in records if r["sound"] == "background")
    scene = mod.mixed_scene("t", split, records, "noise", np.random.default_rng(3), duration_s=20, n_sounds=2)
    assert scene.background["level_db"] == mod.BACKGROUND_DB
    for s in scene.sounds:
        assert s["level_db"] == pytest.approx(mod.BACKGROUND_DB + s["snr_db"])


def test_the_bench_counts_a_second_event_for_one_sound_as_a_duplicate():
    import bench_audio  # noqa: PLC0415

    truth = {
        "scene": "s",
        "split": "dev",
        "sounds": [
            {"class": "explosion", "t_start": 2.0, "t_end": 3.0, "clip_id": "a", "snr_db": None},
            *({"class": "dog bark", "t_start": t, "t_end": t + 0.9, "clip_id": "b", "snr_db": None} for t in (6.0, 7.5)),
        ],
    }
    events = [
        {"kind": "sound", "label": "explosion", "t_start": 2.0, "t_end": 3.5},
        {"kind": "sound", "label": "gunshot", "t_start": 2.0, "t_end": 3.0},  # the same bang, named again
        {"kind": "sound", "label": "dog bark", "t_start": 6.0, "t_end": 8.4},  # two barks of one series: one sound
    ]
    rows, reported = bench_audio.score_sounds(truth, events, tol=1.0)
    assert [r["found"] for r in rows] == [True, True, False]  # recall is per onset: the second bark starts 1.5 s in
    assert [(e["label"], e["duplicate"]) for e in reported] == [("explosion", False), ("gunshot", True), ("dog bark", False)]
    summary = bench_audio.summarise(rows, reported, [], [])
    assert summary["precision"][0]["duplicates"] == 1
