"""Lanes: chosen by configuration, recorded per window, and their driver steps testable without any model."""

from __future__ import annotations

import pytest

from orchestrator.config import DEFAULT_LANES, IngestConfig
from orchestrator.graph import EventGraph
from orchestrator.lanes import LANES, AssemblyContext, resolve
from orchestrator.lanes.motion import MotionLane
from orchestrator.media import MediaInfo
from orchestrator.sampling import FrameDecision
from orchestrator.windows import Window


def test_every_default_lane_is_registered_and_unknown_names_are_a_clear_error():
    assert set(DEFAULT_LANES) <= set(LANES)
    assert [lane.name for lane in resolve(["sounds", "objects"])] == ["objects", "sounds"]  # registry order, not the caller's
    with pytest.raises(ValueError, match="unknown lane 'ocr'.*the lanes are"):
        resolve(["objects", "ocr"])
    with pytest.raises(ValueError, match="at least one lane"):
        IngestConfig(lanes=())


def test_motion_spike_across_a_window_boundary_is_one_event_and_a_cut_is_its_own():
    lane, config = MotionLane(), IngestConfig()
    info = MediaInfo(path="clip.mp4", size_bytes=1, container="mp4", duration_s=40.0, has_video=True, has_audio=False)
    state = lane.new_state(config)
    spike = config.sampling.motion_spike

    def frames(t0: float) -> list[FrameDecision]:
        return [FrameDecision(t0 + i * 0.25, False, "", 0.0, 0.0) for i in range(80)]

    first = frames(0.0)
    first[-2:] = [FrameDecision(19.5, True, "motion", spike * 1.5, 0.0), FrameDecision(19.75, True, "motion", spike * 2, 0.0)]
    out1 = lane.assemble(first, AssemblyContext(info, Window(0, 0.0, 20.0), config, False, state))
    assert out1.events == [] and state.run is not None  # still going at the window's end: carried, not cut in two
    second = frames(20.0)
    second[0] = FrameDecision(20.0, True, "motion", spike * 1.2, 0.0)
    second[10] = FrameDecision(22.5, True, "scene_cut", 0.0, 0.9)
    out2 = lane.assemble(second, AssemblyContext(info, Window(1, 20.0, 40.0), config, True, state))
    motion = [e for e in out2.events if e.kind == "motion"]
    assert len(motion) == 1 and motion[0].t_start == 19.5 and motion[0].t_end == 20.0 and motion[0].attrs["peak"] == round(spike * 2, 4)
    assert [(e.kind, e.t_start) for e in out2.events if e.kind == "scene_cut"] == [("scene_cut", 22.5)]


def test_lanes_switched_off_run_nothing_and_the_graph_says_which_ran(gt_clip, services, tmp_path):
    from orchestrator.pipeline import Ingestor, database_path

    path, truth = gt_clip
    summary = Ingestor(tmp_path / "home", services, IngestConfig(lanes=("speech",))).ingest(path)
    assert summary.lanes == ("speech",)
    with EventGraph(database_path(tmp_path / "home"), read_only=True) as g:
        kinds = {e["kind"] for e in g.events(summary.video_id)}
        ran = g.window_lanes(summary.video_id)
    assert kinds == {"speech", "scene"}  # no objects, sounds, cuts or motion; scenes are described from what there is
    assert ran == {0: ["speech"], 1: ["speech"]}
