"""The fresh suites and the clip script agree with each other (no media needed: the clips are not built here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from orchestrator.evaluation import KINDS, SCOPES, load_suite

HERE = Path(__file__).resolve().parent
SUITES = sorted(HERE.glob("*.yaml"))


@pytest.fixture(scope="module")
def make_clips():
    spec = importlib.util.spec_from_file_location("fresh_make_clips", HERE / "make_clips.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def clips(make_clips):
    return {c.name: c for c in make_clips.clips()}


def test_clip_script_names_only_what_the_generator_has(make_clips, clips):
    assert len(clips) == 5
    lengths = sorted(c.duration_s for c in clips.values())
    assert all(60 <= d <= 150 for d in lengths[:4]) and 600 <= lengths[4] <= 1200
    for clip in clips.values():
        for sound in clip.sounds:
            assert sound.recording == "knock" or sound.recording in make_clips.RECORDINGS, (clip.name, sound.recording)
        for sign in clip.signs:
            assert sign["board"] in make_clips.COLOURS and sign["ink"] in make_clips.COLOURS, (clip.name, sign["text"])
            assert 0 <= sign["start"] < sign["end"] <= clip.duration_s
        for shot in clip.shots:
            assert bool(shot.scene) != bool(shot.footage), (clip.name, shot)
            assert shot.footage or shot.scene in make_clips.scenes_for(64, 36), (clip.name, shot.scene)
        for line in clip.lines:
            assert 0 <= line["at"] < clip.duration_s and line["voice"], (clip.name, line["text"])


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_suite_fits_its_clip(path, clips):
    suite = load_suite(path)
    clip = clips[suite.video.name]
    assert suite.video.parent.name == "fresh"
    assert 25 <= len(suite.questions) <= 35
    for q in suite.questions:
        for start, end in q.times:
            assert 0 <= start < end <= clip.duration_s, (q.q, start, end)
        if q.answer == "yes":
            assert q.times, f"{q.q!r}: a yes needs the moment it rests on"
        if q.answer == "no":
            assert not q.times, f"{q.q!r}: a no has no moment to cite"


def test_suites_ask_every_kind_and_scope():
    questions = [q for path in SUITES for q in load_suite(path).questions]
    assert {q.kind for q in questions} == set(KINDS)
    assert {q.scope for q in questions} == set(SCOPES)
    assert sum(q.answer == "no" for q in questions) >= 15
