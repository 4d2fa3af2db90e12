"""Media stage: probe a file, read frames at chosen times, read 16 kHz mono audio.

Frames come from decord (fast, resizes inside the decoder); where decord cannot
open a file or fails on a window (odd codecs, corrupt packets) PyAV takes over.
Audio always comes from PyAV (decord's audio reader fails on e.g. AC3-in-AVI).
All times are seconds from the start of the video stream.

    info = probe("clip.mp4")
    reader = FrameReader(info, max_side=640)
    for t, rgb in reader.read(0.0, 20.0, fps=4):
        ...
    pcm = read_audio(info, 0.0, 20.0)      # float32, 16 kHz mono
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

log = logging.getLogger(__name__)

AUDIO_RATE = 16000


class MediaError(ValueError):
    """The file cannot be used as media; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class MediaInfo:
    path: str
    size_bytes: int
    container: str
    duration_s: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    rotation: int = 0  # degrees clockwise to display upright
    vfr: bool = False
    video_codec: str = ""
    audio_codec: str = ""
    audio_rate: int = 0
    audio_channels: int = 0
    video_start_s: float = 0.0
    audio_start_s: float = 0.0  # relative to the video stream start: the audio clock offset


MAGIC = ((4, b"ftyp", "MP4/MOV"), (0, b"\x1a\x45\xdf\xa3", "MKV/WebM"), (0, b"RIFF", "AVI/WAV"), (0, b"OggS", "Ogg"), (0, b"FLV", "FLV"))


