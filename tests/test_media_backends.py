"""Decoder choice: NVDEC through PyNvVideoCodec where a GPU is, decord / PyAV otherwise, same frames out.
On a machine without a GPU, asking for NVDEC must fall back to the CPU decoders cleanly."""

from __future__ import annotations

import logging

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
        assert readers[0].backend == "decord"
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(frames, cpu))
        why = [r.getMessage() for r in caplog.records if "NVDEC" in r.getMessage()]
        assert len(why) == 1 and "decoding on the CPU" in why[0] and "bikes.mp4 (" in why[0]


def test_pyav_choice_never_touches_the_other_decoders(media_dir, monkeypatch):
    monkeypatch.setenv("VDET_DECODER", "pyav")
    reader = FrameReader(probe(media_dir / "bikes.mp4"), max_side=320)
    frames = list(reader.read(1.0, 2.0, fps=2))
    assert reader.backend == "pyav" and len(frames) == 2 and frames[0][1].shape[2] == 3


def test_auto_uses_nvdec_only_with_a_gpu(media_dir, monkeypatch):
    monkeypatch.delenv("VDET_DECODER", raising=False)
    reader = FrameReader(probe(media_dir / "bikes.mp4"), max_side=320)
    assert reader.backend in ({"nvdec", "decord"} if media.cuda_device_present() else {"decord"})
