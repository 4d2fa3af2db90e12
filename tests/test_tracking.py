"""Track confirmation on synthetic detections (no Triton): which tracks become reportable, under which class."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from orchestrator.model_clients import FrameDetections
from orchestrator.tracking import THRESHOLDS_FILE, ConfirmPolicy, VideoTracker

COCO = {"person": 0, "car": 2, "sports ball": 32, "frisbee": 29, "kite": 33}


def frame(*objs: tuple[str, float, tuple[float, float, float, float]]) -> FrameDetections:
    if not objs:
        return FrameDetections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), ())
    labels, scores, boxes = zip(*objs)
    return FrameDetections(np.array(boxes, np.float32), np.array(scores, np.float32), np.array([COCO[l] for l in labels], np.int32), tuple(labels))


def walker(i: int, x0: float = 0.1, y: float = 0.4) -> tuple[float, float, float, float]:
    x = x0 + 0.02 * i
    return (x, y, x + 0.08, y + 0.3)


POLICY = ConfirmPolicy(min_frames=3, default=0.4, confirm={"sports ball": 0.7})


def run(frames: list[FrameDetections], policy: ConfirmPolicy = POLICY, per_window: int = 10):
    tracker = VideoTracker(2.0, policy=policy, min_frames=policy.min_frames)
    segments, tracks = [], {}
    for i, fd in enumerate(frames):
        tracker.update(i * 0.5, i // per_window, fd)
        if (i + 1) % per_window == 0 or i == len(frames) - 1:
            segs, touched = tracker.close_window()
            segments += segs
            tracks.update({t.track_id: t for t in touched})
    return segments, tracks


def test_a_walking_person_is_reported_once_with_its_class():
    segments, tracks = run([frame(("person", 0.8, walker(i))) for i in range(20)])
    assert len(tracks) == 1 and {s.label for s in segments} == {"person"}
    assert sum(s.n_frames for s in segments) == 20  # the first sighting is not lost
    assert len(segments) == 2 and len({s.track_id for s in segments}) == 1  # one track across two windows


def test_too_few_hits_is_not_an_object():
    segments, _ = run([frame(("person", 0.9, walker(0))), frame(("person", 0.9, walker(1)))] + [frame()] * 12)
    assert segments == []


def test_a_track_needs_one_hit_at_its_class_threshold():
    # a "ball" that never scores 0.7 stays unreported; a person at the same scores is reported
    ball = [frame(("sports ball", 0.55, (0.5, 0.8, 0.53, 0.84))) for _ in range(12)]
    assert run(ball)[0] == []
    person = [frame(("person", 0.55, walker(i))) for i in range(12)]
    assert {s.label for s in run(person)[0]} == {"person"}
    sure_ball = [frame(("sports ball", 0.55 if i != 5 else 0.75, (0.5 + 0.004 * i, 0.8, 0.53 + 0.004 * i, 0.84))) for i in range(12)]
    assert {s.label for s in run(sure_ball)[0]} == {"sports ball"}


def test_static_thing_that_flickers_in_class_is_dropped():
    box = (0.6, 0.7, 0.64, 0.75)
    labels = ["sports ball", "frisbee", "kite", "sports ball", "frisbee", "kite"] * 2
    segments, _ = run([frame((lab, 0.9, box)) for lab in labels])
    assert segments == []


def test_moving_thing_that_flickers_is_reported_as_its_majority_class():
    labels = ["car"] * 7 + ["person"] * 3
    frames = [frame((lab, 0.8, (0.1 + 0.04 * i, 0.5, 0.3 + 0.04 * i, 0.7))) for i, lab in enumerate(labels)]
    segments, tracks = run(frames)
    assert len(tracks) == 1 and [s.label for s in segments] == ["car"]


def test_static_object_with_a_steady_class_is_kept():
    # a parked car neither moves nor changes: it is still a car
    segments, _ = run([frame(("car", 0.8, (0.2, 0.5, 0.4, 0.7))) for _ in range(8)])
    assert [s.label for s in segments] == ["car"]


def test_track_label_is_the_track_majority_in_every_window():
    labels = ["car"] * 10 + ["person"] * 3 + ["car"] * 7
    frames = [frame((lab, 0.8, (0.05 + 0.02 * i, 0.5, 0.25 + 0.02 * i, 0.7))) for i, lab in enumerate(labels)]
    segments, _ = run(frames)
    assert [s.label for s in segments] == ["car", "car"]


def test_state_pickles_and_continues():
    tracker = VideoTracker(2.0, policy=POLICY, min_frames=3)
    for i in range(4):
        tracker.update(i * 0.5, 0, frame(("person", 0.8, walker(i))))
    tracker.close_window()
    clone = pickle.loads(pickle.dumps(tracker))
    for i in range(4, 8):
        clone.update(i * 0.5, 1, frame(("person", 0.8, walker(i))))
    segments, _ = clone.close_window()
    assert len(segments) == 1 and segments[0].n_frames == 4


def test_policy_from_the_calibrated_file():
    if not THRESHOLDS_FILE.is_file():
        pytest.skip("no calibrated thresholds file")
    policy = ConfirmPolicy.from_file()
    assert 0.0 < policy.default < 1.0
    assert all(0.0 < v <= 1.0 for v in policy.confirm.values())
    assert ConfirmPolicy.from_file(head="no-such-head").confirm == {}
