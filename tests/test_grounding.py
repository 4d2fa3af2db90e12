"""Open-vocabulary grounding (orchestrator/grounding.py): linking boxes into things, writing and replacing grounded
events in the graph, the safety template's watch list and a rule on a grounded label (fast tier); then the `ground`
command through the real Triton serving a small random Grounding DINO (scripts/make_grounder.py) on a real clip."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

from orchestrator import grounding
from orchestrator.events import Event
from orchestrator.graph import EventGraph, WindowResult
from orchestrator.grounding import FrameBoxes, GroundingError, link, normalise_prompt, parse_span, thing_events

REPO = Path(__file__).resolve().parent.parent


def frame(t: float, *items: tuple[str, list[float], float]) -> FrameBoxes:
    return FrameBoxes(
        t,
        np.array([b for _, b, _ in items], np.float32).reshape(-1, 4),
        np.array([s for _, _, s in items], np.float32),
        tuple(p for p, _, _ in items),
    )


def test_doctests():
    assert doctest.testmod(grounding).failed == 0


def test_link_follows_a_thing_and_tells_things_apart():
    frames = [
        frame(0.0, ("ladder", [0.10, 0.1, 0.30, 0.6], 0.6), ("forklift", [0.6, 0.5, 0.9, 0.9], 0.5)),
        # the ladder moved a little; a second, far ladder appears; a duplicate forklift box (NMS keeps the better one)
        frame(1.0, ("ladder", [0.12, 0.1, 0.32, 0.6], 0.7), ("ladder", [0.7, 0.0, 0.8, 0.3], 0.4), ("forklift", [0.6, 0.5, 0.9, 0.9], 0.55)),
        frame(1.0 + 0.001, ("forklift", [0.61, 0.5, 0.9, 0.9], 0.3)),
        # the forklift's box jumps across the frame: another forklift
        frame(2.0, ("ladder", [0.14, 0.1, 0.34, 0.6], 0.5), ("forklift", [0.0, 0.0, 0.2, 0.2], 0.6)),
        # the first ladder again after a gap longer than MAX_GAP_S: a new sighting, not the same thing
        frame(2.0 + grounding.MAX_GAP_S + 1.0, ("ladder", [0.14, 0.1, 0.34, 0.6], 0.5)),
    ]
    things = link(frames)
    got = [(th.phrase, [round(s[0], 3) for s in th.sightings]) for th in things]
    assert got == [
        ("ladder", [0.0, 1.0, 2.0]),
        ("forklift", [0.0, 1.0, 1.001]),
        ("ladder", [1.0]),
        ("forklift", [2.0]),
        ("ladder", [6.0]),
    ]
    assert things[0].best()[2] == pytest.approx(0.7)


def test_nms_merges_overlapping_boxes_of_one_phrase_only():
    f = frame(0.0, ("ladder", [0.1, 0.1, 0.5, 0.5], 0.9), ("ladder", [0.11, 0.1, 0.5, 0.5], 0.5), ("smoke", [0.1, 0.1, 0.5, 0.5], 0.4))
    kept = grounding._nms(f)
    assert sorted(zip(kept.phrases, [round(float(s), 2) for s in kept.scores])) == [("ladder", 0.9), ("smoke", 0.4)]


def test_events_per_thing_per_span():
    things = link([frame(10.0, ("open boot", [0.2, 0.2, 0.4, 0.5], 0.8)), frame(11.0, ("open boot", [0.2, 0.2, 0.4, 0.52], 0.9))])
    (e,) = thing_events([((10.0, 12.0), things)], "open boot.")
    assert (e.kind, e.label, e.t_start, e.t_end, e.confidence, e.window_index) == ("object", "open boot", 10.0, 11.0, 0.9, -1)
    assert e.attrs["source"] == "grounding" and e.attrs["prompt"] == "open boot." and e.attrs["span"] == [10.0, 12.0]
    assert e.attrs["box"] == [0.2, 0.2, 0.4, 0.52] and e.attrs["n_frames"] == 2 and e.attrs["best_t"] == 11.0
    assert e.id.startswith("ground-" + grounding.prompt_key("open boot."))


def test_prompts_and_spans_are_checked():
    assert normalise_prompt(["Forklift.", "forklift", "Open Boot"]) == "forklift. open boot."
    assert normalise_prompt([" . ", ""]) == ""
    assert parse_span("1:00-1:30") == (60.0, 90.0)
    for bad in ("10", "40-10", "a-b", "1-2-3", "-5-3"):
        with pytest.raises(GroundingError, match="--span"):
            parse_span(bad)
    assert grounding.check_spans([(0.0, 100.0)], 30.0) == [(0.0, 30.0)]
    with pytest.raises(GroundingError, match="starts after the video ends"):
        grounding.check_spans([(40.0, 50.0)], 30.0)


def _graph(tmp_path) -> EventGraph:
    graph = EventGraph(tmp_path / "events.duckdb")
    graph.upsert_video(
        "v1",
        "yard.mp4",
        str(tmp_path / "yard.mp4"),
        "0" * 64,
        {"size_bytes": 1, "duration_s": 60.0, "width": 640, "height": 360, "fps": 10.0, "has_video": True, "has_audio": False},
        20.0,
        3,
    )
    return graph


def _grounded(prompt: str, label: str, t: float, n: int = 0) -> Event:
    attrs = {"source": "grounding", "prompt": prompt, "box": [0.1, 0.1, 0.3, 0.5], "best_box": [0.1, 0.1, 0.3, 0.5], "n_frames": 2}
    return Event(f"ground-{grounding.prompt_key(prompt)}-{n:04d}", "object", label, t, t + 2.0, 0.8, window_index=-1, attrs=attrs)


def test_replace_grounding_replaces_one_prompt_and_survives_window_rewrites(tmp_path):
    graph = _graph(tmp_path)
    vec = lambda n: np.eye(n, 384, dtype=np.float32)  # noqa: E731
    first = [_grounded("forklift.", "forklift", 5.0), _grounded("forklift.", "forklift", 25.0, 1)]
    graph.replace_grounding("v1", "forklift.", first, vec(2))
    graph.replace_grounding("v1", "ladder.", [_grounded("ladder.", "ladder", 8.0)], vec(1))
    # a window of the ingest written (or re-written) afterwards leaves grounded events alone
    graph.write_window(WindowResult("v1", 0, 0.0, 20.0, events=[Event("object-00000-001", "object", "person", 1.0, 3.0, 0.9, track_id=1)]))
    labels = lambda: sorted((e.label, e.t_start) for e in graph.read_events("v1", "object") if e.attrs.get("source") == "grounding")  # noqa: E731
    assert labels() == [("forklift", 5.0), ("forklift", 25.0), ("ladder", 8.0)]
    graph.replace_grounding("v1", "forklift.", [_grounded("forklift.", "forklift", 40.0)], vec(1))
    assert labels() == [("forklift", 40.0), ("ladder", 8.0)]
    n_vectors = graph.con.execute("SELECT count(*) FROM embeddings WHERE video_id = 'v1' AND event_id LIKE 'ground-%'").fetchall()[0][0]
    assert n_vectors == 2, "the replaced run's embeddings are gone with its events"
    assert [e.label for e in graph.read_events("v1", "object") if e.attrs.get("source") != "grounding"] == ["person"]
    with pytest.raises(ValueError, match="prompt"):
        graph.replace_grounding("v1", "ladder.", [_grounded("forklift.", "forklift", 1.0)])
    graph.close()


def test_safety_watch_list_reports_grounded_things_only(tmp_path, monkeypatch):
    from orchestrator.graph import WindowResult as W
    from orchestrator.templates import Templates, suspicious_spans, watch_list

    assert watch_list("safety") == ["ladder", "forklift", "fire", "smoke", "knife"]
    monkeypatch.setenv("VDET_WATCH_SAFETY", "Forklift. open boot.")
    assert watch_list("safety") == ["forklift", "open boot"]
    monkeypatch.delenv("VDET_WATCH_SAFETY")
    assert watch_list("performance") == []

    graph = _graph(tmp_path)
    coco_knife = Event("object-00000-002", "object", "knife", 2.0, 4.0, 0.9, track_id=2)
    spike = Event("motion-00001-000", "motion", "motion", 30.0, 31.0, 0.9, window_index=1)
    cut = Event("scene_cut-00001-000", "scene_cut", "scene_cut", 45.0, 45.0, 1.0, window_index=1)
    cut_motion = Event("motion-00001-001", "motion", "motion", 45.2, 45.6, 0.9, window_index=1)
    siren = Event("sound-00001-000", "sound", "siren", 32.0, 34.0, 0.9, window_index=1)
    graph.write_window(W("v1", 0, 0.0, 20.0, events=[coco_knife]))
    graph.write_window(W("v1", 1, 20.0, 40.0, events=[spike, cut, cut_motion, siren]))
    before = Templates(graph).build("safety", "v1").render()
    assert "Watch list" not in before, "without a grounding run the report is as it always was (the detector's knife is not a watch-list find)"
    assert suspicious_spans(graph, "v1") == [(28.0, 36.0)], "the spike and the siren touch; the motion at a cut is not suspicious"

    graph.replace_grounding("v1", "ladder. forklift. fire. smoke. knife.", [_grounded("ladder. forklift. fire. smoke. knife.", "forklift", 30.0)])
    report = Templates(graph).build("safety", "v1")
    text = report.render()
    assert "**Watch list**\n- a forklift at [00:30]" in text
    assert "1 watch-list sighting" in text
    assert any(e.event_id.startswith("ground-") for e in report.evidence)
    graph.close()


def test_a_rule_names_a_grounded_label(tmp_path):
    from orchestrator.alerts import rerun_rules
    from orchestrator.rules import load_rules

    rules_file = tmp_path / "yard.yaml"
    rules_file.write_text(
        "rules:\n  - id: forklift_in_yard\n    severity: high\n    when:\n      presence: {object: forklift}\n    message: 'a forklift at {time}'\n"
    )
    graph = _graph(tmp_path)
    graph.write_window(WindowResult("v1", 0, 0.0, 20.0, events=[Event("object-00000-001", "object", "person", 1.0, 3.0, 0.9, track_id=1)]))
    assert rerun_rules(graph, "v1", load_rules(rules_file)) == []
    graph.replace_grounding("v1", "forklift.", [_grounded("forklift.", "forklift", 12.0)])
    (alert,) = rerun_rules(graph, "v1", load_rules(rules_file))
    assert alert.label == "forklift_in_yard" and alert.t_start == 12.0 and alert.text == "a forklift at 00:12"
    graph.close()