def _container_magic(path: str) -> str:
    """The container a file's first bytes announce, judged by content, not by its name."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return ""
    return next((name for offset, magic, name in MAGIC if head[offset : offset + len(magic)] == magic), "")


def _quiet_decoders() -> None:
    """Decoders print corrupt-packet noise on stderr; we report problems ourselves."""
    import av  # noqa: PLC0415

    av.logging.set_level(av.logging.PANIC)
    try:
        import decord  # noqa: PLC0415

        decord.logging.set_level(decord.logging.QUIET)
    except ImportError:
        pass


def _open(path: str):
    import av  # noqa: PLC0415

    try:
        return av.open(path, timeout=30.0)
    except av.error.InvalidDataError:
        kind = _container_magic(path)
        if kind:
            raise MediaError(f"{Path(path).name}: an {kind} file that cannot be read: it looks truncated or corrupt; copy the complete file again") from None
        raise MediaError(f"{Path(path).name}: not a media file FFmpeg can read; upload a video such as MP4, MKV, MOV, AVI or WebM") from None
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"{Path(path).name}: cannot open ({exc}); check the file is a complete video") from None


def probe(path: str | Path, timeout_s: float | None = None) -> MediaInfo:
    """Read what the file holds. Raises MediaError for empty, unreadable or stream-less files, and for a
    file whose header takes longer than ``timeout_s`` (``VDET_PROBE_TIMEOUT_S``, default 60) to read."""
    import os  # noqa: PLC0415
    import threading  # noqa: PLC0415

    timeout_s = float(os.environ.get("VDET_PROBE_TIMEOUT_S", "60")) if timeout_s is None else timeout_s
    box: dict = {}

    def run() -> None:
        try:
            box["info"] = _probe(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    # a daemon thread: a decoder that hangs cannot hold the process (or its exit) hostage
    worker = threading.Thread(target=run, name="probe", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise MediaError(f"{Path(str(path)).name}: reading the file took longer than {timeout_s:g} s; it may be damaged or on a stalled disk")
    if "error" in box:
        raise box["error"]
    return box["info"]


def _probe(path: str | Path) -> MediaInfo:
    _quiet_decoders()
    path = str(path)
    p = Path(path)
    if not p.is_file():
        raise MediaError(f"{path}: no such file")
    size = p.stat().st_size
    if size == 0:
        raise MediaError(f"{p.name}: the file is empty (0 bytes); upload the complete video")
    with _open(path) as container:
        vstream = next((s for s in container.streams.video), None)
        astream = next((s for s in container.streams.audio), None)
        if vstream is None and astream is None:
            raise MediaError(f"{p.name}: contains no video or audio stream")
        duration = 0.0
        if container.duration:
            duration = container.duration / 1_000_000
        for s in (vstream, astream):
            if s is not None and s.duration and s.time_base:
                duration = max(duration, float(s.duration * s.time_base))
        info: dict = dict(path=path, size_bytes=size, container=container.format.name, has_video=vstream is not None, has_audio=astream is not None)
        video_start = float(vstream.start_time * vstream.time_base) if vstream is not None and vstream.start_time is not None else 0.0
        if vstream is not None:
            cc = vstream.codec_context
            rate = vstream.average_rate or vstream.guessed_rate or vstream.base_rate
            info.update(width=cc.width, height=cc.height, fps=float(rate) if rate else 0.0, video_codec=cc.name, video_start_s=video_start)
            info.update(_scan_video(container, vstream))
            if not info.get("_decodable", False):
                if astream is None:
                    raise MediaError(f"{p.name}: the video stream ({cc.name}) cannot be decoded; the file may be corrupt or truncated")
                log.warning("%s: video stream cannot be decoded; ingesting audio only", p.name)
                info.update(has_video=False)
            info.pop("_decodable", None)
            if duration <= 0 and info.get("_last_t"):
                duration = info["_last_t"]
            info.pop("_last_t", None)
        if astream is not None:
            cc = astream.codec_context
            start = float(astream.start_time * astream.time_base) if astream.start_time is not None else 0.0
            info.update(audio_codec=cc.name, audio_rate=cc.sample_rate or 0, audio_channels=cc.channels or 0, audio_start_s=start - video_start)
    if duration <= 0:
        raise MediaError(f"{p.name}: duration unknown or zero; the file may be truncated")
    return MediaInfo(duration_s=round(duration, 3), **info)


def _scan_video(container, vstream) -> dict:
    """Decode the first frames: proves the stream decodes, finds rotation and variable frame rate."""
    out: dict = {"_decodable": False, "rotation": 0, "vfr": False}
    times: list[float] = []
    try:
        for frame in container.decode(vstream):
            if not out["_decodable"]:
                out["_decodable"] = True
                out["rotation"] = int(getattr(frame, "rotation", 0) or 0) % 360
            if frame.time is not None:
                times.append(frame.time)
            if len(times) >= 60:
                break
    except Exception as exc:  # noqa: BLE001 - any decoder error means "not decodable here"
        log.debug("probe decode stopped: %s", exc)
    frame = None  # noqa: F841 - release the decoder's frame before the container closes
    if len(times) >= 3:
        deltas = np.diff(sorted(times))
        deltas = deltas[deltas > 0]
        if len(deltas) >= 2 and deltas.mean() > 0:
            out["vfr"] = bool(deltas.std() / deltas.mean() > 0.2)
    if times:
        out["_last_t"] = max(times)
    return out


def _target_size(info: MediaInfo, max_side: int) -> tuple[int, int]:
    w, h = info.width, info.height
    scale = min(1.0, max_side / max(w, h)) if max(w, h) else 1.0
    return max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)


def _rotate(frame: np.ndarray, rotation: int) -> np.ndarray:
    if rotation == 90:
        return np.ascontiguousarray(np.rot90(frame, k=-1))
    if rotation == 180:
        return np.ascontiguousarray(frame[::-1, ::-1])
    if rotation == 270:
        return np.ascontiguousarray(np.rot90(frame, k=1))
    return frame


class FrameReader:
    """Reads RGB frames near requested times, resized so the longer side is at most ``max_side``."""

    def __init__(self, info: MediaInfo, max_side: int = 640, backend: str = "auto"):
        if not info.has_video:
            raise MediaError(f"{Path(info.path).name}: no decodable video stream")
        self.info = info
        self.width, self.height = _target_size(info, max_side)
        self.backend = "pyav"
        self._vr = None
        self._times: np.ndarray | None = None
        if backend in ("auto", "decord"):
            try:
                import decord  # noqa: PLC0415

                self._vr = decord.VideoReader(info.path, ctx=decord.cpu(0), width=self.width, height=self.height, num_threads=2)
                ts = self._vr.get_frame_timestamp(np.arange(len(self._vr)))
                self._times = ts[:, 0].astype(np.float64)
                self.backend = "decord"
            except Exception as exc:  # noqa: BLE001 - decord raises its own DECORDError and others
                log.info("decord cannot read %s (%s); using PyAV", Path(info.path).name, exc)
                self._vr = None

    def read(self, t0: float, t1: float, fps: float) -> Iterator[tuple[float, np.ndarray]]:
        """Frames in [t0, t1) at about ``fps`` (never more than the source has), with their real times."""
        if self.backend == "decord":
            try:
                yield from self._read_decord(t0, t1, fps)
                return
            except Exception as exc:  # noqa: BLE001
                log.warning("decord failed on %.1f-%.1f s (%s); falling back to PyAV", t0, t1, exc)
                self.backend = "pyav"
        yield from self._read_pyav(t0, t1, fps)

    def _read_decord(self, t0: float, t1: float, fps: float):
        times = self._times
        idx = np.flatnonzero((times >= t0) & (times < t1))
        if len(idx) == 0:
            return
        targets = np.arange(t0, t1, 1.0 / fps)
        # nearest real frame to each target time
        pos = np.clip(np.searchsorted(times[idx], targets), 1, len(idx) - 1) if len(idx) > 1 else np.zeros(len(targets), int)
        if len(idx) > 1:
            left_closer = (targets - times[idx][pos - 1]) < (times[idx][pos] - targets)
            pos = np.where(left_closer, pos - 1, pos)
        chosen = np.unique(idx[pos])
        for start in range(0, len(chosen), 16):
            part = chosen[start : start + 16]
            batch = self._vr.get_batch(part.tolist()).asnumpy()
            for i, frame in zip(part, batch):
                yield float(times[i]), _rotate(frame, self.info.rotation)

    def _read_pyav(self, t0: float, t1: float, fps: float):
        """Same choice as decord's: the real frame nearest each target time, frames in [t0, t1) only."""
        targets = np.arange(t0, t1, 1.0 / fps)
        k = 0
        prev = frame = pick = None  # (t, av frame)
        last_emitted = None
        with _open(self.info.path) as container:
            # No frame threading here: closing a frame-threaded decoder while a frame is still referenced
            # (we keep the previous one to pick the nearest) deadlocks in avcodec_free_context.
            stream = container.streams.video[0]
            start = self.info.video_start_s
            if t0 > 0:
                container.seek(int((t0 + start) / stream.time_base), stream=stream, backward=True)

            def emit(item):
                nonlocal last_emitted
                if last_emitted is not None and item[0] == last_emitted:
                    return None
                last_emitted = item[0]
                rgb = item[1].to_ndarray(width=self.width, height=self.height, format="rgb24")
                return float(item[0]), _rotate(rgb, self.info.rotation)

            bad_packets = 0
            decoded = _decode_skipping_errors(container, stream)
            for frame in decoded:
                if frame is None:
                    bad_packets += 1
                    continue
                if frame.time is None:
                    continue
                t = frame.time - start
                if t < t0 - 1e-6:
                    continue
                if t >= t1:
                    break
                while k < len(targets) and t >= targets[k]:
                    pick = prev if prev is not None and targets[k] - prev[0] < t - targets[k] else (t, frame)
                    out = emit(pick)
                    if out:
                        yield out
                    k += 1
                prev = (t, frame)
            if bad_packets:
                log.warning("%s: skipped %d undecodable video packets in %.1f-%.1f s", Path(self.info.path).name, bad_packets, t0, t1)
            if k < len(targets) and prev is not None:
                out = emit(prev)
                if out:
                    yield out
            decoded.close()
            prev = frame = pick = None  # release decoder-owned frames before the container closes


