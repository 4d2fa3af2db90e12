"""Decoding memory: a frame the motion gate keeps owns its pixels; it does not hold the decoder's batch of frames."""

from __future__ import annotations

from orchestrator.media import FrameReader, probe


def test_decord_frames_do_not_hold_their_batch(media_dir):
    frames = list(FrameReader(probe(media_dir / "bikes.mp4"), max_side=320, backend="decord").read(0.0, 5.0, fps=4))
    assert len(frames) == 20
    for _, rgb in frames:
        owner = rgb if rgb.base is None else rgb.base
        assert owner.nbytes == rgb.nbytes, f"a {rgb.nbytes}-byte frame keeps {owner.nbytes} bytes alive"
