"""Zero-shot search (issues #11/#12): the ``image_text`` (CLIP) and ``audio_text`` (CLAP) models served by the real
Triton from small randomly initialised Hugging Face folders (``scripts/zero_shot_random.py``; no real weights are
at hand), the look lane's vectors from a real ingest, and the calibrated search over them. The pure parts (frame
picking, alternatives, the probability, merging) are in the fast tier."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from orchestrator import zero_shot
from orchestrator.lanes.look import EVERY_S, LookLane, LookResult, pick_frames

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))


# -- fast: the pure parts ---------------------------------------------------------------------
def test_pick_frames_takes_scene_starts_and_one_frame_every_few_seconds():
    times = [i * 0.5 for i in range(40)]  # 20 s of kept frames, 2 a second
    reasons = ["first"] + ["motion"] * 39
    reasons[25] = "scene_cut"  # 12.5 s
    picked = [times[i] for i in pick_frames(times, reasons)]
    assert picked == [0.0, 5.0, 10.0, 12.5, 17.5]
    assert pick_frames([], []) == []


def test_look_rows_cover_until_the_next_picked_frame_and_stay_in_the_window():
    from orchestrator.config import IngestConfig
    from orchestrator.lanes import AssemblyContext
    from orchestrator.media import MediaInfo
    from orchestrator.windows import Window

    info = MediaInfo(path="x.mp4", duration_s=40.0, fps=25.0, width=640, height=360, has_audio=False, has_video=True, size_bytes=1, container="mp4")
    ctx = AssemblyContext(info, Window(1, 20.0, 40.0), IngestConfig(lanes=("motion",)), False, None)
    vecs = [np.eye(4, dtype=np.float32)[i] for i in range(3)]
    out = LookLane().assemble(LookResult([20.0, 22.0, 38.0], vecs), ctx)
    assert [(r["space"], r["t_start"], r["t_end"]) for r in out.vectors] == [
        ("image_text", 20.0, 22.0),
        ("image_text", 22.0, 22.0 + EVERY_S),
        ("image_text", 38.0, 40.0),
    ]
    assert out.events == [] and np.array_equal(out.vectors[1]["vec"], vecs[1])


def test_alternatives_are_generic_captions_and_the_phrases_own_parts():
    alts = zero_shot.alternatives("an open car boot", "image_text")
    assert "a photo" in alts and "an open car boot" not in alts
    parts = zero_shot.alternatives("a dog next to a red car", "image_text")
    assert parts[-2:] == ["a dog", "a red car"]
    assert "music" not in zero_shot.alternatives("music from a radio", "audio_text") and "a sound" in zero_shot.alternatives("a kettle whistling", "audio_text")


def test_probability_accepts_a_clear_winner_at_a_trained_temperature_and_not_at_a_random_one():
    phrase = np.array([0.31, 0.22])
    others = np.array([[0.24, 0.23, 0.22, 0.21, 0.22, 0.2, 0.23], [0.22, 0.23, 0.21, 0.2, 0.22, 0.21, 0.2]])  # seven alternatives, as a phrase has
    trained = zero_shot.match_probability(phrase, others, 100.0)  # CLIP's learned exp(logit_scale)
    untrained = zero_shot.match_probability(phrase, others, 1 / 0.07)  # its value at initialisation
    assert trained[0] > zero_shot.ACCEPT > trained[1]
    assert untrained[0] < zero_shot.ACCEPT  # the same cosines mean little to a model that never learned a temperature


def test_merge_joins_close_moments_and_ranks_by_probability():
    M = zero_shot.Moment
    merged = zero_shot.merge([M(0, 2, 0.3, 0.6), M(3, 5, 0.32, 0.9), M(20, 22, 0.28, 0.7)])
    assert [(m.t_start, m.t_end, m.probability) for m in merged] == [(0, 5, 0.9), (20, 22, 0.7)]
    assert merged[0].sim == 0.32


def test_weights_dir_is_the_setting_or_the_models_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("VDET_IMAGE_TEXT_WEIGHTS", str(tmp_path))
    assert zero_shot.weights_dir("image_text") == tmp_path and not zero_shot.weights_present("image_text")
    (tmp_path / "config.json").write_text("{}")
    assert zero_shot.weights_present("image_text")
    monkeypatch.delenv("VDET_AUDIO_TEXT_WEIGHTS", raising=False)
    assert zero_shot.weights_dir("audio_text").name == "audio-text"


# -- slow: the real Triton serving the random small models ------------------------------------
@pytest.fixture(scope="module")
def zs_weights(tmp_path_factory) -> dict[str, Path]:
    import zero_shot_random

    out = {}
    for space, make in (("image_text", zero_shot_random.make_image_text), ("audio_text", zero_shot_random.make_audio_text)):
        folder = tmp_path_factory.mktemp(space)
        make(folder, seed=0)
        out[space] = folder
    return out


@pytest.fixture(scope="module")
def zs_triton(zs_weights):
    from orchestrator.triton_server import TritonServer

    mp = pytest.MonkeyPatch()
    mp.setenv("VDET_IMAGE_TEXT_WEIGHTS", str(zs_weights["image_text"]))
    mp.setenv("VDET_AUDIO_TEXT_WEIGHTS", str(zs_weights["audio_text"]))
    try:
        server = TritonServer.start(models=("image_text", "audio_text", "embedder", "sound_tagger"), timeout_s=600)  # a loaded 2-core machine
    finally:
        mp.undo()
    yield server
    server.stop()


@pytest.fixture()
def zs_models(zs_triton):
    from orchestrator.model_clients import TritonModels

    client = TritonModels(zs_triton.http_url)
    yield client
    client.close()


@pytest.mark.slow
def test_image_text_serves_the_same_embeddings_as_the_model_in_process(zs_models, zs_weights, media_dir):
    import cv2
    import torch
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    frames = [cv2.cvtColor(cv2.imread(str(media_dir / name)), cv2.COLOR_BGR2RGB) for name in ("zidane.jpg", "bus.jpg")]
    frames = [cv2.resize(f, (320, 240)) for f in frames]
    served = zero_shot.embed_images(zs_models, frames)
    texts = zero_shot.embed_texts(zs_models, "image_text", ["a person with an umbrella", "an open car boot"])
    assert served.shape == (2, 32) and texts.vectors.shape == (2, 32)
    assert np.allclose(np.linalg.norm(served, axis=1), 1, atol=1e-5) and np.allclose(np.linalg.norm(texts.vectors, axis=1), 1, atol=1e-5)
    assert texts.temperature == pytest.approx(1 / 0.07, rel=1e-3) and np.isnan(texts.bias)  # the random model's own temperature
    folder = str(zs_weights["image_text"])
    model, processor, tokenizer = AutoModel.from_pretrained(folder).eval(), AutoImageProcessor.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        image = model.get_image_features(pixel_values=processor(images=frames, return_tensors="pt")["pixel_values"]).pooler_output
        tokens = tokenizer(["a person with an umbrella"], padding="max_length", truncation=True, max_length=32, return_tensors="pt")
        tokens.pop("token_type_ids", None)
        text = model.get_text_features(**tokens).pooler_output
    assert np.allclose(served, torch.nn.functional.normalize(image, dim=-1).numpy(), atol=1e-4)
    assert np.allclose(texts.vectors[0], torch.nn.functional.normalize(text, dim=-1).numpy()[0], atol=1e-4)
    assert not np.allclose(served[0], served[1], atol=1e-3)


@pytest.mark.slow
def test_audio_text_embeds_clips_and_phrases_in_one_space(zs_models):
    rate = 16000
    t = np.arange(rate * 2) / rate
    whistle = (0.3 * np.sin(2 * np.pi * 2000 * t)).astype(np.float32)
    knock = np.zeros(rate, np.float32)
    knock[::4000] = 0.9
    clips = zero_shot.embed_clips(zs_models, [whistle, knock, whistle])
    texts = zero_shot.embed_texts(zs_models, "audio_text", ["a kettle whistling", "a knock on a door"])
    assert clips.shape[0] == 3 and clips.shape[1] == texts.vectors.shape[1]
    assert np.allclose(np.linalg.norm(clips, axis=1), 1, atol=1e-5)
    assert np.allclose(clips[0], clips[2], atol=1e-5) and not np.allclose(clips[0], clips[1], atol=1e-3)  # deterministic, and the clip matters
    assert texts.temperature == pytest.approx(1 / 0.07, rel=1e-3)


@pytest.fixture(scope="module")
def look_ingested(zs_triton, redis_server, media_dir, tmp_path_factory):
    """bikes.mp4 (10 s) ingested with the motion and look lanes through the random image_text model."""
    from orchestrator.config import IngestConfig
    from orchestrator.pipeline import Ingestor, Services

    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRITON_URL", zs_triton.http_url)
    mp.setenv("REDIS_URL", redis_server.url)
    try:
        with Services() as services:
            summary = Ingestor(home, services, IngestConfig(window_s=5.0, lanes=("motion", "look"))).ingest(media_dir / "bikes.mp4")
    finally:
        mp.undo()
    return summary, home


@pytest.mark.slow
def test_look_lane_writes_vectors_and_a_frame_searched_by_its_own_embedding_ranks_first(look_ingested, zs_models, media_dir):
    import cv2

    from orchestrator.graph import EventGraph
    from orchestrator.pipeline import database_path

    summary, home = look_ingested
    with EventGraph(database_path(home), read_only=True) as g:
        assert g.media_spaces(summary.video_id) == ["image_text"]
        rows = g.con.execute(
            "SELECT window_idx, t_start, t_end, ref, len(vec) FROM media_vectors WHERE video_id = ? ORDER BY t_start", [summary.video_id]
        ).fetchall()
        assert len(rows) >= 2 and {r[0] for r in rows} == {0, 1}  # both windows embedded a few frames
        assert all(r[4] == 32 and r[1] <= r[2] <= 10.0 and r[3].startswith("frame@") for r in rows)
        assert len(rows) <= 2 * (5 / EVERY_S + 2)  # a few per window, not every kept frame
        cap = cv2.VideoCapture(str(media_dir / "bikes.mp4"))
        for _, t, *_ in rows:
            cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
            ok, bgr = cap.read()
            assert ok
            mine = zero_shot.embed_images(zs_models, [cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)])[0]
            ranked = zero_shot.nearest_to_vector(g, summary.video_id, "image_text", mine, limit=len(rows))
            assert ranked[0]["t_start"] == pytest.approx(t, abs=1e-3), (t, ranked[:2])
            assert ranked[0]["sim"] > 0.98
        cap.release()


@pytest.mark.slow
def test_the_threshold_refuses_what_a_random_model_cannot_know(look_ingested, zs_models):
    from orchestrator.graph import EventGraph
    from orchestrator.pipeline import database_path

    summary, home = look_ingested
    with EventGraph(database_path(home), read_only=True) as g:
        for phrase in ("a person with an umbrella", "an open car boot", "a red bicycle on a road", "xq zzv plorb"):
            result = zero_shot.search(g, zs_models, summary.video_id, phrase, "image_text")
            assert result.best is not None and result.moments == [], (phrase, result.best)
            assert result.best.probability < zero_shot.ACCEPT and "needs 50%" in result.refused
        with pytest.raises(zero_shot.ZeroShotError, match="no audio_text vectors.*sounds lane"):
            zero_shot.search(g, zs_models, summary.video_id, "a kettle whistling", "audio_text")
        with pytest.raises(zero_shot.ZeroShotError, match="phrase is empty"):
            zero_shot.search(g, zs_models, summary.video_id, "  ", "image_text")


def test_a_question_becomes_the_caption_it_asks_for_in_the_space_it_is_about():
    assert zero_shot.phrase_of("When is an open car boot visible?") == "an open car boot"
    assert zero_shot.phrase_of("were there people with umbrellas in the video?") == "people with umbrellas"
    assert zero_shot.space_of("when do we hear a kettle whistling?", []) == "audio_text"
    assert zero_shot.space_of("when is the kettle on the table?", ["object"]) == "image_text"
    assert zero_shot.space_of("when does the kettle go?", ["sound"]) == "audio_text"


def test_a_look_moment_is_evidence_cited_like_any_other():
    from orchestrator.retrieval import Evidence

    e = Evidence.from_look(zero_shot.Moment(64.0, 66.5, 0.312, 0.87), "an open car boot", "image_text")
    assert (e.kind, e.label, e.cite, e.confidence, e.event_ids) == ("look", "an open car boot", "[01:04]", 0.87, ["look-64.00"])
    assert e.text == 'looks like "an open car boot" (similarity 0.31, 87% against other captions)' and e.attrs["space"] == "image_text"
    heard = Evidence.from_look(zero_shot.Moment(3.0, 5.0, 0.2, 0.7, event_id="snd-3"), "a kettle whistling", "audio_text")
    assert heard.event_id == "snd-3" and heard.text.startswith("sounds like")


@pytest.mark.slow
def test_retrieval_asks_the_look_space_only_for_what_the_graph_does_not_cover_and_keeps_refusals_out(look_ingested, zs_models, monkeypatch):
    from orchestrator.graph import EventGraph
    from orchestrator.pipeline import database_path
    from orchestrator.retrieval import Retriever

    summary, home = look_ingested
    asked = []
    real = zero_shot.search
    monkeypatch.setattr(zero_shot, "search", lambda *a, **k: asked.append(a[3]) or real(*a, **k))
    with EventGraph(database_path(home), read_only=True) as g:
        r = Retriever(g, embed=zs_models.embed).retrieve(summary.video_id, "When does a person with an umbrella appear?")
        assert asked == ["a person with an umbrella"]  # the random model was asked ...
        assert not [e for e in r.evidence + r.matches if e.kind == "look"]  # ... and what it cannot know is not evidence
        Retriever(g, embed=zs_models.embed).retrieve(summary.video_id, "summarise the video")
        Retriever(g, embed=None).retrieve(summary.video_id, "When does a person with an umbrella appear?")
        assert asked == ["a person with an umbrella"]  # a summary, or no Triton behind the retriever: not asked


@pytest.mark.slow
def test_sounds_lane_embeds_each_sound_event_and_its_clip_finds_it(zs_triton, zs_models, redis_server, tmp_path, monkeypatch):
    import wave

    from orchestrator.config import IngestConfig
    from orchestrator.graph import EventGraph
    from orchestrator.pipeline import Ingestor, Services, database_path

    rate = 16000
    pcm = np.zeros(rate * 12, np.float32)
    t = np.arange(int(0.2 * rate)) / rate
    for start in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):  # an alarm: six 1 kHz beeps, 1 s apart
        pcm[int(start * rate) : int(start * rate) + len(t)] = 0.5 * np.sin(2 * np.pi * 1000 * t)
    pcm[int(9 * rate) : int(9 * rate) + 400] = 0.9 * np.random.default_rng(0).standard_normal(400)  # a bang
    path = tmp_path / "alarm.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((np.clip(pcm, -1, 1) * 32767).astype(np.int16).tobytes())
    monkeypatch.setenv("TRITON_URL", zs_triton.http_url)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    with Services() as services:
        summary = Ingestor(tmp_path / "home", services, IngestConfig(window_s=6.0, lanes=("sounds",))).ingest(path)
    with EventGraph(database_path(tmp_path / "home"), read_only=True) as g:
        sounds = {e["id"]: e for e in g.events(summary.video_id) if e["kind"] == "sound"}
        rows = g.con.execute(
            "SELECT event_id, t_start, t_end, ref FROM media_vectors WHERE video_id = ? AND space = 'audio_text'", [summary.video_id]
        ).fetchall()
        assert sounds and g.media_spaces(summary.video_id) == ["audio_text"]
        assert {r[0] for r in rows} == set(sounds)  # every sound event embedded once, under its own id
        for event_id, t0, t1, label in rows:
            assert sounds[event_id]["label"] == label
            clip = pcm[int(t0 * rate) : int(t1 * rate)]
            ranked = zero_shot.nearest_to_vector(g, summary.video_id, "audio_text", zero_shot.embed_clips(zs_models, [clip])[0], limit=len(rows))
            assert ranked[0]["event_id"] == event_id and ranked[0]["sim"] > 0.98, (event_id, ranked[:2])
        result = zero_shot.search(g, zs_models, summary.video_id, "a kettle whistling", "audio_text")
        assert result.moments == [] and result.best is not None and result.best.event_id in sounds  # refused, but it looked at the sounds


def test_accept_needs_half_the_probability_and_to_beat_every_alternative():
    sims = np.array([0.30, 0.30, 0.22])
    alts = np.array([[0.20, 0.21, 0.20, 0.2, 0.2, 0.2, 0.2], [0.31, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2], [0.2, 0.21, 0.2, 0.2, 0.2, 0.2, 0.2]])
    probability, believed = zero_shot.accept(sims, alts, 100.0)
    assert believed.tolist() == [True, False, False]  # the second is beaten by an alternative, the third too weak
    assert probability[0] > 0.99 and probability[2] < zero_shot.ACCEPT
