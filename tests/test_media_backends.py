"""Decoder choice: NVDEC through PyNvVideoCodec where a GPU is, PyAV's selective reader (or decord, when asked for)
otherwise, same frames out. On a machine without a GPU, asking for NVDEC must fall back to the CPU decoders cleanly."""

from __future__ import annotations

import logging
import subprocess

import numpy as np
import pytest

from orchestrator import media
from orchestrator.media import FrameReader, decoder_choice, nv12_to_rgb, probe


def nv12(width: int, height: int, y: int, u: int, v: int) -> np.ndarray:
    frame = np.empty((height * 3 // 2, width), np.uint8)
    frame[:height] = y
    chroma = frame[height:].reshape(height // 2, width // 2, 2)
    chroma[..., 0], chroma[..., 1] = u, v
    return frame


@pytest.mark.parametrize(
    ("yuv", "rgb"),
    [
        ((235, 128, 128), (255, 255, 255)),
        ((16, 128, 128), (0, 0, 0)),
        ((126, 128, 128), (128, 128, 128)),
        ((81, 90, 240), (255, 0, 0)),  # BT.601 limited-range red
        ((145, 54, 34), (0, 255, 0)),  # green
        ((41, 240, 110), (0, 0, 255)),  # blue
    ],
)
def test_nv12_to_rgb_gives_the_bt601_colours(yuv, rgb):
    out = nv12_to_rgb(nv12(8, 6, *yuv), 8, 6)
    assert out.shape == (6, 8, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - np.array(rgb)).max() <= 2, out[0, 0]


def test_nv12_layout_planes_and_resize():
    width, height = 64, 32
    frame = nv12(width, height, 81, 90, 240)  # red everywhere ...
    frame[:, width // 2 :][:height] = 41  # ... except the right half, blue
    chroma = frame[height:].reshape(height // 2, width // 2, 2)
    chroma[:, width // 4 :, 0], chroma[:, width // 4 :, 1] = 240, 110
    out = nv12_to_rgb(frame.reshape(-1), width, height, out_size=(32, 16))  # a flat buffer, as NVDEC hands it over
    assert out.shape == (16, 32, 3)
    assert tuple(out[8, 2]) == pytest.approx((255, 0, 0), abs=2)
    assert tuple(out[8, 29]) == pytest.approx((0, 0, 255), abs=2)


def test_nv12_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="holds 72 bytes, got 10"):
        nv12_to_rgb(np.zeros(10, np.uint8), 8, 6)
    with pytest.raises(ValueError, match="even width and height"):
        nv12_to_rgb(np.zeros(10, np.uint8), 7, 6)


def test_decoder_choice_reads_the_environment(monkeypatch):
    monkeypatch.delenv("VDET_DECODER", raising=False)
    assert decoder_choice() == "auto"
    monkeypatch.setenv("VDET_DECODER", "NVDEC")
    assert decoder_choice() == "nvdec"
    assert decoder_choice("pyav") == "pyav"  # an explicit choice wins
    monkeypatch.setenv("VDET_DECODER", "cuda")
    with pytest.raises(ValueError, match="auto, nvdec, decord, pyav"):
        decoder_choice()


def test_nvdec_request_falls_back_to_the_cpu_with_the_same_frames(media_dir, monkeypatch, caplog):
    info = probe(media_dir / "bikes.mp4")
    cpu = list(FrameReader(info, max_side=320, backend="decord").read(1.0, 3.0, fps=2))
    monkeypatch.setattr(media, "_logged_once", set())
    monkeypatch.setenv("VDET_DECODER", "nvdec")
    with caplog.at_level(logging.WARNING, logger="orchestrator.media"):
        readers = [FrameReader(info, max_side=320), FrameReader(info, max_side=320)]
        frames = list(readers[0].read(1.0, 3.0, fps=2))
    assert readers[0].requested == "nvdec"
    assert [t for t, _ in frames] == [t for t, _ in cpu] and len(frames) == 4
    assert all(rgb.shape == (cpu[0][1].shape) and rgb.dtype == np.uint8 for _, rgb in frames)
    if readers[0].backend == "nvdec":  # a GPU machine: hardware decoding, colours within rounding of the CPU's
        assert all(np.abs(a.astype(int) - b.astype(int)).mean() < 4 for (_, a), (_, b) in zip(frames, cpu))
    else:
        assert readers[0].backend == media.CPU_DEFAULT == "pyav"
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(frames, cpu))  # PyAV scales as decord does
        why = [r.getMessage() for r in caplog.records if "NVDEC" in r.getMessage()]
        assert len(why) == 1 and "decoding on the CPU" in why[0] and "bikes.mp4 (" in why[0]


def test_pyav_choice_never_touches_the_other_decoders(media_dir, monkeypatch):
    monkeypatch.setenv("VDET_DECODER", "pyav")
    reader = FrameReader(probe(media_dir / "bikes.mp4"), max_side=320)
    frames = list(reader.read(1.0, 2.0, fps=2))
    assert reader.backend == "pyav" and len(frames) == 2 and frames[0][1].shape[2] == 3


def test_auto_uses_nvdec_only_with_a_gpu_and_pyav_on_the_cpu(media_dir, monkeypatch):
    monkeypatch.delenv("VDET_DECODER", raising=False)
    reader = FrameReader(probe(media_dir / "bikes.mp4"), max_side=320)
    assert reader.backend in ({"nvdec", "pyav"} if media.cuda_device_present() else {"pyav"})
    assert reader._vr is None  # decord did not index the file
    assert FrameReader(probe(media_dir / "bikes.mp4"), max_side=320, backend="decord").backend == "decord"  # still there when asked for


def _max_difference(a: list, b: list) -> int:
    return max(int(np.abs(x.astype(int) - y.astype(int)).max()) for (_, x), (_, y) in zip(a, b))


@pytest.mark.parametrize(
    ("name", "max_side", "windows"),
    [
        # bikes.mp4: 640x272 at 25 fps, no scaling; windows out of order and across the end, on one reader
        ("bikes.mp4", 640, [(5.0, 10.0, 4.0), (0.0, 5.0, 4.0), (2.5, 7.5, 4.0), (3.3, 7.1, 7.0), (9.9, 12.0, 4.0), (0.0, 10.0, 100.0)]),
        # Big Buck Bunny: 1280x720 with B-frames, scaled to 640x360
        ("bigbuckbunny.mp4", 640, [(1.0, 3.0, 4.0), (0.0, 5.4, 4.0), (0.0, 5.4, 100.0)]),
    ],
)
def test_selective_pyav_gives_decords_frames(media_dir, monkeypatch, name, max_side, windows):
    """The same frames as decord (the real frame nearest each target time, with its time; at half-frame ties the same
    pick), the same pixels, and only the frames given are converted to RGB."""
    info = probe(media_dir / name)
    decord_reader = FrameReader(info, max_side=max_side, backend="decord")
    reader = FrameReader(info, max_side=max_side, backend="pyav")
    converted = []
    to_rgb = reader._rgb
    monkeypatch.setattr(reader, "_rgb", lambda frame: converted.append(frame.pts) or to_rgb(frame))
    for t0, t1, fps in windows:
        want = list(decord_reader.read(t0, t1, fps))
        converted.clear()
        got = list(reader.read(t0, t1, fps))
        assert [t for t, _ in got] == [t for t, _ in want] and len(got) > 0, (t0, t1, fps)
        assert _max_difference(got, want) == 0, (t0, t1, fps)
        assert len(converted) == len(got)
    assert reader._selective  # never fell back to reading frame by frame


def test_selective_pyav_reader_survives_an_abandoned_read(media_dir):
    """A read left part-way (one frame taken, then dropped) leaves the open decoder usable for the next window."""
    info = probe(media_dir / "bigbuckbunny.mp4")
    reader = FrameReader(info, max_side=320, backend="pyav")
    partial = reader.read(0.0, 5.0, fps=25)
    first = next(partial)
    del partial
    again = list(reader.read(0.0, 2.0, fps=4))
    want = list(FrameReader(info, max_side=320, backend="decord").read(0.0, 2.0, fps=4))
    assert first[0] == want[0][0] and np.array_equal(first[1], want[0][1])
    assert [t for t, _ in again] == [t for t, _ in want] and _max_difference(again, want) == 0


def test_selective_pyav_reads_a_window_twice_when_its_packets_are_too_big_to_hold(media_dir, monkeypatch):
    info = probe(media_dir / "bigbuckbunny.mp4")
    want = list(FrameReader(info, max_side=640, backend="decord").read(0.5, 4.5, fps=4))
    monkeypatch.setattr(media, "_PACKET_BUFFER_BYTES", 20_000)  # a few packets of this clip
    reader = FrameReader(info, max_side=640, backend="pyav")
    assert reader._window_packets(0.5, 4.5)[1] is None  # the packets were not held ...
    got = list(reader.read(0.5, 4.5, fps=4))  # ... but read again
    assert [t for t, _ in got] == [t for t, _ in want] and _max_difference(got, want) == 0 and reader._selective


@pytest.fixture(scope="module")
def odd_clips(media_dir, tmp_path_factory) -> dict:
    """Short clips of the containers and codecs people upload, cut from the test media (real pixels)."""
    d = tmp_path_factory.mktemp("odd-decode")
    bunny, bikes = str(media_dir / "bigbuckbunny.mp4"), str(media_dir / "bikes.mp4")
    recipes = {
        "mpeg4.avi": ["-i", bunny, "-t", "3", "-c:v", "mpeg4", "-q:v", "5", "-an"],
        "mjpeg.mkv": ["-i", bunny, "-t", "3", "-c:v", "mjpeg", "-q:v", "5", "-an"],
        "theora.ogv": ["-i", bunny, "-t", "3", "-c:v", "libtheora", "-q:v", "5", "-an"],
        "vfr.mkv": ["-i", bunny, "-t", "3", "-vf", "setpts='if(lt(N,30),PTS,PTS+0.5*(N-30)/TB/10)'", "-fps_mode", "vfr", "-c:v", "libx264", "-an"],
        "offset_bframes.mp4": ["-i", bikes, "-t", "3", "-c:v", "libx264", "-bf", "3", "-output_ts_offset", "1.5", "-an"],
        "open_gop.mkv": ["-i", bikes, "-t", "4", "-c:v", "libx264", "-bf", "3", "-x264-params", "open_gop=1:keyint=30", "-an"],
        "rotated.mp4": ["-i", bikes, "-t", "3", "-c", "copy", "-metadata:s:v:0", "rotate=90"],
    }
    for name, args in recipes.items():
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(d / name)], check=True, capture_output=True, timeout=120)
    return {name: d / name for name in recipes}


@pytest.mark.parametrize("name", ["mpeg4.avi", "mjpeg.mkv", "theora.ogv", "vfr.mkv", "offset_bframes.mp4", "open_gop.mkv", "rotated.mp4"])
def test_selective_pyav_gives_the_frames_of_a_full_decode(odd_clips, name):
    """On every container and codec: the times decord reports (where it reads the file) and the pixels of decoding the
    file from its first frame: seeking to the window's keyframe and skipping frames nothing refers to changes neither.
    (decord itself gives other pixels on the open-GOP and the rotated clip.)"""
    import av

    path = odd_clips[name]
    info = probe(path)
    reader = FrameReader(info, max_side=640, backend="pyav")
    decord_reader = FrameReader(info, max_side=640, backend="decord")
    full: dict[int, np.ndarray] = {}  # by presentation time stamp
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            full[frame.pts] = media._rotate(reader._rgb(frame), info.rotation)
        stream_times = dict(zip(media._frame_clock(sorted(full), container.streams.video[0]).tolist(), sorted(full)))
    for t0, t1, fps in [(1.1, 2.9, 4.0), (0.0, 3.0, 50.0)]:
        got = list(reader.read(t0, t1, fps))
        assert got and all(t0 <= t < t1 for t, _ in got)
        if decord_reader.backend == "decord":
            assert [t for t, _ in got] == [t for t, _ in decord_reader.read(t0, t1, fps)]
        for t, rgb in got:
            assert np.array_equal(rgb, full[stream_times[t]]), (name, t)
    assert reader._selective
