"""Export cited moments: a short highlight clip of the moments an answer cites, cut from the source video.

A person wants the moments that matter, a few seconds each: every cited event becomes a moment of a short
lead-in, the start of the event (at most ``hold_s`` of a long one) and a short lead-out; moments that touch are
merged into one; the answer's first citations are kept until a cap on the number of moments or on the total
length is reached. The clip is named after the video and the question, has one chapter per moment (MP4 chapter
metadata written through FFmpeg's ffmetadata) and a caption track saying which moment it is and why it is there,
also written as an ``.srt`` next to the clip.

Encoded with NVENC (``h264_nvenc``) when the FFmpeg build has it and a GPU is present, else libx264 on the CPU;
audio as AAC.

    cited = [CitedMoment(33.0, 36.0, "sound:1", "ringing heard (2 rings)")]
    result = export_cited("campus.mp4", cited, "exports/", question="When does the phone ring?")
    result.name  # 'campus - when does the phone ring - 00m33s.mp4'
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import srt
from pathvalidate import sanitize_filename

from .events import Event, fmt_time, plural, quote
from .media import MediaError, probe


@dataclass(frozen=True)
class CitedMoment:
    """One moment an answer cites: its event's span in the source video and a few words saying what it is."""

    t_start: float
    t_end: float
    event_id: str = ""
    what: str = ""  # 'said "Hello, who is calling?"', 'ringing heard (2 rings)'


@dataclass(frozen=True)
class ExportLimits:
    """How the moments are cut and how many are kept."""

    lead_s: float = 1.5  # shown before each cited event starts
    tail_s: float = 1.5  # shown after it (after the part of it that is kept)
    hold_s: float = 5.0  # at most this much of a long event, from its start
    gap_s: float = 0.5  # moments closer than this are one moment
    max_moments: int = 6
    max_total_s: float = 30.0

    def __post_init__(self) -> None:
        if min(self.lead_s, self.tail_s, self.gap_s) < 0 or self.hold_s <= 0 or self.max_moments < 1 or self.max_total_s <= 0:
            raise ValueError("export limits: lead, tail and gap must be >= 0, hold and the total > 0, and at least one moment")


@dataclass(frozen=True)
class Chapter:
    """One moment of the clip: its span in the source video, where it starts in the clip, and what it shows."""

    t_start: float
    t_end: float
    clip_start: float
    cited: tuple[CitedMoment, ...]

    @property
    def duration_s(self) -> float:
        return round(self.t_end - self.t_start, 3)

    @property
    def title(self) -> str:
        """'00:33 ringing heard (2 rings)', '+ 1 more' when several cited events share the moment."""
        first = self.cited[0]
        more = f" (+ {len(self.cited) - 1} more)" if len(self.cited) > 1 else ""
        return f"{fmt_time(round(first.t_start))} {first.what or 'cited moment'}{more}"

    def caption(self, index: int, count: int) -> str:
        """What the caption track shows during this moment: which moment, and why it is in the clip."""
        times: dict[str, list[str]] = {}
        for c in self.cited:
            at = times.setdefault(c.what or "cited moment", [])
            if fmt_time(round(c.t_start)) not in at:
                at.append(fmt_time(round(c.t_start)))
        why = "; ".join(f"{what} at {', '.join(at[:4])}" + (f" and {len(at) - 4} more times" if len(at) > 4 else "") for what, at in times.items())
        span = f"{fmt_time(round(self.t_start))}-{fmt_time(round(self.t_end))}"
        return f"Moment {index} of {count} ({span} in the video)\nCited: {why}"

    def to_dict(self) -> dict:
        return {
            "t_start": self.t_start,
            "t_end": self.t_end,
            "clip_start": self.clip_start,
            "clip_end": round(self.clip_start + self.duration_s, 3),
            "title": self.title,
            "cited": [{"t_start": c.t_start, "t_end": c.t_end, "event_id": c.event_id, "what": c.what} for c in self.cited],
        }


@dataclass(frozen=True)
class ExportPlan:
    """The moments kept, in time order, and how many of the answer's citations they hold."""

    chapters: tuple[Chapter, ...]
    n_cited: int  # distinct moments the answer cites
    n_kept: int  # of those, how many the clip shows
    limits: ExportLimits = field(default_factory=ExportLimits)

    @property
    def total_s(self) -> float:
        return round(float(sum(c.duration_s for c in self.chapters)), 3)

    def choice(self) -> str:
        """Why these moments: all of them, or the answer's first ones up to the caps."""
        if self.n_kept == self.n_cited:
            return ""
        lim = self.limits
        return f"the first the answer cites, up to {plural(lim.max_moments, 'moment')} and {lim.max_total_s:g} s"


