"""Stage tests that need no server: windows, motion gate, audio signal events, VAD, media probing."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from orchestrator.audio import VoiceActivity
from orchestrator.config import AudioConfig, SamplingConfig
from orchestrator.events import Event, build_relations, fmt_time
from orchestrator.media import FrameReader, probe, read_audio
from orchestrator.sampling import MotionGate
from orchestrator.windows import plan_windows


def test_plan_windows_covers_video_without_gaps():
    ws = plan_windows(7200.0, 20.0)
    assert len(ws) == 360
    assert ws[0].t_start == 0.0 and ws[-1].t_end == 7200.0
    assert all(a.t_end == b.t_start for a, b in zip(ws, ws[1:]))
    assert [(w.t_start, w.t_end) for w in plan_windows(20.4, 20.0)] == [(0.0, 20.4)]  # tiny tail joins
    assert plan_windows(0.0) == []
    with pytest.raises(ValueError):
        plan_windows(10.0, 0.0)


def _frame(value: int, box_x: int | None = None) -> np.ndarray:
    f = np.full((90, 160, 3), value, np.uint8)
    if box_x is not None:
        f[30:60, box_x : box_x + 20] = 255
    return f


def test_motion_gate_keeps_heartbeats_on_static_scene_and_motion_and_cuts():
    gate = MotionGate(SamplingConfig(heartbeat_s=2.0, max_detect_fps=2.0))
    decisions = [gate.score(i * 0.25, _frame(100)) for i in range(40)]  # 10 s static
    kept = [d for d in decisions if d.keep]
    assert kept[0].reason == "first"
    assert [round(d.t, 2) for d in kept] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert all(d.reason == "heartbeat" for d in kept[1:])
    # a moving box: kept at most every 0.5 s, for motion
    moving = [gate.score(10 + i * 0.25, _frame(100, box_x=5 * i)) for i in range(1, 9)]
    motion_kept = [d for d in moving if d.keep]
    assert all(d.reason == "motion" for d in motion_kept)
    assert len(motion_kept) == 4
    # a cut to a different scene
    cut = gate.score(13.0, np.dstack([np.full((90, 160), 20, np.uint8), np.full((90, 160), 200, np.uint8), np.full((90, 160), 60, np.uint8)]))
    assert cut.keep and cut.reason == "scene_cut"


def test_vad_finds_the_speech_of_a_real_call(media_dir):
    with wave.open(str(media_dir / "sample.wav")) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    regions = VoiceActivity().regions(pcm, AudioConfig())
    truth = [tuple(map(float, line.split()[3:5])) for line in (media_dir / "sample.stm").read_text().splitlines() if line.strip()]
    speech_s = sum(e - s for s, e in truth)
    covered = sum(max(0.0, min(e, re.t_end) - max(s, re.t_start)) for s, e in truth for re in regions)
    assert covered / speech_s > 0.9  # nearly all true speech is inside a region
    assert regions[0].t_start < truth[0][0] < regions[0].t_end + 0.5
    assert sum(r.t_end - r.t_start for r in regions) < 30.0


def test_probe_and_read_real_media(media_dir):
    info = probe(media_dir / "bigbuckbunny.mp4")
    assert info.has_video and info.has_audio and (info.width, info.height) == (1280, 720)
    assert info.audio_channels == 6 and abs(info.duration_s - 5.3) < 0.1
    reader = FrameReader(info, max_side=640)
    frames = list(reader.read(1.0, 3.0, fps=4))
    assert len(frames) == 8 and frames[0][1].shape == (360, 640, 3)
    assert all(1.0 <= t < 3.0 for t, _ in frames)
    pcm = read_audio(info, 1.0, 3.0)
    assert pcm.dtype == np.float32 and len(pcm) == 32000 and np.abs(pcm).max() > 0.01


def test_pyav_fallback_reads_the_same_frames_as_decord(media_dir):
    info = probe(media_dir / "bikes.mp4")
    a = list(FrameReader(info, backend="decord").read(2.0, 4.0, fps=2))
    b = list(FrameReader(info, backend="pyav").read(2.0, 4.0, fps=2))
    assert [round(t, 2) for t, _ in a] == [round(t, 2) for t, _ in b]
    assert all(np.abs(x.astype(int) - y.astype(int)).mean() < 4 for (_, x), (_, y) in zip(a, b))


def test_relations_link_overlapping_and_consecutive_events():
    e = [
        Event("a", "object", "person", 0, 10),
        Event("b", "speech", "speech", 2, 4, text="hi"),
        Event("c", "sound", "tone", 12, 13),
        Event("d", "sound", "tone", 30, 31),
    ]
    rels = {(r.src, r.dst, r.kind) for r in build_relations(e, precedes_gap_s=5.0)}
    assert ("a", "b", "co_occurs") in rels
    assert ("a", "c", "precedes") in rels  # 2 s after the person left
    assert ("b", "c", "precedes") not in rels  # 8 s gap
    assert ("c", "d", "precedes") not in rels
    assert fmt_time(83.2) == "01:23" and fmt_time(3723) == "01:02:03"


def test_export_cuts_the_cited_moments_into_one_clip(gt_clip, tmp_path):
    from orchestrator.export import export_moments, merge_spans

    path, truth = gt_clip
    out = export_moments(path, [(truth.person[0], truth.person[0] + 2), (truth.tone[0], truth.tone[1])], tmp_path / "reel.mp4", pad_s=0.5)
    info = probe(out)
    assert info.has_video and info.has_audio
    assert abs(info.duration_s - (3.0 + 2.0)) < 0.5  # two moments, each padded by 0.5 s on both sides
    pcm = read_audio(info, 3.0, 5.0)  # the second moment is the 1 kHz tone
    spectrum = np.abs(np.fft.rfft(pcm[8000:24000]))
    assert abs(np.argmax(spectrum) * 16000 / 16000 - truth.tone_hz) < 30
    assert merge_spans([(5, 6), (6.5, 8)], 1.0, 7.0) == [(4.0, 7.0)]
    assert not (tmp_path / "reel.part.mp4").exists()


def test_capacity_plan_arithmetic_follows_from_its_inputs():
    """The plan's figures are its model's arithmetic on its named inputs (checked from the inputs, whatever they are),
    and the script prints what the model computes."""
    import importlib.util
    import subprocess
    import sys

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("plan_capacity", REPO / "scripts" / "plan_capacity.py")
    cap = sys.modules["plan_capacity"] = importlib.util.module_from_spec(spec)  # its dataclasses look themselves up there
    spec.loader.exec_module(cap)
    work, seconds = cap.WORKLOAD_PER_VIDEO_S, 2 * 3600
    planned = {}
    for name, layout in cap.LAYOUTS.items():
        cpu = name.endswith("CPU")
        stage_s, total, bottleneck = planned[name] = cap.plan(2, layout, shared_cpu=cpu)
        for stage, per_s in work.items():  # each stage: its work over the layout's throughput
            assert stage_s[stage] == pytest.approx(seconds * per_s / layout.units[stage]), (name, stage)
        assert bottleneck == max(work, key=lambda st: work[st] / layout.units[st])
        if cpu:  # the shared CPU is the measured rate; 'other' is what the stages do not explain
            assert total == pytest.approx(seconds / cap.MEASURED_CPU_X_REALTIME)
            assert stage_s["other"] == pytest.approx(max(total - sum(stage_s[st] for st in work), 0.0))
        else:  # GPUs overlap the stages: the slowest one plus 15 %
            assert total == pytest.approx(1.15 * stage_s[bottleneck]) and stage_s["other"] == pytest.approx(0.15 * stage_s[bottleneck])
    # more nodes divide the stages that fan out, never the driver's serial assembly, which then bounds the cluster
    gpu = cap.LAYOUTS["1xH100"]
    one, four, many = (cap.plan(2, gpu, shared_cpu=False, nodes=n) for n in (1, 4, 10_000))
    for stage in work:
        assert four[0][stage] == pytest.approx(one[0][stage] / (4 if stage in cap.FANS_OUT else 1)), stage
    assert many[2] == "assembly" and seconds / many[1] == pytest.approx(20 * cap.DRIVER_WINDOWS_PER_S / 1.15, rel=1e-3)
    cpu4 = cap.plan(2, cap.LAYOUTS["2-core CPU"], shared_cpu=True, nodes=4)
    assert cpu4[1] == pytest.approx(planned["2-core CPU"][1] / 4)
    # the table shows those numbers
    out = subprocess.run([sys.executable, "scripts/plan_capacity.py", "--hours", "2"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for name, (stage_s, total, bottleneck) in planned.items():
        row = next(line for line in out.stdout.splitlines() if line.startswith(name + " "))
        assert f" {seconds / total:10.1f}  {bottleneck} " in row, (row, seconds / total, bottleneck)
        assert all(f"{stage_s[st] / 60:8.1f}m" in row for st in work), row


def test_previous_windows_last_frame_is_found_again_on_a_sparse_source(tmp_path):
    """Resume and Ray start a window's motion gate from the previous window's last scanned frame, decoded again by
    a fresh reader: on a 1 fps source it lies more than one scan step before the window's end, and must still be found."""
    import subprocess

    from orchestrator.analysis import _last_scanned_frame, _PooledReader
    from orchestrator.windows import Window

    clip = tmp_path / "one_fps.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=1:duration=40", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )
    info = probe(clip)
    window = Window(0, 0.0, 20.0)
    scanned = list(FrameReader(info, 160).read(window.t_start, window.t_end, 4.0))
    found = _last_scanned_frame(_PooledReader(FrameReader(info, 160)), window, 4.0)
    assert found is not None and found[0] == scanned[-1][0] == 19.0
    assert (found[1] == scanned[-1][1]).all()
