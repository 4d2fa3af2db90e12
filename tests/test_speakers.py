"""Speaker turns: each speech event's voice is embedded by the real Resemblyzer encoder on Triton (``speaker_embedder``)
and labelled "speaker 1", "speaker 2", ... in order of first appearance, across windows and across a resumed ingest."""

from __future__ import annotations

import pickle
import subprocess
import wave

import numpy as np
import pytest

from orchestrator.audio import SPEAKER_MODEL, SpeakerConfig, Speakers, speaker_embeddings, voice_pitch, voice_register
from orchestrator.events import Event
from orchestrator.lanes.base import AssemblyContext
from orchestrator.lanes.speech import SpeechAnalysis, SpeechLane, SpeechState

RATE = 16000
# espeak-ng voices: the default male voice and a female variant (the held-out office_call clip's narrator and Maria)
MAN, WOMAN = "en-us", "en-us+f3"


def _speech(e_id: str, t0: float, t1: float) -> Event:
    return Event(e_id, "speech", "speech", t0, t1, 0.9, text="words", window_index=0, attrs={})


def _unit(i: int, dim: int = 8) -> np.ndarray:
    return np.eye(dim, dtype=np.float32)[i]


def test_labels_follow_first_appearance_and_a_short_utterance_founds_no_speaker():
    s = Speakers(config=SpeakerConfig(same_speaker=0.7, min_new_speaker_s=1.0))
    assert s.assign(_unit(3), 2.0) == ("speaker 1", 1.0)
    assert s.assign(_unit(5), 0.4)[0] == "speaker 1"  # too short to be a new voice: the nearest one
    assert s.assign(_unit(5), 2.0) == ("speaker 2", 1.0)
    assert s.assign(_unit(3) + 0.2 * _unit(5), 1.5)[0] == "speaker 1"
    assert s.assign(np.zeros(8, np.float32), 2.0) is None  # no voice: no speaker
    assert len(s.sums) == 2


def test_speakers_carry_across_windows_through_the_pickled_checkpoint():
    """What the pipeline does between windows: assemble, pickle the lane state, load it, assemble the next window."""
    lane = SpeechLane()
    state = lane.new_state(None)
    labels = []
    windows = [[(0.0, 2.0, _unit(0)), (3.0, 5.0, _unit(1))], [(21.0, 23.0, _unit(1)), (24.0, 26.0, _unit(0)), (27.0, 29.0, _unit(2))]]
    for w, window in enumerate(windows):
        result = SpeechAnalysis([_speech(f"speech-{w}-{i}", a, b) for i, (a, b, _) in enumerate(window)], [v for *_, v in window])
        ctx = AssemblyContext(info=None, window=None, config=None, is_last=w == len(windows) - 1, state=state)
        out = lane.assemble(result, ctx)
        labels += [e.attrs["speaker"] for e in out.events]
        state = pickle.loads(pickle.dumps(state))  # the checkpoint
    assert labels == ["speaker 1", "speaker 2", "speaker 2", "speaker 1", "speaker 3"]
    assert isinstance(state, SpeechState) and len(state.speakers.sums) == 3


def test_events_without_a_voice_embedding_get_no_speaker():
    out = SpeechLane().assemble(SpeechAnalysis([_speech("a", 0, 2)], [None]), AssemblyContext(None, None, None, True, SpeechState()))
    assert "speaker" not in out.events[0].attrs


# -- a voice's register from its pitch --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("voice", "register"),
    [("en-us", "low"), ("en-us+m3", "low"), ("en-us+klatt", "low"), ("en-us+f1", "high"), ("en-us+f3", "high"), ("en-us+f5", "high"), ("en-us+Alicia", "high")],
)
def test_espeak_voices_are_told_low_or_high_by_their_pitch(voice, register, tmp_path):
    pcm = _say(voice, "Good morning everyone, this is the weekly report from the north office.", tmp_path)
    assert voice_register(voice_pitch(pcm)) == register, voice_pitch(pcm)


def test_real_call_both_women_have_high_voices_over_their_lines(media_dir):
    """The pyannote call: Diane and Sheila (sample.stm). One of Diane's lines alone is in the band pitch cannot call
    (163 Hz); over all her lines, as the speech lane keeps a speaker's pitch, her voice is high."""
    pcm = _wav(media_dir / "sample.wav")
    state = SpeechState()
    registers = {}
    for _file, _ch, who, start, end, _said in _stm(media_dir / "sample.stm"):
        if end - start >= 0.8:
            pitch = voice_pitch(pcm[int(start * RATE) : int(end * RATE)])
            assert pitch is not None and 150 <= pitch <= 260, (who, start, pitch)
            registers[who] = state.register(who, pitch, end - start)
    assert registers == {"Diane": "high", "Sheila": "high"}


def test_assembly_gives_each_line_its_speakers_register_and_an_old_checkpoint_loads():
    lane = SpeechLane()
    state = lane.new_state(None)
    del state.pitches  # a checkpoint written before voices had a pitch
    lines = [_speech("a", 0, 2), _speech("b", 3, 5), _speech("c", 6, 6.5)]
    for e, hz in zip(lines, (110.0, 215.0, 190.0)):
        e.attrs["pitch_hz"] = hz
    out = lane.assemble(SpeechAnalysis(lines, [_unit(0), _unit(1), _unit(0)]), AssemblyContext(None, None, None, True, state))
    # the third line is speaker 1's: their register (low, from 2 s at 110 Hz) outweighs its own half second at 190 Hz
    assert [(e.attrs["speaker"], e.attrs["voice"]) for e in out.events] == [("speaker 1", "low"), ("speaker 2", "high"), ("speaker 1", "low")]
    assert voice_register(None) == "" and voice_register(160.0) == ""  # between the bands, pitch does not tell