def _span(c: CitedMoment, lim: ExportLimits, duration_s: float) -> tuple[float, float]:
    end = min(max(c.t_end, c.t_start), c.t_start + lim.hold_s)
    return max(0.0, c.t_start - lim.lead_s), min(duration_s, end + lim.tail_s)


def _merge(spans: list[tuple[float, float, int]], gap_s: float) -> list[tuple[float, float, list[int]]]:
    out: list[tuple[float, float, list[int]]] = []
    for a, b, i in sorted(spans):
        if out and a <= out[-1][1] + gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], b), out[-1][2] + [i])
        else:
            out.append((a, b, [i]))
    return out


def plan_export(cited: list[CitedMoment], duration_s: float, limits: ExportLimits | None = None) -> ExportPlan:
    """The chapters of a clip of ``cited`` (in the answer's order, the first the most prominent).

    Each moment is its event's start with a lead-in and a lead-out, at most ``hold_s`` of a long event; moments
    that touch are merged; citations are taken in order while the merged moments stay within the caps (one
    that would break a cap is left out, a later one inside a kept moment still counts as kept).

    >>> p = plan_export([CitedMoment(10, 11), CitedMoment(12, 40), CitedMoment(60, 61)], 80, ExportLimits(1, 1, 3, 0.5, 6, 30))
    >>> [(c.t_start, c.t_end, c.clip_start) for c in p.chapters], p.n_kept, p.total_s
    ([(9.0, 16.0, 0.0), (59.0, 62.0, 7.0)], 3, 10.0)
    """
    lim = limits or ExportLimits()
    unique: list[CitedMoment] = []
    seen: set = set()
    for c in cited:
        key = c.event_id or (round(c.t_start, 2), round(c.t_end, 2))
        if key not in seen and 0 <= c.t_start <= duration_s:
            seen.add(key)
            unique.append(c)
    kept: list[tuple[float, float, int]] = []
    for i, c in enumerate(unique):
        trial = kept + [(*_span(c, lim, duration_s), i)]
        merged = _merge(trial, lim.gap_s)
        if len(merged) <= lim.max_moments and sum(b - a for a, b, _ in merged) <= lim.max_total_s + 1e-6:
            kept = trial
    chapters, at = [], 0.0
    for a, b, idx in _merge(kept, lim.gap_s):
        a, b = round(float(a), 3), round(float(b), 3)
        if b - a < 0.05:
            continue
        chapters.append(Chapter(a, b, round(at, 3), tuple(unique[i] for i in sorted(idx, key=lambda i: unique[i].t_start))))
        at += b - a
    return ExportPlan(tuple(chapters), len(unique), sum(len(c.cited) for c in chapters), lim)


def clip_name(video_name: str, question: str, first_t: float, ext: str = ".mp4") -> str:
    """A clip's file name: the video's stem, the question as words, the first moment's time.

    >>> clip_name("campus.mp4", "When does the phone ring?", 33.4)
    'campus - when does the phone ring - 00m33s.mp4'
    >>> clip_name("cam 1:a*.mov", "What's at 1:02:03? <b>", 3723)
    'cam 1a - whats at 1 02 03 b - 01h02m03s.mp4'
    """
    stem = Path(str(video_name).replace("\\", "/")).stem if video_name else "video"
    words = re.sub(r"['\u2019]", "", question.lower())
    words = " ".join(re.sub(r"[^\w]+", " ", words).split())
    if len(words) > 60:
        words = words[:60].rsplit(" ", 1)[0]
    t = max(0, int(round(first_t)))
    h, rem = divmod(t, 3600)
    when = (f"{h:02d}h" if h else "") + f"{rem // 60:02d}m{rem % 60:02d}s"
    stem = " ".join(sanitize_filename(stem, replacement_text="").split())[:80] or "video"
    name = " - ".join(part for part in (stem, words or "cited moments", when) if part)
    return sanitize_filename(name + ext, replacement_text="", max_len=200)


