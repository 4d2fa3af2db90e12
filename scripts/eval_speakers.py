"""Speaker attribution of speech events, measured on recordings with known speakers.

Ingests each file with the speech lane only (``python -m orchestrator ingest --lanes speech``) on a Triton serving
``asr`` and ``speaker_embedder`` (started here, or ``--triton-url``), reads the speech events back and scores their
``speaker`` labels against the truth:

- ``sample.wav`` (real: the pyannote two-speaker call, Diane and Sheila; truth ``sample.stm``);
- the generated held-out clips (``heldout/truth.json``: each utterance's espeak-ng voice is its speaker).

Each event's true speaker is the one whose turns overlap it most (events over no true speech are not scored). The
product's labels are matched one-to-one to the true speakers so that the most events agree (Hungarian assignment);
accuracy is the share of scored events (and of their seconds) whose label maps to their true speaker. The cost is
the speaker model's time (the same spans embedded again, timed here) per hour of audio.

    .venv/bin/python scripts/eval_speakers.py                    # sample.wav + the four short held-out clips
    .venv/bin/python scripts/eval_speakers.py --json out.json --files sample.wav,office_call.mp4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

DEFAULT_FILES = ("sample.wav", "office_call.mp4", "garage_bang.mp4", "street_siren.mp4", "station_sign.mp4")


def truth_turns(media: Path, name: str) -> list[tuple[float, float, str]]:
    """(start, end, speaker) per true turn of ``name``."""
    if name == "sample.wav":
        rows = [line.split(None, 5) for line in (media / "sample.stm").read_text().splitlines() if line.strip()]
        return [(float(r[3]), float(r[4]), r[2]) for r in rows]
    truth = json.loads((media / "heldout" / "truth.json").read_text())[name]
    return [(s["start"], s["end"], s["voice"]) for s in truth["speech"]]


def true_speaker(t0: float, t1: float, turns: list[tuple[float, float, str]]) -> str | None:
    overlap: Counter = Counter()
    for a, b, who in turns:
        overlap[who] += max(0.0, min(t1, b) - max(t0, a))
    who, seconds = overlap.most_common(1)[0] if overlap else (None, 0.0)
    return who if seconds > 0 else None


def score(events: list[dict], turns: list[tuple[float, float, str]]) -> dict:
    """Accuracy of the events' speaker labels after the best one-to-one mapping of labels onto true speakers."""
    scored = [(e, true_speaker(e["t_start"], e["t_end"], turns)) for e in events]
    scored = [(e, who) for e, who in scored if who is not None]
    labels = sorted({(e["attrs"] or {}).get("speaker") or "(none)" for e, _ in scored})
    truths = sorted({who for _, who in scored})
    counts = np.zeros((len(labels), len(truths)))
    seconds = np.zeros((len(labels), len(truths)))
    for e, who in scored:
        i, j = labels.index((e["attrs"] or {}).get("speaker") or "(none)"), truths.index(who)
        counts[i, j] += 1
        seconds[i, j] += e["t_end"] - e["t_start"]
    rows, cols = linear_sum_assignment(-counts) if len(scored) else ([], [])
    mapping = {labels[i]: truths[j] for i, j in zip(rows, cols) if labels[i] != "(none)"}
    right = sum(counts[i, j] for i, j in zip(rows, cols) if labels[i] != "(none)")
    right_s = sum(seconds[i, j] for i, j in zip(rows, cols) if labels[i] != "(none)")
    return {
        "events": len(events),
        "scored": len(scored),
        "correct": int(right),
        "accuracy": right / len(scored) if scored else None,
        "accuracy_by_time": right_s / seconds.sum() if scored else None,
        "speakers_true": len({who for _, _, who in turns}),
        "speakers_found": len({(e["attrs"] or {}).get("speaker") for e in events if (e["attrs"] or {}).get("speaker")}),
        "mapping": mapping,
        "per_event": [
            {"t": [round(e["t_start"], 2), round(e["t_end"], 2)], "label": (e["attrs"] or {}).get("speaker"), "true": who, "text": e.get("text", "")[:60]}
            for e, who in scored
        ],
    }


