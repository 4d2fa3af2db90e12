"""Folder ingest through the CLI: every video of a folder in name order, a bad file reported while the rest go on,
and a second run that skips what is done (by content hash), with the real models; and the watch mode: each new video
ingested once, when it is complete, and placed on the library's clock (container metadata, file name, or given)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

from conftest import REPO, run_cli


def test_folder_ingest_goes_on_past_a_bad_file_and_resumes(gt_clip, media_dir, cli_env, tmp_path):
    folder = tmp_path / "day"
    folder.mkdir()
    shutil.copy(gt_clip[0], folder / "a_gate.mp4")
    (folder / "b_broken.mp4").write_bytes(b"this is not a video at all\n" * 50)
    shutil.copy(media_dir / "bikes.mp4", folder / "c_street.mp4")
    (folder / "notes.txt").write_text("not a video")
    r = run_cli("ingest", str(folder), "--json", "--quiet", env_extra=cli_env)
    assert r.returncode == 1, r.stderr  # one file failed
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert [v["name"] for v in out["videos"]] == ["a_gate.mp4", "b_broken.mp4", "c_street.mp4"]
    assert [v["status"] for v in out["videos"]] == ["ingested", "failed", "ingested"]
    assert (out["ingested"], out["skipped"], out["failed"]) == (2, 0, 1)
    lines = r.stderr.strip().splitlines()
    assert lines[0].endswith("(1 other files ignored)")
    progress = [x for x in lines if x.startswith("[")]
    assert [x.split(":")[0] for x in progress] == ["[1/3] a_gate.mp4", "[2/3] b_broken.mp4", "[3/3] c_street.mp4"]
    assert "FAILED" in progress[1] and "Traceback" not in r.stderr
    assert lines[-1].startswith(f"{folder}: 2 ingested, 0 already done, 1 failed (b_broken.mp4")

    (folder / "b_broken.mp4").unlink()
    again = run_cli("ingest", str(folder), "--json", "--quiet", env_extra=cli_env)
    assert again.returncode == 0, again.stderr
    out2 = json.loads(again.stdout.strip().splitlines()[-1])
    assert [v["status"] for v in out2["videos"]] == ["skipped", "skipped"]
    assert [v["video_id"] for v in out2["videos"]] == [out["videos"][0]["video_id"], out["videos"][2]["video_id"]]
    assert "already ingested, skipped" in again.stderr

    listed = run_cli("videos", "--json", env_extra=cli_env)
    assert sorted(v["name"] for v in json.loads(listed.stdout.strip().splitlines()[-1])) == ["a_gate.mp4", "c_street.mp4"]


def _remux(src, dest, *metadata: str) -> None:
    """The same streams in a new file (new bytes, so a new video) with the metadata given."""
    args = [a for m in metadata for a in ("-metadata", m)]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy", *args, str(dest)], check=True, capture_output=True, timeout=120)


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def _wait_for(lines: queue.Queue, seen: list[str], want: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if want in line:
            return line
    raise AssertionError(f"no {want!r} within {timeout:g} s; stderr so far:\n" + "\n".join(seen))


def _drain(lines: queue.Queue, seen: list[str]) -> list[str]:
    new = []
    while not lines.empty():
        new.append(lines.get_nowait())
    seen += new
    return new


def test_watch_folder_ingests_each_complete_video_once_and_places_it_on_the_clock(gt_clip, cli_env, tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    tagged, named = tmp_path / "tagged.mp4", tmp_path / "named.mp4"
    _remux(gt_clip[0], tagged, "creation_time=2026-11-30T14:00:00Z")  # the camera wrote when it started
    _remux(gt_clip[0], named, "title=cam2")  # no creation_time: its file name says when
    cmd = [sys.executable, "-m", "orchestrator", "ingest", str(folder), "--watch", "--poll-s", "0.3", "--settle-s", "1.5", "--quiet", "--json"]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **cli_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    seen: list[str] = []
    reader = threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    try:
        _wait_for(lines, seen, "watching", 180)
        shutil.copy(tagged, folder / "gate.mp4")
        assert "[1] gate.mp4: video " in _wait_for(lines, seen, "[1] ", 300)

        # a file still being copied (a chunk every 0.6 s, under the 1.5 s it must stay unchanged) is left alone
        data = named.read_bytes()
        growing = folder / "cam2_2026-11-30_14-10-00.mp4"
        with open(growing, "wb") as fh:
            for i in range(8):
                fh.write(data[i * len(data) // 8 : (i + 1) * len(data) // 8])
                fh.flush()
                time.sleep(0.6)
                assert not [x for x in _drain(lines, seen) if x.startswith("[2]")], seen
        assert _wait_for(lines, seen, "[2] ", 300).startswith(f"[2] {growing.name}: video ")
        time.sleep(3)  # a few more looks at the folder: nothing is ingested twice
        assert not [x for x in _drain(lines, seen) if x.startswith("[3]")], seen
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    out = proc.stdout.read()  # one JSON line: nothing else is written there
    reader.join(timeout=30)
    _drain(lines, seen)
    assert proc.returncode == 0, "\n".join(seen)
    assert seen[-1] == f"stopped watching {folder}: 2 ingested, 0 already done, 0 failed" and "FAILED" not in "\n".join(seen)
    summary = json.loads(out.strip().splitlines()[-1])
    assert [(v["name"], v["status"]) for v in summary["videos"]] == [("gate.mp4", "ingested"), (growing.name, "ingested")]

    listed = run_cli("videos", "--json", env_extra=cli_env)
    videos = {v["name"]: v for v in json.loads(listed.stdout.strip().splitlines()[-1])}
    assert {n: (v["recorded_at"], v["recorded_from"], v["status"]) for n, v in videos.items()} == {
        "gate.mp4": ("2026-11-30 14:00:00", "metadata", "done"),
        growing.name: ("2026-11-30 14:10:00", "name", "done"),
    }
    # one file given its start: it overrides the metadata; and bad input is refused before anything starts
    given = run_cli("ingest", str(folder / "gate.mp4"), "--recorded-at", "2026-11-30T15:00:00+01:00", "--quiet", env_extra=cli_env)
    assert given.returncode == 0 and "recorded at 2026-11-30 14:00:00 UTC (given)" in given.stderr, given.stderr
    bad = run_cli("ingest", str(folder), "--recorded-at", "2026-11-30T14:00:00Z", env_extra=cli_env)
    assert bad.returncode == 2 and "give a video file, not a folder" in bad.stderr
    bad = run_cli("ingest", str(folder / "gate.mp4"), "--recorded-at", "half past two", env_extra=cli_env)
    assert bad.returncode == 2 and "--recorded-at takes an ISO date and time" in bad.stderr


def _chunks(stream, into: queue.Queue) -> None:
    """stderr in pieces ended by a newline or a carriage return (a progress bar redraws its line with \\r)."""
    piece = ""
    while ch := stream.read(1):
        if ch in "\r\n":
            if piece.strip():
                into.put(piece)
            piece = ""
        else:
            piece += ch


def test_watch_stopped_mid_ingest_keeps_finished_windows_and_the_next_run_resumes(gt_clip, cli_env, tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    _remux(gt_clip[0], folder / "long.mp4", "title=stopped")  # 40 s: 8 windows of 5 s
    cmd = [sys.executable, "-m", "orchestrator", "ingest", str(folder), "--watch", "--poll-s", "0.3", "--settle-s", "0.5", "--window-s", "5"]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **cli_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    seen: list[str] = []
    reader = threading.Thread(target=_chunks, args=(proc.stderr, lines), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # the bar says some windows are done, not all
            try:
                piece = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(piece)
            if any(f" {k}/8 " in piece for k in (2, 3, 4)):
                break
        else:
            raise AssertionError("no progress bar at 2-4 of 8 windows:\n" + "\n".join(seen))
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(timeout=120)
    reader.join(timeout=30)
    _drain(lines, seen)
    assert proc.returncode == 130, "\n".join(seen)  # an interrupted ingest, as the single-file ingest says it
    assert seen[-1] == (
        f"stopped watching {folder}: 0 ingested, 0 already done, 0 failed; long.mp4 stopped mid-ingest, its finished windows saved (run again to resume)"
    ), "\n".join(seen)
    listed = json.loads(run_cli("videos", "--json", env_extra=cli_env).stdout.strip().splitlines()[-1])
    assert len(listed) == 1 and 2 <= listed[0]["windows_done"] < listed[0]["n_windows"] == 8
    again = run_cli("ingest", str(folder), "--window-s", "5", "--json", "--quiet", env_extra=cli_env)
    assert again.returncode == 0, again.stderr
    (video,) = json.loads(again.stdout.strip().splitlines()[-1])["videos"]
    assert video["status"] == "ingested" and video["windows_resumed"] == listed[0]["windows_done"] and video["windows"] == 8