def what_event(e: Event) -> str:
    """A few words for an event, for a chapter title and its caption.

    >>> what_event(Event("s", "sound", "ringing", 33, 36, attrs={"pattern": "2 rings"}))
    'ringing heard (2 rings)'
    >>> what_event(Event("o", "object", "person", 4, 9, attrs={"appearance_colours": ["black", "blue"]}))
    'person in black in view'
    """
    if e.kind == "speech":
        return f"said {quote(e.text, 70)}"
    if e.kind == "object":
        colours = e.attrs.get("appearance_colours") or e.attrs.get("colours") or []
        if colours and e.label == "person":  # a person's colours are their clothes'
            return f"person in {colours[0]} in view"
        return f"{(colours[0] + ' ') if colours else ''}{e.label} in view"
    if e.kind == "sound":
        return f"{e.label} heard" + (f" ({e.attrs['pattern']})" if e.attrs.get("pattern") else "")
    if e.kind == "alert":
        return f"alert: {e.label}" + (f" - {quote(e.text, 60)}" if e.text else "")
    if e.kind == "text":
        return f"text on screen {quote(e.text or e.label, 60)}"
    if e.kind == "scene_cut":
        return "the scene changes"
    if e.kind == "motion":
        return "sudden motion"
    return quote(e.text, 70) if e.text else e.label


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


def _ffmeta(text: str) -> str:
    """A value escaped for FFmpeg's ffmetadata format (``=``, ``;``, ``#``, ``\\`` and newlines)."""
    return re.sub(r"([=;#\\\n])", r"\\\1", text)


def ffmetadata(title: str, chapters: list[tuple[float, float, str]]) -> str:
    """An ffmetadata file: the clip's title and one chapter per (start, end, title) of the clip, in milliseconds.

    >>> print(ffmetadata("a=b", [(0, 2.5, "00:33 ringing")]))
    ;FFMETADATA1
    title=a\\=b
    [CHAPTER]
    TIMEBASE=1/1000
    START=0
    END=2500
    title=00:33 ringing
    <BLANKLINE>
    """
    lines = [";FFMETADATA1", f"title={_ffmeta(title)}"]
    for a, b, name in chapters:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(a * 1000)}", f"END={round(b * 1000)}", f"title={_ffmeta(name)}"]
    return "\n".join(lines) + "\n"


def _cut(
    video: str | Path,
    parts: list[tuple[float, float]],
    out: Path,
    max_side: int,
    timeout_s: float,
    *,
    title: str = "",
    chapters: list[str] | None = None,
    captions: str | None = None,
) -> Path:
    """Cut ``parts`` of ``video`` into one MP4 at ``out`` (written atomically), with a chapter per part and a caption
    track (SRT text) when given."""
    info = probe(video)
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    # each part is its own input, seeked to (FFmpeg's input seeking is exact when re-encoding): only the parts are
    # decoded, not the video from its start up to the last part, which matters on a two-hour video
    cmd = ["ffmpeg", "-v", "error", "-y"]
    filters, labels = [], []
    for i, (a, b) in enumerate(parts):
        cmd += ["-ss", f"{a:.3f}", "-t", f"{b - a:.3f}", "-i", str(video)]
        if info.has_video:
            filters.append(f"[{i}:v]setpts=PTS-STARTPTS,scale='min({max_side},iw)':-2[v{i}]")
            labels.append(f"[v{i}]")
        if info.has_audio:
            filters.append(f"[{i}:a]asetpts=PTS-STARTPTS[a{i}]")
            labels.append(f"[a{i}]")
    v, a = int(info.has_video), int(info.has_audio)
    filters.append(f"{''.join(labels)}concat=n={len(parts)}:v={v}:a={a}" + ("[v]" if v else "") + ("[a]" if a else ""))
    with tempfile.TemporaryDirectory(prefix="vdet-export-") as work:
        extra = len(parts)
        if chapters is not None:
            meta = Path(work) / "chapters.txt"
            at, marks = 0.0, []
            for (s, e), name in zip(parts, chapters):
                marks.append((at, at + (e - s), name))
                at += e - s
            meta.write_text(ffmetadata(title, marks), encoding="utf-8")
            cmd += ["-f", "ffmetadata", "-i", str(meta)]
            meta_input, extra = extra, extra + 1
        if captions is not None:
            subs = Path(work) / "captions.srt"
            subs.write_text(captions, encoding="utf-8")
            cmd += ["-i", str(subs)]
            subs_input = extra
        cmd += ["-filter_complex", ";".join(filters)]
        if v:
            encoder = video_encoder()
            cmd += ["-map", "[v]", "-c:v", encoder, "-pix_fmt", "yuv420p"] + (["-preset", "veryfast", "-crf", "23"] if encoder == "libx264" else [])
        if a:
            cmd += ["-map", "[a]", "-c:a", "aac", "-b:a", "128k"]
        if chapters is not None:
            cmd += ["-map_metadata", str(meta_input), "-map_chapters", str(meta_input)]
        if captions is not None:
            cmd += ["-map", f"{subs_input}:s", "-c:s", "mov_text", "-metadata:s:s:0", "language=eng", "-metadata:s:s:0", "handler_name=Cited moments"]
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


