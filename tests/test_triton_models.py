"""The real Triton server on the repository's models: each model answers correctly, over the
Python client and over raw HTTP/JSON (the form the README documents for scripts)."""

from __future__ import annotations

import json
import time
import urllib.request
import wave

import cv2
import numpy as np


def _rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _wav(path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768


def test_all_models_ready(models):
    assert models.ready() == {"detector": True, "asr": True, "sound_tagger": True, "audio_tagger": True, "embedder": True}


def test_detector_finds_people_and_the_bus(models, media_dir):
    dets = models.detect([_rgb(media_dir / "bus.jpg")])[0]
    labels = list(dets.labels)
    assert labels.count("person") >= 3 and "bus" in labels
    # boxes are normalised to the original 810x1080 photo; the bus spans most of the width
    bus = dets.boxes[labels.index("bus")]
    assert bus[2] - bus[0] > 0.8 and 0 <= bus.min() and bus.max() <= 1
    assert np.all(np.diff(dets.scores) <= 1e-6)  # sorted by score
    # NMS: no two boxes of the same class overlap heavily
    for i in range(len(dets)):
        for j in range(i + 1, len(dets)):
            if dets.class_ids[i] == dets.class_ids[j]:
                a, b = dets.boxes[i], dets.boxes[j]
                inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
                union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
                assert inter / union < 0.6


def test_detector_batch_gives_same_answers_as_single_frames(models, media_dir):
    frames = [_rgb(media_dir / "bus.jpg")] * 3
    batched = models.detect(frames, batch=3)
    single = models.detect(frames[:1], batch=1)[0]
    for d in batched:
        assert d.labels == single.labels
        np.testing.assert_allclose(d.scores, single.scores, atol=1e-4)


def test_asr_transcribes_a_real_call_with_word_times(models, media_dir):
    pcm = _wav(media_dir / "sample.wav")[: 16000 * 12]
    segments = models.transcribe(pcm)
    text = " ".join(s.text for s in segments).lower()
    assert "hello" in text and "know you were there" in text
    first = segments[0]
    # the transcript says the first "Hello?" is spoken at 6.68-7.16 s
    assert abs(first.start - 6.68) < 0.6 and first.words and first.words[0].start >= first.start - 1e-6


def test_asr_returns_nothing_for_silence(models):
    assert models.transcribe(np.zeros(16000 * 5, np.float32)) == []


def test_sound_tagger_skips_silence_and_returns_well_formed_tags(models):
    assert models.tag_sounds(np.zeros(16000 * 6, np.float32)) == []
    rng = np.random.default_rng(0)
    tags = models.tag_sounds((rng.standard_normal(16000 * 6) * 0.2).astype(np.float32))
    for tag in tags:
        assert 0 <= tag.t_start < tag.t_end <= 6.0 and 0.5 <= tag.confidence <= 1.0 and tag.label


def test_audio_tagger_hears_speech_and_beeps_and_nothing_in_silence(models, media_dir):
    assert models.tag_audioset(np.zeros(16000 * 3, np.float32)) == []
    speech = _wav(media_dir / "sample.wav")[: 16000 * 12]
    tags = models.tag_audioset(speech)
    patches = {t.t_start for t in tags}
    spoken = {t.t_start for t in tags if t.label == "Speech" and t.confidence >= 0.5}
    assert len(spoken) >= 0.6 * len(patches), sorted({t.label for t in tags})  # a conversation is speech, patch after patch
    assert all(0 <= t.t_start < t.t_end <= 12.0 + 1e-6 and t.t_end - t.t_start <= 0.98 for t in tags)
    t = np.arange(16000 * 4) / 16000
    beeps = (0.3 * np.sin(2 * np.pi * 2000 * t) * ((t % 1.0) < 0.3)).astype(np.float32)
    best = max(models.tag_audioset(beeps), key=lambda tag: tag.confidence)
    assert best.label in ("Beep, bleep", "Sine wave", "Buzzer", "Alarm"), best


def test_embedder_ranks_related_text_higher(models):
    v = models.embed(["a man is walking down the street", "a person walks on the road", "the stock market fell sharply"])
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_raw_http_json_request(triton):
    """What a script without our client does: POST JSON to /v2/models/<name>/infer."""
    body = {
        "inputs": [{"name": "TEXT", "shape": [1, 1], "datatype": "BYTES", "data": ["a red car"]}],
        "outputs": [{"name": "EMBEDDING", "parameters": {"binary_data": False}}],
    }
    req = urllib.request.Request(
        f"http://{triton.http_url}/v2/models/embedder/infer", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        out = json.loads(resp.read())
    assert out["outputs"][0]["shape"] == [1, 384] and len(out["outputs"][0]["data"]) == 384


def test_dynamic_batching_groups_concurrent_requests(models, media_dir):
    frame = cv2.resize(_rgb(media_dir / "bus.jpg"), (320, 240))
    before = models.batch_stats("detector")
    models.detect([frame] * 16, batch=1, in_flight=16)
    deadline = time.monotonic() + 30  # Triton updates its statistics just after it answers: wait until all 16 are counted
    while True:
        after = models.batch_stats("detector")
        grown = {b: after.get(b, 0) - before.get(b, 0) for b in after if after.get(b, 0) > before.get(b, 0)}
        if sum(b * n for b, n in grown.items()) >= 16 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sum(b * n for b, n in grown.items()) == 16
    assert max(grown) > 1  # at least one execution served several requests at once


def test_readme_http_examples_script(triton, media_dir):
    import subprocess
    import sys

    from conftest import REPO

    out = subprocess.run(
        [
            sys.executable,
            "scripts/triton_http_examples.py",
            "--url",
            triton.http_url,
            "--image",
            str(media_dir / "bus.jpg"),
            "--wav",
            str(media_dir / "sample.wav"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sum("'bus'" in line and "'person'" in line for line in lines) == 2  # both detector forms
    assert sum("asr (" in line and "Hello" in line for line in lines) == 2  # both ASR forms