def _orchestrator(args: list[str], env: dict, timeout: float = 900) -> str:
    done = subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"orchestrator {' '.join(args[:2])} failed: {(done.stderr or done.stdout).strip()[-800:]}")
    return done.stdout


def embedding_cost_s(models, path: Path, events: list[dict]) -> float:
    """Seconds the speaker model takes for these events' spans, one request per event (the lane sends one per region)."""
    from orchestrator.audio import speaker_embeddings  # noqa: PLC0415
    from orchestrator.media import AUDIO_RATE, probe, read_audio  # noqa: PLC0415

    info = probe(path)
    pcm = read_audio(info, 0.0, info.duration_s)
    started = time.perf_counter()
    for e in events:
        a, b = int(e["t_start"] * AUDIO_RATE), int(e["t_end"] * AUDIO_RATE)
        speaker_embeddings(models, pcm[a:b], [(0.0, (b - a) / AUDIO_RATE)])
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", help=f"comma-separated names (default {','.join(DEFAULT_FILES)}; night_watch_long.mp4 also has truth)")
    parser.add_argument("--media", type=Path, default=Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media")))
    parser.add_argument("--triton-url", default=os.environ.get("TRITON_URL"), help="a Triton serving asr, embedder and speaker_embedder")
    parser.add_argument("--json", help="write the per-file results here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.files.split(",")] if args.files else list(DEFAULT_FILES)
    missing = [n for n in names if not ((args.media / n).is_file() or (args.media / "heldout" / n).is_file())]
    if missing:
        print(f"error: {', '.join(missing)} not in {args.media}; run `python -m orchestrator.weights test-media {args.media}` (and make test for heldout/)")
        return 1

    from orchestrator.model_clients import TritonModels  # noqa: PLC0415
    from orchestrator.triton_server import TritonServer  # noqa: PLC0415

    server = None
    if not args.triton_url:
        print("starting Triton (asr, embedder, speaker_embedder) ...", file=sys.stderr)
        server = TritonServer.start(models=("asr", "embedder", "speaker_embedder"))  # embedder: the events' text vectors
        args.triton_url = server.http_url
    env = {**os.environ, "TRITON_URL": args.triton_url}
    models = TritonModels(args.triton_url)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="eval-speakers-") as home:
            for name in names:
                path = args.media / name if (args.media / name).is_file() else args.media / "heldout" / name
                summary = json.loads(
                    _orchestrator(["ingest", str(path), "--home", home, "--lanes", "speech", "--json", "--quiet"], env).strip().splitlines()[-1]
                )
                events = json.loads(_orchestrator(["events", summary["video_id"], "--kind", "speech", "--home", home, "--json"], env).strip().splitlines()[-1])
                for e in events:
                    if isinstance(e.get("attrs"), str):
                        e["attrs"] = json.loads(e["attrs"])
                r = score(events, truth_turns(args.media, name))
                speech_s = sum(e["t_end"] - e["t_start"] for e in events)
                cost = embedding_cost_s(models, path, events)
                duration = summary.get("duration_s") or max((e["t_end"] for e in events), default=0.0)
                r.update(file=name, duration_s=duration, speech_s=round(speech_s, 1), embed_s=round(cost, 3))
                results.append(r)
                acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.0%} ({r['correct']}/{r['scored']}), by time {r['accuracy_by_time']:.0%}"
                print(
                    f"{name:18} speakers {r['speakers_found']} found / {r['speakers_true']} true; accuracy {acc}; "
                    f"speaker model {cost:.2f} s for {speech_s:.1f} s of speech"
                )
    finally:
        models.close()
        if server:
            server.stop()
    scored = sum(r["scored"] for r in results)
    correct = sum(r["correct"] for r in results)
    speech_h = sum(r["speech_s"] for r in results) / 3600
    audio_h = sum(r["duration_s"] for r in results) / 3600
    embed_s = sum(r["embed_s"] for r in results)
    print(f"all: accuracy {correct / max(scored, 1):.0%} ({correct}/{scored} speech events)")
    print(f"cost: {embed_s / max(audio_h, 1e-9):.0f} s per audio hour of these files, {embed_s / max(speech_h, 1e-9):.0f} s per hour of speech")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