def _need_ffmpeg() -> None:
    if not shutil.which("ffmpeg"):
        raise MediaError("exporting clips needs ffmpeg; run `make setup`")


def export_moments(
    video: str | Path, spans: list[tuple[float, float]], out: str | Path, pad_s: float = 1.0, max_side: int = 1280, timeout_s: float = 600
) -> Path:
    """Cut ``spans`` (seconds, each padded by ``pad_s``, merged where they overlap) from ``video`` into one MP4 at ``out``."""
    _need_ffmpeg()
    parts = merge_spans(spans, pad_s, probe(video).duration_s)
    if not parts:
        raise MediaError("nothing to export: no cited moments inside the video")
    return _cut(video, parts, Path(out), max_side, timeout_s)


@dataclass(frozen=True)
class ExportResult:
    """An exported clip: its file (an ``ExportResult`` is path-like: ``open(result)``, ``str(result)``), the caption
    file next to it, and the plan it was cut from."""

    file: Path
    subtitles: Path
    plan: ExportPlan

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def duration_s(self) -> float:
        return self.plan.total_s

    @property
    def message(self) -> str:
        p = self.plan
        of = f" of {p.n_cited}" if p.n_kept < p.n_cited else ""
        why = f" ({p.choice()})" if p.choice() else ""
        return (
            f"Exported {plural(p.n_kept, 'cited moment')}{of}{why} as {plural(len(p.chapters), 'chapter')}, "
            f"{p.total_s:.0f} s in all: {self.name} (captions in {self.subtitles.name})"
        )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "duration_s": self.duration_s,
            "moments": [c.to_dict() for c in self.plan.chapters],
            "cited": self.plan.n_cited,
            "kept": self.plan.n_kept,
            "message": self.message,
        }

    def __fspath__(self) -> str:
        return os.fspath(self.file)

    def __str__(self) -> str:
        return str(self.file)


def captions_srt(plan: ExportPlan) -> str:
    """The caption track: one subtitle per chapter, for the whole of it, saying which moment it is and why."""
    n = len(plan.chapters)
    subs = [
        srt.Subtitle(i, timedelta(seconds=c.clip_start), timedelta(seconds=c.clip_start + c.duration_s), c.caption(i, n))
        for i, c in enumerate(plan.chapters, 1)
    ]
    return srt.compose(subs)


def export_cited(
    video: str | Path,
    cited: list[CitedMoment],
    out_dir: str | Path,
    *,
    video_name: str | None = None,
    question: str = "",
    limits: ExportLimits | None = None,
    max_side: int = 1280,
    timeout_s: float = 600,
) -> ExportResult:
    """Cut the moments an answer cites (in its order) into a short clip in ``out_dir``, named after the video
    (``video_name``, else the file's) and the question, with a chapter and a caption per moment and an ``.srt``
    of the captions beside it."""
    _need_ffmpeg()
    info = probe(video)
    plan = plan_export(cited, info.duration_s, limits)
    if not plan.chapters:
        raise MediaError("nothing to export: the answer cites no moment inside the video; ask a question whose answer cites moments")
    name = clip_name(video_name or Path(video).name, question, plan.chapters[0].cited[0].t_start)
    out = Path(out_dir) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    captions = captions_srt(plan)
    _cut(
        video,
        [(c.t_start, c.t_end) for c in plan.chapters],
        out,
        max_side,
        timeout_s,
        title=Path(name).stem,
        chapters=[c.title for c in plan.chapters],
        captions=captions,
    )
    subtitles = out.with_suffix(".srt")
    subtitles.write_text(captions, encoding="utf-8")
    return ExportResult(out, subtitles, plan)
