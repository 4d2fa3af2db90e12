"""Export cited moments: a clip, or a highlight reel of several moments, cut from the source video.

Encoded with NVENC (``h264_nvenc``) when the FFmpeg build has it and a GPU is present, else libx264
on the CPU; audio as AAC. Spans are padded a little, merged when they touch, and kept in order.

    export_moments("game.mp4", [(12.0, 15.0), (83.5, 90.0)], "highlights.mp4")
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .media import MediaError, probe


def merge_spans(spans: list[tuple[float, float]], pad_s: float, duration_s: float) -> list[tuple[float, float]]:
    """Pad, clip to the video, sort and merge overlapping spans.

    >>> merge_spans([(10, 12), (12.5, 14), (40, 41)], 1.0, 41.5)
    [(9.0, 15.0), (39.0, 41.5)]
    """
    out: list[list[float]] = []
    for a, b in sorted((max(0.0, a - pad_s), min(duration_s, max(a, b) + pad_s)) for a, b in spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        elif b > a:
            out.append([a, b])
    return [(round(a, 3), round(b, 3)) for a, b in out]


def video_encoder() -> str:
    """NVENC when this FFmpeg has it and an NVIDIA GPU is visible, else libx264."""
    try:
        encoders = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "libx264"
    if "h264_nvenc" in encoders and shutil.which("nvidia-smi"):
        return "h264_nvenc"
    return "libx264"


def export_moments(
    video: str | Path, spans: list[tuple[float, float]], out: str | Path, pad_s: float = 1.0, max_side: int = 1280, timeout_s: float = 600
) -> Path:
    """Cut ``spans`` (seconds) from ``video`` into one MP4 at ``out``; written atomically."""
    if not shutil.which("ffmpeg"):
        raise MediaError("exporting clips needs ffmpeg; run `make setup`")
    info = probe(video)
    parts = merge_spans(spans, pad_s, info.duration_s)
    if not parts:
        raise MediaError("nothing to export: no cited moments inside the video")
    out = Path(out)
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    filters, labels = [], []
    for i, (a, b) in enumerate(parts):
        if info.has_video:
            filters.append(f"[0:v]trim=start={a}:end={b},setpts=PTS-STARTPTS,scale='min({max_side},iw)':-2[v{i}]")
            labels.append(f"[v{i}]")
        if info.has_audio:
            filters.append(f"[0:a]atrim=start={a}:end={b},asetpts=PTS-STARTPTS[a{i}]")
            labels.append(f"[a{i}]")
    v, a = int(info.has_video), int(info.has_audio)
    filters.append(f"{''.join(labels)}concat=n={len(parts)}:v={v}:a={a}" + ("[v]" if v else "") + ("[a]" if a else ""))
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(video), "-filter_complex", ";".join(filters)]
    if v:
        encoder = video_encoder()
        cmd += ["-map", "[v]", "-c:v", encoder, "-pix_fmt", "yuv420p"] + (["-preset", "veryfast", "-crf", "23"] if encoder == "libx264" else [])
    if a:
        cmd += ["-map", "[a]", "-c:a", "aac", "-b:a", "128k"]
    cmd += ["-movflags", "+faststart", str(tmp)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"exporting took longer than {timeout_s:.0f} s; export fewer or shorter moments") from None
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"could not export the clip: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'ffmpeg failed'}")
    tmp.replace(out)
    return out
