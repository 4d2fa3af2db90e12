"""Folder ingest through the CLI: every video of a folder in name order, a bad file reported while the rest go on,
and a second run that skips what is done (by content hash), with the real models."""

from __future__ import annotations

import json
import shutil

from conftest import run_cli


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
