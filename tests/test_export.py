"""Exporting cited moments with the real FFmpeg on the generated ground-truth clip: a few seconds per moment,
merged where they touch, capped, named after the video and the question, a chapter and a caption per moment;
and the page's /export endpoint through gradio_client, returning the clip itself and its moments."""

from __future__ import annotations

import shutil

import av
import numpy as np
import pytest
import srt

from orchestrator.export import CitedMoment, ExportLimits, clip_name, export_cited, plan_export
from orchestrator.media import MediaError, probe, read_audio


def _chapters(path) -> list[tuple[float, float, str]]:
    with av.open(str(path)) as c:
        return [(ch["start"] * ch["time_base"], ch["end"] * ch["time_base"], ch["metadata"].get("title", "")) for ch in c.chapters()]


def _cited(truth) -> list[CitedMoment]:
    """What an answer about the clip cites, in the answer's order: the person, the speech, the cut, the tone."""
    return [
        CitedMoment(truth.person[0], truth.person[1], "object:1", "person in view"),
        CitedMoment(truth.speech[0], truth.speech[1], "speech:1", 'said "The red car is parked"'),
        CitedMoment(truth.cut_at, truth.cut_at, "cut:1", "the scene changes"),
        CitedMoment(truth.tone[0], truth.tone[1], "sound:1", "tone heard"),
    ]


def test_plan_keeps_a_few_seconds_per_moment_merges_touching_ones_and_caps_them():
    lim = ExportLimits(lead_s=1.0, tail_s=1.0, hold_s=3.0, gap_s=0.5, max_moments=2, max_total_s=12.0)
    cited = [
        CitedMoment(10, 60, "long"),  # a long event: its first 3 s, not its 50 s
        CitedMoment(14.2, 15, "touching"),  # its lead-in touches the first moment's lead-out: one moment
        CitedMoment(10, 60, "long"),  # cited twice: once
        CitedMoment(40, 41, "second"),  # the second moment
        CitedMoment(12, 13, "inside"),  # inside a kept moment: kept at no cost
        CitedMoment(70, 71, "third"),  # a third moment: over the cap of 2, left out
        CitedMoment(90, 200, "past the end"),
    ]
    plan = plan_export(cited, 80.0, lim)
    assert [(c.t_start, c.t_end) for c in plan.chapters] == [(9.0, 16.0), (39.0, 42.0)]
    assert [c.clip_start for c in plan.chapters] == [0.0, 7.0] and plan.total_s == 10.0
    assert [m.event_id for m in plan.chapters[0].cited] == ["long", "inside", "touching"]
    assert (plan.n_cited, plan.n_kept) == (5, 4)
    assert "first the answer cites" in plan.choice() and "2 moments" in plan.choice()
    # the total cap: a 12 s budget holds the first moment (7 s) but not two more of 3 s each
    plan = plan_export([CitedMoment(10, 60, "a"), CitedMoment(30, 31, "b"), CitedMoment(50, 51, "c")], 80.0, ExportLimits(1, 1, 5, 0.5, 6, 12.0))
    assert [(c.t_start, c.t_end) for c in plan.chapters] == [(9.0, 16.0), (29.0, 32.0)] and plan.n_kept == 2
    assert plan_export([], 80.0).chapters == ()


def test_clip_name_is_the_video_the_question_and_the_first_moment():
    assert clip_name("campus.mp4", "When does the phone ring?", 33.2) == "campus - when does the phone ring - 00m33s.mp4"
    assert clip_name("yard cam.MOV", "", 3725) == "yard cam - cited moments - 01h02m05s.mp4"
    name = clip_name('a<b>:"c"|d?.mp4', "Who's at the door / gate?\n" + "x" * 300, 5)
    assert not set('<>:"/\\|?*\n') & set(name)
    assert name.startswith("abcd - whos at the door gate") and name.endswith(" - 00m05s.mp4") and len(name) <= 200


