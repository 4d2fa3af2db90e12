"""Text lane cost: where Tesseract is spent. A text of several lines is read as a block only when one of its lines
read as confident text (texture found text-like by the cheap check, then read as a block, was most of the lane's
time on animated footage and found only noise); a real sign of two lines is still read, as a block where that reads
more."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from orchestrator.lanes import text as lane

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed (scripts/setup.sh installs it)")


def _two_line_sign() -> np.ndarray:
    rgb = np.full((360, 640, 3), 235, np.uint8)
    for y, words in ((150, "NO PARKING"), (210, "AT ANY TIME")):
        cv2.putText(rgb, words, (150, y), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (20, 20, 20), 3, cv2.LINE_AA)
    return rgb


def _counting(monkeypatch, lines_read: bool) -> dict[str, int]:
    calls = {"line": 0, "block": 0}
    real = lane.read_line

    def read_line(gray, block=False):
        calls["block" if block else "line"] += 1
        return real(gray, block) if lines_read or block else [("x", 10.0)]  # lines_read=False: every line reads as noise

    monkeypatch.setattr(lane, "read_line", read_line)
    return calls


def test_a_block_whose_lines_read_nothing_is_not_read_as_a_block(monkeypatch):
    calls = _counting(monkeypatch, lines_read=False)
    assert lane.read_frame(_two_line_sign()) == []
    assert calls["line"] >= 2, "the cheap check should find the sign's two lines"
    assert calls["block"] == 0


def test_a_two_line_sign_is_read_and_tried_as_a_block(monkeypatch):
    calls = _counting(monkeypatch, lines_read=True)
    readings = lane.read_frame(_two_line_sign())
    assert calls["block"] == 1
    assert [r.text for r in readings] == ["NO PARKING AT ANY TIME"]
