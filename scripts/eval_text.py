"""Text lane: character accuracy on real photos of text, and the lane's cost per video hour.

Images (from a package registry, nothing from a hub): Debian ``opencv-doc`` (OpenCV's samples,
``examples/text/scenetext01..06.jpg``: street signs, a shop sign, a generator's plate; fetched with ``apt-get
download`` into the eval cache, as ``scripts/eval_objects.py`` does). Ground truth was read off the photos by hand:
the legible words of each photo's signs (text too small to read at 640 pixels is left out); a text that appears
twice in a photo is counted once, as the lane reports it once.

Accuracy is 1 - CER (jiwer) of what the lane reads in the photo (``read_frame`` on the photo scaled to the product's
decode size, longer side 640: its texts joined in reading order) against the truth, both lower-cased with
punctuation and spacing normalised; a photo read as nothing scores 0.

Cost: the lane's worker side (``read_frames``: the change check, the text-like check, Tesseract) over the frames the
real motion gate keeps, in CPU seconds per hour of video, on a clip without text (the ground-truth clip of the tests,
and the real street video bikes.mp4) and on a clip with signs (the test's sign clip: two signs on bus.jpg).

    .venv/bin/python scripts/eval_text.py                      # accuracy and cost, tesserocr (the lane's engine)
    .venv/bin/python scripts/eval_text.py --engine pytesseract # the same with pytesseract (one tesseract process per line;
                                                               # not a product dependency: pip install pytesseract==0.3.13)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import jiwer
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from orchestrator.config import SamplingConfig  # noqa: E402
from orchestrator.lanes import text as lane  # noqa: E402
from orchestrator.media import FrameReader, probe  # noqa: E402
from orchestrator.sampling import MotionGate  # noqa: E402

CACHE = Path(os.environ.get("VDET_EVAL_MEDIA", Path.home() / ".cache" / "video-detective" / "eval-media")).expanduser()
TEST_MEDIA = Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache" / "video-detective" / "test-media")).expanduser()
OPENCV_TEXT = "usr/share/doc/opencv-doc/examples/text"
TRUTH = {  # read off the photos by hand
    "scenetext01.jpg": "NOTICE DOUBLE PARKING PROHIBITED AT ALL TIMES",
    "scenetext02.jpg": "Sports Centre Wivenhoe Park Conference Centre Car Parks",
    "scenetext03.jpg": "the copy centre",
    "scenetext04.jpg": "GM 125",
    "scenetext05.jpg": "NO PARKING",
    "scenetext06.jpg": "priory galleries at the ship",
}


def fetch_opencv_text() -> Path:
    dest = CACHE / "opencv-doc"
    if not (dest / OPENCV_TEXT / "scenetext01.jpg").is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, check=True)
            deb = next(Path(tmp).glob("opencv-doc_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return dest / OPENCV_TEXT


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def cpu_s() -> float:
    """CPU seconds of this process and its children (pytesseract runs tesseract as a child per call)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def use_pytesseract() -> None:
    """Swap the lane's line reader for pytesseract (the tesseract binary, once per line) to compare the bindings."""
    import pytesseract

    def read_line(gray: np.ndarray, block: bool = False) -> list[tuple[str, float]]:
        d = pytesseract.image_to_data(gray, config=f"--psm {6 if block else 7}", output_type=pytesseract.Output.DICT)
        return [(w.strip(), float(c)) for w, c in zip(d["text"], d["conf"]) if w.strip()]

    lane.read_line = read_line


def accuracy(folder: Path) -> float:
    scores = []
    for name, truth in TRUTH.items():
        rgb = cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB)
        s = 640 / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        t0 = cpu_s()
        readings = lane.read_frame(rgb)
        cpu = cpu_s() - t0
        hyp = norm(" ".join(r.text for r in readings))
        score = 1.0 - min(1.0, jiwer.cer(norm(truth), hyp)) if hyp else 0.0
        scores.append(score)
        print(f"  {name:16s} {score:5.2f}  {cpu:5.2f} s  read {[r.text for r in readings]}  truth {truth!r}")
    mean = float(np.mean(scores))
    print(f"character accuracy (1 - CER): {mean:.3f} over {len(scores)} photos")
    return mean


def cost(path: Path) -> float:
    """The lane's CPU seconds per hour of video, over the frames the motion gate keeps."""
    cfg = SamplingConfig()
    info = probe(str(path))
    gate, times, kept = MotionGate(cfg), [], []
    for t, rgb in FrameReader(info, cfg.max_side).read(0.0, info.duration_s, cfg.scan_fps):
        if gate.score(t, rgb).keep:
            times.append(t)
            kept.append(rgb)
    t0 = cpu_s()
    result = lane.read_frames(times, kept)
    cpu = cpu_s() - t0
    per_hour = cpu / info.duration_s * 3600
    found = sorted({r.text for rs in result.readings for r in rs})
    print(
        f"  {path.name:20s} {info.duration_s:6.1f} s video, {len(kept)} kept frames, {len(result.times)} looked at, "
        f"{result.ocr_frames} changed (checked/read): {cpu:.2f} CPU s = {per_hour:.0f} CPU s per video hour; read {found}"
    )
    return per_hour


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", choices=["tesserocr", "pytesseract"], default="tesserocr")
    args = ap.parse_args()
    if not lane.tessdata():
        print("tesseract is missing: apt-get install tesseract-ocr tesseract-ocr-eng", file=sys.stderr)
        return 1
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    if args.engine == "pytesseract":
        use_pytesseract()
    print(f"engine: {args.engine}")
    accuracy(fetch_opencv_text())

    from conftest import ZIDANE_PERSON_BOX
    from media_factory import make_ground_truth_clip
    from test_text_lane import _sign_clip

    from orchestrator import weights

    media = weights.fetch_test_media(TEST_MEDIA, log=lambda *_: None)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plain, signs = work / "no_text.mp4", work / "signs.mp4"
        make_ground_truth_clip(plain, media / "zidane.jpg", ZIDANE_PERSON_BOX, work)
        _sign_clip(signs, media / "bus.jpg")
        print("cost (one core):")
        cost(plain)
        cost(media / "bikes.mp4")
        cost(signs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