def test_export_is_short_named_chaptered_and_captioned(gt_clip, tmp_path):
    path, truth = gt_clip
    result = export_cited(path, _cited(truth), tmp_path, video_name="ground_truth.mp4", question="What happens in the video?")
    # person 2.5-9.5 (its first 5 s), speech 16.6..23.1 and the cut 23.5..26.5 merged, the tone 28.5..32.5
    spans = [(c.t_start, c.t_end) for c in result.plan.chapters]
    assert spans == [
        (truth.person[0] - 1.5, truth.person[0] + 5 + 1.5),
        (truth.speech[0] - 1.5, truth.cut_at + 1.5),
        (truth.tone[0] - 1.5, truth.tone[1] + 1.5),
    ]
    assert [len(c.cited) for c in result.plan.chapters] == [1, 2, 1]
    assert result.name == "ground_truth - what happens in the video - 00m04s.mp4" == result.file.name and result.file.parent == tmp_path
    info = probe(result.file)
    assert info.has_video and info.has_audio
    assert abs(info.duration_s - result.duration_s) < 0.3 and abs(result.duration_s - (8 + (truth.cut_at - truth.speech[0] + 3) + 4)) < 0.01
    chapters = _chapters(result.file)
    assert len(chapters) == 3 and chapters[0][2] == "00:04 person in view" and chapters[1][2].startswith("00:18 said") and "(+ 1 more)" in chapters[1][2]
    assert [float(a) for a, _, _ in chapters] == pytest.approx([c.clip_start for c in result.plan.chapters], abs=0.01)
    with av.open(str(result.file)) as c:
        assert any(s.type == "subtitle" for s in c.streams)
    captions = list(srt.parse(result.subtitles.read_text()))
    assert result.subtitles == result.file.with_suffix(".srt") and len(captions) == 3
    assert captions[2].content.startswith("Moment 3 of 3 (00:28-00:32 in the video)") and "tone heard at 00:30" in captions[2].content
    assert captions[2].start.total_seconds() == pytest.approx(result.plan.chapters[2].clip_start)
    # the third chapter is the 1 kHz tone: the cut is where the plan says
    start = result.plan.chapters[2].clip_start + 1.5
    pcm = read_audio(info, start + 0.2, start + 0.8)
    assert abs(np.argmax(np.abs(np.fft.rfft(pcm))) * 16000 / len(pcm) - truth.tone_hz) < 30
    assert result.message.startswith("Exported 4 cited moments as 3 chapters, ") and result.name in result.message
    assert not list(tmp_path.glob("*.part.*"))


def test_export_over_the_cap_keeps_the_first_moments_and_says_so(gt_clip, tmp_path):
    path, truth = gt_clip
    tone_first = [_cited(truth)[3], *_cited(truth)[:3]]
    result = export_cited(path, tone_first, tmp_path, video_name="ground_truth.mp4", question="Is there a beep?", limits=ExportLimits(max_moments=2))
    assert [(c.t_start, c.t_end) for c in result.plan.chapters] == [(truth.person[0] - 1.5, truth.person[0] + 6.5), (truth.tone[0] - 1.5, truth.tone[1] + 1.5)]
    assert result.name == "ground_truth - is there a beep - 00m04s.mp4"
    assert result.message.startswith("Exported 2 cited moments of 4 (the first the answer cites, up to 2 moments and 30 s) as 2 chapters, 12 s in all")
    assert len(_chapters(result.file)) == 2 and abs(probe(result.file).duration_s - 12.0) < 0.3


def test_export_with_nothing_inside_the_video_is_one_clear_error(gt_clip, tmp_path):
    path, truth = gt_clip
    with pytest.raises(MediaError, match="nothing to export: the answer cites no moment inside the video"):
        export_cited(path, [CitedMoment(truth.duration_s + 5, truth.duration_s + 6)], tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.fixture()
def api_app(gt_ingested, services, tmp_path):
    """The page's API in process, over a copy of the ingested ground-truth home (the real Triton, Redis, DuckDB)."""
    import gradio as gr

    from orchestrator.pipeline import database_path
    from ui.app import AppState, add_api
    from ui.library import Library

    summary, _, _, _, src_home = gt_ingested
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(database_path(src_home), database_path(home))
    library = Library(home, services)
    state = AppState(library, services.triton_url)
    with gr.Blocks() as demo:
        add_api(state)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", allowed_paths=library.served_paths(), quiet=True)
    yield url, summary.video_id
    demo.close()
    library.close()


@pytest.mark.slow
def test_api_export_returns_the_clip_its_name_duration_and_moments(api_app, gt_clip, tmp_path):
    from gradio_client import Client

    url, video_id = api_app
    path, truth = gt_clip
    client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
    with pytest.raises(Exception, match="Ask a question first"):
        client.predict(video_id, "fresh-session", api_name="/export")
    answer = client.predict(video_id, "What did they say?", "", api_name="/ask")
    assert answer["citations"]
    out = client.predict(video_id, answer["session"], api_name="/export")
    assert out["name"].startswith("ground_truth - what did they say - ") and out["name"].endswith(".mp4")
    local = out["file"]
    assert str(tmp_path / "downloads") in local and local.endswith(out["name"])  # the clip itself, downloaded, not a server path
    assert abs(probe(local).duration_s - out["duration_s"]) < 0.3 and out["duration_s"] <= 30
    assert out["moments"] and len(_chapters(local)) == len(out["moments"])
    first = out["moments"][0]
    assert {"t_start", "t_end", "clip_start", "clip_end", "title", "cited"} <= set(first) and first["cited"][0]["event_id"]
    assert first["t_start"] <= truth.speech[0] <= first["t_end"]
    assert out["subtitles"].endswith(".srt") and "Moment 1 of" in open(out["subtitles"]).read()
    assert out["message"].startswith("Exported ") and out["kept"] <= out["cited"]
