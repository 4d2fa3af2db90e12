"""Bad and odd input through the CLI: each file either ingests what is readable or fails with one
clear line on stderr and a non-zero exit — and the database stays consistent either way."""

from __future__ import annotations

import json
import subprocess

import duckdb
import pytest
from conftest import run_cli

from orchestrator.pipeline import database_path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def odd_media(media_dir, gt_clip, tmp_path_factory):
    d = tmp_path_factory.mktemp("odd")
    src = str(gt_clip[0])
    files = {}
    files["mpeg4_part2.avi"] = ["-i", src, "-t", "8", "-c:v", "mpeg4", "-q:v", "5", "-c:a", "ac3"]  # MPEG-4 part 2 + AC3 in AVI
    files["theora.ogv"] = ["-i", src, "-t", "8", "-c:v", "libtheora", "-q:v", "5", "-c:a", "libvorbis"]
    files["mjpeg.mkv"] = ["-i", src, "-t", "8", "-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le"]
    files["vfr.mkv"] = ["-i", src, "-t", "8", "-vf", "setpts='if(lt(N,40),PTS,PTS+0.5*(N-40)/TB/10)'", "-fps_mode", "vfr", "-c:v", "libx264", "-an"]
    files["huge_4k.mp4"] = ["-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=5:duration=3", "-c:v", "libx264", "-preset", "ultrafast"]
    files["rotated.mp4"] = ["-i", str(media_dir / "bikes.mp4"), "-t", "3", "-c", "copy", "-metadata:s:v:0", "rotate=90"]
    for name, args in files.items():
        ffmpeg(*args, str(d / name))
    (d / "empty.mp4").write_bytes(b"")
    (d / "text_renamed.mp4").write_text("this is a shopping list, not a video\n" * 50)
    data = (media_dir / "bigbuckbunny.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    mkv = (d / "mjpeg.mkv").read_bytes()
    (d / "truncated.mkv").write_bytes(mkv[: len(mkv) * 2 // 3])
    (d / "garbage_middle.mp4").write_bytes(data[:300_000] + bytes(range(256)) * 400 + data[402_400:])
    return d


def _consistent(home) -> None:
    """Every window marked done has its rows; no rows belong to windows that are not done."""
    path = database_path(home)
    if not path.exists():
        return
    con = duckdb.connect(str(path), read_only=True)
    try:
        orphans = con.execute(
            """SELECT count(*) FROM events e LEFT JOIN windows w ON w.video_id = e.video_id AND w.idx = e.window_idx
               WHERE w.status IS DISTINCT FROM 'done'"""
        ).fetchone()[0]
        assert orphans == 0
        for vid, status, n in con.execute("SELECT video_id, status, n_windows FROM videos").fetchall():
            done = con.execute("SELECT count(*) FROM windows WHERE video_id = ? AND status = 'done'", [vid]).fetchone()[0]
            assert status != "done" or done == n
    finally:
        con.close()


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("empty.mp4", "empty"),
        ("text_renamed.mp4", "not a media file"),
        ("missing.mp4", "no such file"),
        ("truncated.mp4", "truncated"),  # an MP4 cut in half loses its index (moov at the end)
    ],
)
def test_unusable_files_fail_with_one_clear_line(odd_media, cli_env, name, fragment):
    result = run_cli("ingest", str(odd_media / name), "--json", env_extra=cli_env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    _consistent(cli_env["VDET_HOME"])


@pytest.mark.parametrize(
    "name, expect_video, expect_audio",
    [
        ("mpeg4_part2.avi", True, True),
        ("theora.ogv", True, True),
        ("mjpeg.mkv", True, True),
        ("vfr.mkv", True, False),
        ("huge_4k.mp4", True, False),
        ("rotated.mp4", True, False),
        ("truncated.mkv", True, True),
        ("garbage_middle.mp4", True, True),
    ],
)
def test_odd_but_readable_files_ingest(odd_media, cli_env, name, expect_video, expect_audio):
    result = run_cli("ingest", str(odd_media / name), "--json", "--quiet", env_extra=cli_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["windows"] >= 1 and summary["status"] == "done"
    if expect_video:
        assert summary["frames_scanned"] > 0
    events = json.loads(run_cli("events", summary["video_id"], "--json", env_extra=cli_env).stdout.splitlines()[-1])
    assert all(0 <= e["t_start"] <= e["t_end"] <= summary["duration_s"] + 0.5 for e in events)
    if name in ("mpeg4_part2.avi", "theora.ogv", "mjpeg.mkv"):
        assert any(e["kind"] == "object" and e["label"] == "person" for e in events), events
    _consistent(cli_env["VDET_HOME"])


def test_audio_only_file_gives_speech(media_dir, cli_env):
    result = run_cli("ingest", str(media_dir / "sample.wav"), "--json", "--quiet", env_extra=cli_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["counts"].get("speech", 0) >= 3 and summary["frames_scanned"] == 0
    assert "object" not in summary["counts"]


def test_rotation_is_applied(odd_media):
    from orchestrator.media import FrameReader, probe

    info = probe(odd_media / "rotated.mp4")
    assert info.rotation in (90, 270)
    t, frame = next(FrameReader(info).read(0.0, 1.0, fps=1))
    assert frame.shape[0] > frame.shape[1]  # portrait after rotation


def test_unknown_video_id_is_a_clear_error(cli_env, gt_clip):
    run_cli("ingest", str(gt_clip[0]), "--quiet", env_extra=cli_env)
    result = run_cli("events", "nope", env_extra=cli_env)
    assert result.returncode != 0 and result.stderr.startswith("error: unknown video id")


def test_probe_and_window_timeouts_stop_cleanly_and_resume(gt_clip, services, tmp_path):
    """A file that takes too long (here: limits no real file can meet) gives a clear error; nothing half-written."""
    from orchestrator.config import IngestConfig
    from orchestrator.media import MediaError, probe
    from orchestrator.pipeline import Ingestor

    with pytest.raises(MediaError, match="took longer than"):
        probe(gt_clip[0], timeout_s=0.0)
    home = tmp_path / "home"
    with pytest.raises(MediaError, match=r"window 1 \(0-20 s\) took longer than"):
        Ingestor(home, services, IngestConfig(window_timeout_s=0.001)).ingest(gt_clip[0])
    _consistent(home)
    summary = Ingestor(home, services).ingest(gt_clip[0])
    assert summary.windows == 2 and summary.events > 0
    _consistent(home)
