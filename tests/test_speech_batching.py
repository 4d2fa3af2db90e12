"""Whisper on Triton as the speech lane calls it: a window's speech regions in one request, decoded as one batch; and
unsegmented audio that opens with silence still transcribed in sentences (case and punctuation) with beam search."""

from __future__ import annotations

import re
import wave

import numpy as np

from orchestrator.audio import VoiceActivity, transcribe_regions
from orchestrator.config import AudioConfig


def _wav(path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768


def _stm(path) -> list[tuple[float, float, str]]:
    rows = [line.split(None, 5) for line in path.read_text().splitlines() if line.strip()]
    return [(float(r[3]), float(r[4]), r[5]) for r in rows]


def test_a_windows_regions_in_one_request_keep_their_sentences_and_word_times(models, media_dir):
    call = _wav(media_dir / "sample.wav")
    pcm = np.concatenate([call[: 16000 * 20], np.zeros(16000 * 3, np.float32), call[16000 * 20 :]])  # a pause at 20 s
    regions = VoiceActivity().regions(pcm, AudioConfig())
    spans = [(r.t_start, r.t_end) for r in regions]
    assert len(spans) >= 2  # several regions: they go in one request
    segments = transcribe_regions(models, pcm, spans)
    text = " ".join(s.text for s in segments)
    assert "Diane in New Jersey" in text and "Chicago" in text, text
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    for s in segments:  # each sentence lies inside the region it was heard in, its words too
        assert any(a - 0.05 <= s.start and s.end <= b + 0.05 for a, b in spans), (s.start, s.end, spans)
        assert s.words and all(s.start - 1e-6 <= w.start <= w.end <= s.end + 1e-6 for w in s.words)
    word_starts = [w.start for s in segments for w in s.words]
    # the utterances' onsets (shifted by the pause): a transcribed word starts within 0.3 s of nearly every one
    onsets = [start + (3.0 if start >= 20.0 else 0.0) for start, _end, _said in _stm(media_dir / "sample.stm")]
    gaps = sorted(min(abs(t - start) for t in word_starts) for start in onsets)
    assert sum(g < 0.3 for g in gaps) >= 0.8 * len(gaps) and np.median(gaps) < 0.2, gaps
    assert len(segments) >= 4  # split at Whisper's timestamps, not one segment per region


def test_regions_of_silence_give_nothing(models):
    assert transcribe_regions(models, np.zeros(16000 * 8, np.float32), [(0.5, 3.0), (4.0, 7.5)]) == []
    assert transcribe_regions(models, np.zeros(16000, np.float32), []) == []


def test_unsegmented_audio_opening_with_silence_is_transcribed_in_sentences(models, media_dir):
    """The whole 30 s call (6.7 s of line noise first) without VAD, at the default beam width: cased and punctuated,
    and its first words where they are spoken (Whisper's 1 s limit on the first timestamp made beam search write
    'hello hello hello i didnt know you were there' from 0.0 s)."""
    assert int(models.parameters("asr")["beam_size"]) > 1  # the beam search default is what this checks
    segments = models.transcribe(_wav(media_dir / "sample.wav"))
    text = " ".join(s.text for s in segments)
    assert "Hello" in text and "I didn't know you were there" in text, text
    assert len(re.findall(r"[.?!,]", text)) >= 8, text
    assert abs(segments[0].start - 6.68) < 0.5, segments[0]
