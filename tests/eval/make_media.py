#!/usr/bin/env python3
"""Writes the generated clip the suites in this folder ask about (``ground_truth.mp4``, exact truth in
tests/media_factory.py) into $VDET_TEST_MEDIA (default ~/.cache/video-detective/test-media), where the
registry media (bikes.mp4, zidane.jpg) already are.

    python tests/eval/make_media.py && python -m orchestrator eval tests/eval/*.yaml
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE.parent))

from media_factory import make_ground_truth_clip  # noqa: E402

from orchestrator import weights  # noqa: E402

ZIDANE_PERSON_BOX = (700, 40, 1150, 720)  # as in tests/conftest.py


def main() -> int:
    media = weights.fetch_test_media(Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media")), log=lambda *_: None)
    out = media / "ground_truth.mp4"
    if not out.exists():
        with tempfile.TemporaryDirectory() as tmp:
            make_ground_truth_clip(out, media / "zidane.jpg", ZIDANE_PERSON_BOX, Path(tmp))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
