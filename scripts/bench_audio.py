"""How well the product hears: its real ingest over scenes with exact ground truth.

Builds scenes from the real recordings of ``audio_corpus.py`` (``audio_scenes.py``), ingests each
with ``python -m orchestrator ingest`` (all against one Triton started here with ``serve-models``,
or the one at ``--triton-url``), reads the sound and speech events back with
``python -m orchestrator events``, and prints per sound class and split:

- recall: a truth sound is found when a sound event starts within ``--tol`` s of its onset and
  carries a name the product's vocabulary accepts for that class (``sound_vocabulary.accepted_names``);
- detection recall: any sound event starts within ``--tol`` s, whatever its name;
- onset error: median |event onset - truth onset| of the detections;
- precision: reported sound events that overlap a real sound (events over speech or background
  only, e.g. speech onsets, are false); named precision also needs an accepted name; duplicates: events for a
  real sound another event already reported (one sound, one event);

and for speech, WER (jiwer, case and punctuation removed) and the segment start/end error; and the
ingest's cost in wall seconds per hour of audio.

    python scripts/bench_audio.py --split heldout --limit 40
    python scripts/bench_audio.py --classes "telephone ringing,siren" --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from orchestrator.sound_vocabulary import BY_LABEL, accepted_names  # noqa: E402

# corpus class -> the vocabulary labels that name it (an empty tuple: the vocabulary has no label for it)
CLASS_LABELS: dict[str, tuple[str, ...]] = {
    "telephone ringing": ("telephone ringing", "ringing"),
    "alarm": ("alarm",),
    "beep": ("beeping", "alarm"),
    "siren": ("siren",),
    "bell": ("bell", "ringing"),  # "ringing" accepts "bell", and "bell" accepts "ringing"
    "dog bark": ("dog bark",),
    "gunshot": ("gunshot",),
    "explosion": ("explosion", "bang", "fireworks"),
    "music": ("music",),
    "vehicle engine": ("vehicle engine",),
    "car horn": ("car horn",),
    "applause": ("applause",),
    "footsteps": ("footsteps",),
}


def accepted_for(sound_class: str) -> set[str]:
    """Every event name that counts as naming ``sound_class`` (the class's own name included)."""
    names = {sound_class}
    for label in CLASS_LABELS.get(sound_class, ()):
        assert label in BY_LABEL, f"{label!r} is not in the sound vocabulary"
        names.update(accepted_names(label))
    return {n.lower() for n in names}


def normalise_text(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "").split())


def _orchestrator(args: list[str], env: dict, timeout: float = 900) -> str:
    done = subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"orchestrator {' '.join(args[:2])} failed: {(done.stderr or done.stdout).strip()[-800:]}")
    return done.stdout