def _stm(path) -> list[tuple]:
    rows = [line.split(None, 5) for line in path.read_text().splitlines() if line.strip()]
    return [(r[0], r[1], r[2], float(r[3]), float(r[4]), r[5]) for r in rows]


# -- the real encoder on Triton -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speaker_models(triton):
    """The session's Triton with ``speaker_embedder`` loaded (for this module only where it is not a default model)."""
    from orchestrator.analysis import reconnect_models
    from orchestrator.model_clients import TritonModels

    models = TritonModels(triton.http_url)
    served = models.ready((SPEAKER_MODEL,))[SPEAKER_MODEL]  # already one of the server's models: leave it loaded
    if not served:
        models.client.load_model(SPEAKER_MODEL)
        reconnect_models()  # the analysis threads' clients ask again which models are served
    yield models
    if not served:
        models.client.unload_model(SPEAKER_MODEL)
        reconnect_models()
    models.close()


def _say(voice: str, text: str, tmp_path) -> np.ndarray:
    from orchestrator.media import probe, read_audio

    path = tmp_path / f"{abs(hash((voice, text)))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    info = probe(path)
    return read_audio(info, 0.0, info.duration_s)


def _wav(path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768


def test_two_voices_get_two_labels_and_the_same_voice_the_same_label(speaker_models, tmp_path):
    clips = [
        _say(MAN, "Good morning everyone. This is the weekly report from the north office.", tmp_path),
        _say(WOMAN, "Hello, yes, this is Maria. I will call you back after lunch.", tmp_path),
        _say(MAN, "Please bring the blue folder and your laptop. That is all for today.", tmp_path),
    ]
    pcm = np.concatenate(clips)
    bounds = np.cumsum([0] + [len(c) for c in clips]) / RATE
    spans = list(zip(bounds[:-1], bounds[1:]))
    vectors = speaker_embeddings(speaker_models, pcm, spans)
    assert vectors.shape == (3, 256)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    same, other = float(vectors[0] @ vectors[2]), max(float(vectors[0] @ vectors[1]), float(vectors[2] @ vectors[1]))
    assert same > SpeakerConfig().same_speaker > other, (same, other)
    s = Speakers()
    assert [s.assign(v, b - a)[0] for v, (a, b) in zip(vectors, spans)] == ["speaker 1", "speaker 2", "speaker 1"]
    # a span over no audio is a zero vector (the lane labels nothing there)
    assert not speaker_embeddings(speaker_models, np.zeros(RATE, np.float32), [(0.0, 1.0)]).any()


def test_real_call_one_speakers_turns_are_closer_to_each_other_than_to_the_other_speaker(speaker_models, media_dir):
    """The pyannote call (sample.stm): Sheila's two long turns sound alike; Diane's long turns do not sound like her."""
    pcm = _wav(media_dir / "sample.wav")
    sheila = [(14.444, 17.769), (24.058, 28.425)]
    diane = [(10.78, 12.54), (17.789, 20.113)]
    v = speaker_embeddings(speaker_models, pcm, sheila + diane)
    between_sheila = float(v[0] @ v[1])
    across = float(np.max(v[:2] @ v[2:].T))
    assert between_sheila > SpeakerConfig().same_speaker and between_sheila > across + 0.05, (between_sheila, across)


def test_ingest_labels_speakers_in_the_graph_and_a_resumed_ingest_continues_them(speaker_models, services, tmp_path):
    from orchestrator.config import IngestConfig
    from orchestrator.graph import EventGraph
    from orchestrator.pipeline import Ingestor, database_path

    pause = np.zeros(RATE * 2, np.float32)
    parts = [pause[: RATE // 2]]
    for voice, text in [
        (MAN, "Good morning everyone. This is the weekly report from the north office."),
        (WOMAN, "Hello, yes, this is Maria. I will call you back after lunch."),
        (MAN, "Sorry about that alarm. The budget meeting is moved to Thursday."),
    ]:
        parts += [_say(voice, text, tmp_path), pause]
    pcm = np.concatenate(parts)
    path = tmp_path / "call.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(RATE)
        w.writeframes((np.clip(pcm, -1, 1) * 32767).astype(np.int16).tobytes())
    config = IngestConfig(window_s=6.0, lanes=("speech",))

    class Stop(Exception):
        pass

    def stop_after_two(message) -> None:
        if message["done"] >= 2:
            raise Stop

    home = tmp_path / "home"
    with pytest.raises(Stop):  # killed after two windows: their rows and the lane's state are checkpointed
        Ingestor(home, services, config).ingest(path, on_progress=stop_after_two)
    summary = Ingestor(home, services, config).ingest(path)  # resumes at the third window
    with EventGraph(database_path(home), read_only=True) as g:
        said = sorted((e for e in g.events(summary.video_id) if e["kind"] == "speech"), key=lambda e: e["t_start"])
    turns = [(e["attrs"]["speaker"], e["text"]) for e in said]
    maria = [who for who, text in turns if "maria" in text.lower()]
    others = {who for who, text in turns if "maria" not in text.lower()}
    assert maria and set(maria) == {"speaker 2"} and others == {"speaker 1"}, turns
    assert any(e["window_idx"] >= 2 for e in said if "budget" in e["text"].lower() or "thursday" in e["text"].lower())