def _decode_skipping_errors(container, stream):
    """Decoded frames of one stream; a packet that fails to decode yields None and decoding goes on."""
    import av  # noqa: PLC0415

    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError):
                yield None
                continue
            yield from frames
    except av.error.FFmpegError as exc:  # the demuxer itself gave up (e.g. truncated file): keep what was read
        log.warning("demuxing stopped: %s", exc)


def read_audio(info: MediaInfo, t0: float, t1: float) -> np.ndarray:
    """Mono float32 PCM at 16 kHz covering [t0, t1) of the video's clock (zeros where there is none)."""
    n_out = max(0, int(round((t1 - t0) * AUDIO_RATE)))
    out = np.zeros(n_out, dtype=np.float32)
    if not info.has_audio or n_out == 0:
        return out
    import av  # noqa: PLC0415

    offset = info.audio_start_s  # audio clock relative to the video clock
    with _open(info.path) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        stream_start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        if t0 > 1.0:
            container.seek(int((t0 - 1.0 - offset + stream_start) / stream.time_base), stream=stream, backward=True)
        cursor: float | None = None  # video-clock time of the next resampled sample
        for frame in _decode_skipping_errors(container, stream):
            if frame is None:
                continue
            if cursor is None and frame.time is not None:
                cursor = frame.time - stream_start + offset
            try:
                resampled = resampler.resample(frame)
            except ValueError:  # the stream changed format mid-way (corruption): start a new resampler
                resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
                resampled = resampler.resample(frame)
            for rframe in resampled:
                cursor = _place(out, rframe.to_ndarray().reshape(-1), cursor or 0.0, t0)
            if cursor is not None and cursor >= t1:
                break
    return out


def _place(out: np.ndarray, pcm: np.ndarray, cursor: float, t0: float) -> float:
    start = int(round((cursor - t0) * AUDIO_RATE))
    lo, hi = max(start, 0), min(start + len(pcm), len(out))
    if hi > lo:
        out[lo:hi] = pcm[lo - start : hi - start]
    return cursor + len(pcm) / AUDIO_RATE


def frame_jpeg(path: str, t: float, max_side: int = 768, quality: int = 85) -> bytes | None:
    """One frame near ``t`` as JPEG bytes (for showing a key frame to a VLM or a person)."""
    import cv2  # noqa: PLC0415

    try:
        info = probe(path)
        if not info.has_video:
            return None
        for _, rgb in FrameReader(info, max_side=max_side).read(max(0.0, t - 0.25), t + 0.75, fps=2):
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
            return buf.tobytes() if ok else None
    except MediaError:
        return None
    return None
