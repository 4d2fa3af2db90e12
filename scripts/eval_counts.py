"""Distinct-object counts on real footage with a known count, through the product's own CLI.

Ingests a video with ``python -m orchestrator ingest`` into a fresh home, then counts the distinct
objects per class the graph reports: object tracks, joined where re-identification linked them
(``same_entity``). Compares with the truth in ``tests/data/counts/<video>.json`` (counted by a person
looking at the frames) and, with ``--crops DIR``, writes each reported track's best crop (with context)
so a person can judge track precision: is each reported track a real object of the reported class?

    .venv/bin/python scripts/eval_counts.py ~/.cache/video-detective/test-media/bikes.mp4 --crops bikes-crops
    # the campus clip (Debian opencv-doc; scripts/eval_objects.py --fetch unpacks it into the eval cache):
    .venv/bin/python scripts/eval_counts.py ~/.cache/video-detective/eval-media/opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi

Measured (bikes: held out; vtest: the scene the thresholds were calibrated on) are in the commit that added
this script; track precision was judged from the crops.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TRUTH = ROOT / "tests" / "data" / "counts"


def ingest(video: Path, home: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator", "ingest", str(video), "--home", str(home), "--quiet", "--json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["video_id"]


def distinct(home: Path, video_id: str) -> tuple[dict[str, int], list[dict]]:
    """Distinct objects per label (tracks joined by same_entity) and one row per reported track."""
    from orchestrator.graph import EventGraph  # noqa: PLC0415
    from orchestrator.pipeline import database_path  # noqa: PLC0415

    with EventGraph(database_path(home), read_only=True) as graph:
        events = graph.read_events(video_id, "object")
        rels = [(r.src, r.dst) for r in graph.relations(video_id, "same_entity")]
    by_event = {e.id: e.track_id for e in events}
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for src, dst in rels:
        if src in by_event and dst in by_event:
            parent[find(by_event[dst])] = find(by_event[src])
    tracks: dict[int, dict] = {}
    for e in events:
        t = tracks.setdefault(
            e.track_id,
            {
                "track_id": e.track_id,
                "label": e.label,
                "first_t": e.t_start,
                "last_t": e.t_end,
                "best": (e.confidence, e.attrs.get("best_t"), e.attrs.get("best_box")),
            },
        )
        t["last_t"] = max(t["last_t"], e.t_end)
        if e.confidence > t["best"][0]:
            t["best"] = (e.confidence, e.attrs.get("best_t"), e.attrs.get("best_box"))
    entities = {(t["label"], find(tid)) for tid, t in tracks.items()}
    return dict(Counter(label for label, _ in entities)), sorted(tracks.values(), key=lambda t: (t["label"], t["first_t"]))


def save_crops(video: Path, tracks: list[dict], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(video))
    for t in tracks:
        conf, best_t, box = t["best"]
        if best_t is None or not box:
            continue
        cap.set(cv2.CAP_PROP_POS_MSEC, best_t * 1000.0)
        ok, frame = cap.read()
        if not ok:
            continue
        h, w = frame.shape[:2]
        x1, y1, x2, y2 = box
        cv2.rectangle(frame, (int(x1 * w), int(y1 * h)), (int(x2 * w), int(y2 * h)), (255, 0, 255), 2)
        pad_x, pad_y = (x2 - x1) * 0.5, (y2 - y1) * 0.5
        c = frame[max(0, int((y1 - pad_y) * h)) : int(min(1, y2 + pad_y) * h) + 1, max(0, int((x1 - pad_x) * w)) : int(min(1, x2 + pad_x) * w) + 1]
        name = f"{t['label'].replace(' ', '_')}-track{t['track_id']}-{best_t:.1f}s-{conf:.2f}.png"
        cv2.imwrite(str(dest / name), c if c.size else frame)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video")
    ap.add_argument("--home", help="ingest into this home (default: a fresh temporary one)")
    ap.add_argument("--crops", help="write each reported track's best crop here, for judging track precision")
    args = ap.parse_args(argv)
    video = Path(args.video).expanduser()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="vdet-counts-"))
    video_id = ingest(video, home)
    counts, tracks = distinct(home, video_id)
    truth_file = TRUTH / f"{video.stem}.json"
    truth = json.loads(truth_file.read_text())["distinct"] if truth_file.is_file() else {}
    print(f"{video.name}: {len(tracks)} object tracks reported")
    for t in tracks:
        print(f"  track {t['track_id']:4d} {t['label']:14s} {t['first_t']:6.1f}-{t['last_t']:6.1f} s  best {t['best'][0]:.2f} at {t['best'][1]}")
    print(f"\n{'class':14s} {'counted':>7s} {'truth':>9s} {'error':>6s}")
    for label in sorted(set(counts) | set(truth)):
        want = truth.get(label)
        lo, hi = (want if isinstance(want, list) else [want, want]) if want is not None else (None, None)
        got = counts.get(label, 0)
        err = "" if lo is None else str(0 if lo <= got <= hi else (got - hi if got > hi else got - lo))
        shown = "-" if lo is None else (f"{lo}" if lo == hi else f"{lo}-{hi}")
        print(f"{label:14s} {got:7d} {shown:>9s} {err:>6s}")
    if args.crops:
        save_crops(video, tracks, Path(args.crops))
        print(f"\nbest crops of the reported tracks in {args.crops}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