class Triton:
    """``python -m orchestrator serve-models`` in the background, so every ingest reuses one server."""

    def __init__(self, env: dict):
        ports = []
        for _ in range(2):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                ports.append(str(sock.getsockname()[1]))
        cmd = [sys.executable, "-m", "orchestrator", "serve-models", "--http-port", ports[0], "--grpc-port", ports[1]]
        self.process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("export TRITON_URL="):
            self.stop()
            raise RuntimeError(f"serve-models did not start: {self.process.stderr.read()[-800:]}")
        self.url = line.strip().split("=", 1)[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _overlap(e: dict, t: dict) -> float:
    return min(e["t_end"], t["t_end"]) - max(e["t_start"], t["t_start"])


def _series(sounds: list[dict]) -> list[dict]:
    """Truth sounds with the parts of one sound joined (a dog's three barks, a knock's three hits: one sound each)."""
    out: list[dict] = []
    for t in sorted(sounds, key=lambda t: t["t_start"]):
        if out and out[-1]["class"] == t["class"] and t["t_start"] - out[-1]["t_end"] <= 1.5:
            out[-1]["t_end"] = max(out[-1]["t_end"], t["t_end"])
        else:
            out.append({"class": t["class"], "t_start": t["t_start"], "t_end": t["t_end"]})
    return out


def score_sounds(truth: dict, events: list[dict], tol: float) -> tuple[list[dict], list[dict]]:
    """Per truth sound: found/detected/onset error; per reported sound event: whether it overlaps a real sound."""
    sounds = [e for e in events if e["kind"] == "sound"]
    rows = []
    for t in truth["sounds"]:
        near = [e for e in sounds if abs(e["t_start"] - t["t_start"]) <= tol]
        named = [e for e in near if e["label"].lower() in accepted_for(t["class"])]
        best = min(near, key=lambda e: abs(e["t_start"] - t["t_start"]), default=None)
        rows.append(
            {
                "scene": truth["scene"],
                "split": truth["split"],
                "class": t["class"],
                "clip_id": t["clip_id"],
                "snr_db": t["snr_db"],
                "found": bool(named),
                "detected": bool(near),
                "onset_error_s": None if best is None else round(abs(best["t_start"] - t["t_start"]), 3),
                "labels": sorted({e["label"] for e in near}),
            }
        )
    reported = []
    claimed: set[int] = set()  # real sounds (a series of one class, parts 1.5 s apart or less, is one) already reported
    series = _series(truth["sounds"])
    for e in sorted(sounds, key=lambda e: e["t_start"]):
        hits = [t for t in truth["sounds"] if e["t_start"] < t["t_end"] + tol / 2 and e["t_end"] > t["t_start"] - tol / 2]
        own = max(range(len(series)), key=lambda i: _overlap(e, series[i]), default=None)
        duplicate = own is not None and _overlap(e, series[own]) > -tol / 2 and own in claimed
        if own is not None and _overlap(e, series[own]) > -tol / 2:
            claimed.add(own)
        reported.append(
            {
                "scene": truth["scene"],
                "split": truth["split"],
                "label": e["label"],
                "t_start": e["t_start"],
                "true": bool(hits),
                "named": any(e["label"].lower() in accepted_for(t["class"]) for t in hits),
                "over": hits[0]["class"] if hits else None,
                "duplicate": duplicate,  # a second event for a real sound already reported (one sound, one event)
            }
        )
    return rows, reported


def score_speech(truth: dict, events: list[dict]) -> dict | None:
    """WER over the scene's whole transcript, and each reference utterance's start/end error."""
    if not truth["speech"]:
        return None
    import jiwer  # noqa: PLC0415

    said = [e for e in events if e["kind"] == "speech"]
    ref = normalise_text(" ".join(s["text"] for s in truth["speech"]))
    hyp = normalise_text(" ".join(e["text"] or "" for e in said))
    out = jiwer.process_words(ref, hyp) if hyp else None
    starts, ends = [], []
    for s in truth["speech"]:  # the nearest start and end among the events overlapping the utterance (one may be split in several)
        over = [e for e in said if min(e["t_end"], s["t_end"]) > max(e["t_start"], s["t_start"])]
        if over:
            starts.append(min(abs(e["t_start"] - s["t_start"]) for e in over))
            ends.append(min(abs(e["t_end"] - s["t_end"]) for e in over))
    return {
        "scene": truth["scene"],
        "split": truth["split"],
        "ref_words": len(ref.split()),
        "wer": round(out.wer, 3) if out else 1.0,
        "errors": (out.substitutions + out.deletions + out.insertions) if out else len(ref.split()),
        "segments": len(truth["speech"]),
        "matched": len(starts),
        "start_error_s": round(statistics.median(starts), 3) if starts else None,
        "end_error_s": round(statistics.median(ends), 3) if ends else None,
        "hypothesis": hyp,
    }


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _fmt(x, pct=True):
    if x is None:
        return "-"
    return f"{100 * x:.0f}%" if pct else f"{x:.2f}"


def summarise(rows: list[dict], reported: list[dict], speech: list[dict], costs: list[dict]) -> dict:
    splits = sorted({r["split"] for r in rows} | {r["split"] for r in reported} | {s["split"] for s in speech})
    out: dict = {"classes": [], "precision": [], "speech": [], "cost": {}}
    for sp in splits:
        for cls in sorted({r["class"] for r in rows if r["split"] == sp}):
            rs = [r for r in rows if r["split"] == sp and r["class"] == cls]
            out["classes"].append(
                {
                    "split": sp,
                    "class": cls,
                    "n": len(rs),
                    "in_vocabulary": bool(CLASS_LABELS.get(cls)),
                    "recall": sum(r["found"] for r in rs) / len(rs),
                    "detection_recall": sum(r["detected"] for r in rs) / len(rs),
                    "onset_error_s": _median([r["onset_error_s"] for r in rs]),
                    "labels": sorted({lab for r in rs for lab in r["labels"]}),
                }
            )
        ev = [e for e in reported if e["split"] == sp]
        by_label = {}
        for e in ev:
            by_label.setdefault(e["label"], []).append(e)
        out["precision"].append(
            {
                "split": sp,
                "events": len(ev),
                "precision": (sum(e["true"] for e in ev) / len(ev)) if ev else None,
                "named_precision": (sum(e["named"] for e in ev) / len(ev)) if ev else None,
                "duplicates": sum(e.get("duplicate", False) for e in ev),
                "by_label": {lab: {"events": len(es), "precision": sum(e["true"] for e in es) / len(es)} for lab, es in sorted(by_label.items())},
            }
        )
        for kind in ("clean", "mixed"):  # mixed scenes may bury speech under a louder sound: WER there is not ASR alone
            sps = [s for s in speech if s["split"] == sp and s["scene"].startswith("clean-") == (kind == "clean")]
            if not sps:
                continue
            words = sum(s["ref_words"] for s in sps)
            out["speech"].append(
                {
                    "split": sp,
                    "scenes": kind,
                    "n": len(sps),
                    "ref_words": words,
                    "wer": sum(s["errors"] for s in sps) / max(words, 1),
                    "start_error_s": _median([s["start_error_s"] for s in sps]),
                    "end_error_s": _median([s["end_error_s"] for s in sps]),
                    "segments": sum(s["segments"] for s in sps),
                    "matched": sum(s["matched"] for s in sps),
                }
            )
    audio_only = [c for c in costs if not c["video"]]
    for name, cs in (("all", costs), ("audio_only", audio_only)):
        dur = sum(c["duration_s"] for c in cs)
        if dur:
            out["cost"][name] = {
                "scenes": len(cs),
                "audio_s": round(dur, 1),
                "ingest_wall_s": round(sum(c["wall_s"] for c in cs), 1),
                "wall_s_per_audio_hour": round(3600 * sum(c["wall_s"] for c in cs) / dur, 1),
                "process_wall_s_per_audio_hour": round(3600 * sum(c["process_s"] for c in cs) / dur, 1),
            }
    return out


def print_report(summary: dict) -> None:
    print(f"\n{'split':8} {'class':18} {'n':>3} {'recall':>7} {'detect':>7} {'onset':>6}  labels reported near the onset")
    for c in summary["classes"]:
        cls = c["class"] + ("" if c["in_vocabulary"] else "*")
        print(
            f"{c['split']:8} {cls:18} {c['n']:3} {_fmt(c['recall']):>7} {_fmt(c['detection_recall']):>7} {_fmt(c['onset_error_s'], False):>6}  "
            f"{', '.join(c['labels'])}"
        )
    print("* no label in orchestrator/sound_vocabulary.py: only its own name counts")
    for p in summary["precision"]:
        labels = ", ".join(f"{lab} {_fmt(v['precision'])} of {v['events']}" for lab, v in p["by_label"].items())
        print(
            f"\n{p['split']}: {p['events']} sound events, precision {_fmt(p['precision'])}, named precision {_fmt(p['named_precision'])}, "
            f"{p['duplicates']} duplicates (a second event for one real sound)  (by label: {labels})"
        )
    for s in summary["speech"]:
        print(
            f"{s['split']}: speech WER {_fmt(s['wer'])} over {s['ref_words']} words in {s['n']} {s['scenes']} scenes; "
            f"{s['matched']}/{s['segments']} segments matched, start error {_fmt(s['start_error_s'], False)} s, end error {_fmt(s['end_error_s'], False)} s"
        )
    for name, c in summary["cost"].items():
        print(
            f"cost ({name}, {c['scenes']} scenes, {c['audio_s']} s of audio): {c['wall_s_per_audio_hour']} s of ingest wall time per audio hour "
            f"({c['process_wall_s_per_audio_hour']} s counting process start-up)"
        )


def select(truths: list[Path], split: str, classes: set[str] | None, limit: int | None) -> list[Path]:
    out = []
    for p in truths:
        t = json.loads(p.read_text())
        if split != "all" and t["split"] != split:
            continue
        if classes and not ({s["class"] for s in t["sounds"]} & classes or ("speech" in classes and t["speech"])):
            continue
        out.append(p)
    return out[:limit] if limit else out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="all")
    parser.add_argument("--classes", help="comma-separated corpus classes (e.g. 'siren,speech'); default all")
    parser.add_argument("--limit", type=int, help="at most this many scenes")
    parser.add_argument("--json", help="write per-scene results and the summary here")
    parser.add_argument("--scenes", help="scene folder (default: build into a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixed", type=int, default=6, help="mixed scenes per split when building (default 6)")
    parser.add_argument("--tol", type=float, default=1.0, help="onset tolerance in seconds (default 1)")
    parser.add_argument("--triton-url", default=os.environ.get("TRITON_URL"), help="use this Triton instead of starting one")
    parser.add_argument("--home", help="product home for the ingests (default: a temporary one)")
    args = parser.parse_args(argv)
    # stopped with SIGTERM (kill, a CI timeout): unwind, so the finally below stops the Triton it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    classes = {c.strip() for c in args.classes.split(",")} if args.classes else None

    from audio_corpus import load_manifest  # noqa: PLC0415
    from audio_scenes import build_scenes  # noqa: PLC0415

    records = load_manifest()
    if not records:
        print("error: the corpus is not fetched; run `python scripts/audio_corpus.py` first", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-audio-"))
    scene_dir = Path(args.scenes) if args.scenes else work / "scenes"
    truths = sorted(scene_dir.glob("*.json")) if scene_dir.exists() else []
    if not truths:
        print(f"building scenes in {scene_dir} ...", file=sys.stderr)
        truths = build_scenes(scene_dir, records, args.split, args.seed, args.mixed)
    truths = select(truths, args.split, classes, args.limit)
    if not truths:
        print("error: no scene matches", file=sys.stderr)
        return 1
    home = Path(args.home) if args.home else work / "home"
    env = dict(os.environ)
    triton = None
    if not args.triton_url:
        print("starting Triton (serve-models) ...", file=sys.stderr)
        triton = Triton(env)
        args.triton_url = triton.url
    env["TRITON_URL"] = args.triton_url
    rows, reported, speech, costs, failures = [], [], [], [], []
    try:
        for k, path in enumerate(truths, 1):
            truth = json.loads(path.read_text())
            media = scene_dir / truth["media"]
            t0 = time.monotonic()
            try:
                summary = json.loads(_orchestrator(["ingest", str(media), "--home", str(home), "--json", "--quiet"], env).strip().splitlines()[-1])
                process_s = time.monotonic() - t0
                events = json.loads(_orchestrator(["events", summary["video_id"], "--home", str(home), "--json"], env).strip().splitlines()[-1])
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as err:
                failures.append({"scene": truth["scene"], "error": str(err)[-400:]})
                print(f"[{k}/{len(truths)}] {truth['scene']}: FAILED {str(err)[-200:]}", file=sys.stderr)
                continue
            r, rep = score_sounds(truth, events, args.tol)
            r = [x for x in r if not classes or x["class"] in classes]
            rows += r
            reported += rep
            sp = score_speech(truth, events)
            if sp:
                speech.append(sp)
            costs.append(
                {
                    "scene": truth["scene"],
                    "video": media.suffix == ".mp4",
                    "duration_s": summary["duration_s"],
                    "wall_s": summary["wall_s"],
                    "process_s": process_s,
                }
            )
            print(
                f"[{k}/{len(truths)}] {truth['scene']}: {sum(x['found'] for x in r)}/{len(r)} named, {sum(x['detected'] for x in r)}/{len(r)} "
                f"detected, {len(rep)} sound events" + (f", WER {_fmt(sp['wer'])}" if sp else "") + f" ({summary['wall_s']:.1f} s)",
                file=sys.stderr,
            )
    finally:
        if triton:
            triton.stop()
    summary = summarise(rows, reported, speech, costs)
    print_report(summary)
    if failures:
        print(f"\n{len(failures)} scenes failed to ingest: {', '.join(f['scene'] for f in failures)}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"summary": summary, "sounds": rows, "events": reported, "speech": speech, "cost": costs, "failures": failures}, indent=1)
        )
    return 0 if rows or speech else 1


if __name__ == "__main__":
    sys.exit(main())
