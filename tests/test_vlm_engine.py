"""The VLM engine against a real local OpenAI-compatible server: frame limits per served model,
each frame labelled with its exact time, and prefix reuse across a session's turns (the server
reports the reused prefix the way SGLang does, in the stream's final usage)."""

from __future__ import annotations

import json
import threading
import time

import pytest
import redis
from openai_compatible_server import OpenAICompatibleServer, flatten

from orchestrator.answer import AnswerRequest, Turn, VLMEngine
from orchestrator.events import fmt_time
from orchestrator.media import frame_jpeg
from orchestrator.retrieval import Evidence, RetrievalResult, plan_question
from orchestrator.vlm_profiles import (
    GENERIC,
    VLMProfile,
    frame_limit,
    profile_for,
    select_frames,
)


def test_profiles_by_served_model_name():
    assert profile_for("lmms-lab/LLaVA-NeXT-Video-7B").max_frames == 32
    assert profile_for("llava-hf/LLaVA-NeXT-Video-7B-hf").family == "llava-next-video-7b"
    qwen2 = profile_for("lmms-lab/LLaVA-Video-7B-Qwen2")
    assert (qwen2.max_frames, qwen2.image_size, qwen2.context_length) == (64, 384, 32768)
    assert profile_for("some-new-model") is GENERIC and profile_for(None) is GENERIC


def test_frame_limit_env_override_and_context_cap():
    qwen2 = profile_for("lmms-lab/LLaVA-Video-7B-Qwen2")
    assert frame_limit(qwen2, env={}) == 64
    assert frame_limit(qwen2, env={"VLM_MAX_FRAMES": "12"}) == 12
    small = VLMProfile("small", "small", 32, 336, 4096, 576)  # 32 frames cannot fit 4k tokens at 576 each
    assert frame_limit(small, env={}) == (4096 - 2048) // 576
    for bad in ("0", "-3", "many"):
        with pytest.raises(ValueError, match="VLM_MAX_FRAMES"):
            frame_limit(qwen2, env={"VLM_MAX_FRAMES": bad})


def test_select_frames_keeps_the_best_and_spreads_the_rest():
    ranked = [(float(t), f"e{t}") for t in (50, 10, 90, 30, 70, 20, 80, 40, 60, 0)]  # best first
    chosen = select_frames(ranked, 4)
    times = [t for t, _ in chosen]
    assert len(chosen) == 4 and times == sorted(times)
    assert {50.0, 10.0} <= set(times)  # the two best
    assert min(times) == 0.0 and max(times) == 90.0  # the rest span the remaining candidates
    assert select_frames(ranked[:3], 8) == sorted(ranked[:3]) and select_frames(ranked, 0) == []


@pytest.fixture()
def vlm_server():
    server = OpenAICompatibleServer().start()
    yield server
    server.stop()


def _retrieval(clip_path, duration: float, times: list[float], video_id: str = "vid") -> RetrievalResult:
    evidence = [Evidence(f"object:{i}", "object", "person", t, t + 1.0, 0.9, score=1.0 - i / 100, best_t=t + 0.5) for i, t in enumerate(times)]
    return RetrievalResult(
        video_id,
        clip_path.name,
        duration,
        plan_question("what happens?", duration),
        evidence,
        {},
        {},
        0,
        None,
        2,
        2,
        [(e.best_t, e.event_id) for e in evidence[:8]],
    )


def _images(message: dict) -> list[tuple[str, dict]]:
    """(label text, image part) pairs of one user message."""
    parts = message["content"]
    return [(parts[i - 1]["text"], p) for i, p in enumerate(parts) if p["type"] == "image_url"]


def test_frames_respect_the_served_models_limit_and_carry_their_times(vlm_server, gt_clip, monkeypatch):
    clip, truth = gt_clip
    monkeypatch.setenv("VLM_MAX_FRAMES", "6")
    engine = VLMEngine(vlm_server.base_url, model="grounded", timeout_s=5, frame_loader=frame_jpeg, video_path=lambda _: str(clip))
    request = AnswerRequest("what happens?", _retrieval(clip, truth.duration_s, [2.0 + 3.5 * i for i in range(10)]))
    text = "".join(engine.stream(request, threading.Event()))
    assert text.startswith("From the timeline")
    images = _images(vlm_server.state.requests[-1]["messages"][-1])
    assert len(images) == 3 == len(request.frame_times)  # a turn takes at most half the limit
    for (label, image), t in zip(images, request.frame_times):
        assert label.startswith(f"Frame at [{fmt_time(t)}]") and image["image_url"]["url"].startswith("data:image/jpeg;base64,")
        assert "modalities" not in image["image_url"]  # a generic model gets plain images
    assert request.usage["prompt_tokens"] > 0 and request.usage["cached_tokens"] == 0  # nothing seen before


def test_profile_comes_from_the_served_models_list(vlm_server, gt_clip, monkeypatch):
    clip, truth = gt_clip
    monkeypatch.delenv("VLM_MAX_FRAMES", raising=False)
    vlm_server.state.model = "lmms-lab/LLaVA-Video-7B-Qwen2"
    engine = VLMEngine(vlm_server.base_url, timeout_s=5, frame_loader=frame_jpeg, video_path=lambda _: str(clip))
    request = AnswerRequest("what happens?", _retrieval(clip, truth.duration_s, [2.0 + 3.5 * i for i in range(10)]))
    "".join(engine.stream(request, threading.Event()))
    body = vlm_server.state.requests[-1]
    assert engine.profile.family == "llava-video-7b-qwen2" and body["model"] == "lmms-lab/LLaVA-Video-7B-Qwen2"
    images = _images(body["messages"][-1])
    assert len(images) == 10  # every candidate fits in half of 64
    assert all(image["image_url"]["modalities"] == "video" for _, image in images)
    assert body["stream_options"] == {"include_usage": True}


def test_follow_up_resends_the_first_turn_unchanged_so_its_prefix_is_cached(vlm_server, gt_clip, monkeypatch):
    clip, truth = gt_clip
    monkeypatch.setenv("VLM_MAX_FRAMES", "8")
    engine = VLMEngine(vlm_server.base_url, model="grounded", timeout_s=5, frame_loader=frame_jpeg, video_path=lambda _: str(clip))
    first = AnswerRequest("when does the person appear?", _retrieval(clip, truth.duration_s, [4.0, 8.0, 11.0]))
    answer1 = "".join(engine.stream(first, threading.Event()))
    turn1 = Turn(first.question, answer1, "vid", prompt=first.prompt, frame_times=first.frame_times)
    # the follow-up's evidence overlaps the first turn's: frames already shown are not sent again
    second = AnswerRequest("and later?", _retrieval(clip, truth.duration_s, [11.0, 20.0, 30.0]), history=[turn1])
    "".join(engine.stream(second, threading.Event()))
    req1, req2 = vlm_server.state.requests[-2:]
    assert req2["messages"][: len(req1["messages"])] == req1["messages"]
    assert req2["messages"][len(req1["messages"])] == {"role": "assistant", "content": answer1}
    new_times = second.frame_times
    assert new_times and all(abs(t - s) > 2 for t in new_times for s in first.frame_times)
    assert len(first.frame_times) + len(new_times) <= 8
    # the server reused the whole first request and its answer
    assert second.usage["cached_tokens"] >= len(flatten(req1["messages"] + [{"role": "assistant", "content": answer1}]))
    assert second.usage["cached_tokens"] < second.usage["prompt_tokens"]


@pytest.fixture(scope="module")
def graph(gt_ingested):
    from orchestrator.graph import EventGraph
    from orchestrator.pipeline import database_path

    summary, _, _, _, home = gt_ingested
    g = EventGraph(database_path(home), read_only=True)
    yield g, summary.video_id
    g.close()


def test_session_follow_up_hits_the_prefix_cache_and_reports_it(graph, models, redis_server, vlm_server, gt_clip):
    from orchestrator.ask import AskService, tokens_channel

    g, vid = graph
    vlm = VLMEngine(vlm_server.base_url, model="grounded", timeout_s=5, frame_loader=frame_jpeg, video_path=lambda _: str(gt_clip[0]))
    client = redis.Redis.from_url(redis_server.url)
    service = AskService(lambda: g.con.cursor(), client, embed=models.embed, vlm=vlm)
    for session in ("cache-a", "cache-b"):
        service.store.clear(session)
    first = service.ask("cache-a", vid, "When does the person appear?")
    turn1_prompt = vlm_server.state.usage[-1]["prompt_tokens"]
    assert first.engine == "vlm" and first.prompt_tokens == turn1_prompt
    sub = client.pubsub(ignore_subscribe_messages=True)
    sub.subscribe(tokens_channel("cache-a"))
    time.sleep(0.1)
    second = service.ask("cache-a", vid, "And what was said?")
    done = None
    deadline = time.monotonic() + 5
    while done is None and time.monotonic() < deadline:
        m = sub.get_message(timeout=0.2)
        if m and json.loads(m["data"])["type"] == "done":
            done = json.loads(m["data"])
    sub.close()
    assert second.cached_tokens is not None and second.cached_tokens >= turn1_prompt
    assert second.to_dict()["cached_tokens"] == second.cached_tokens  # what `ask --json` prints
    assert done is not None and done["cached_tokens"] == second.cached_tokens
    # another session on the same video shares only the system prompt and the video's header
    other = service.ask("cache-b", vid, "What was said?")
    assert other.cached_tokens is not None and other.cached_tokens < turn1_prompt // 2


def test_a_conversation_past_the_context_drops_its_oldest_half_at_once(vlm_server):
    engine = VLMEngine(vlm_server.base_url, model="grounded", timeout_s=5)
    small = VLMProfile("small", "small", 8, 336, 4096, 144)
    turns = [Turn(f"question {i}", "answer " * 200, "vid", prompt="timeline line\n" * 40, frame_times=[float(i)]) for i in range(12)]
    kept = engine._fit_history(turns, 8, small, prompt_chars=500)
    assert kept and kept == turns[len(turns) - len(kept) :]  # the newest turns, in order
    assert len(kept) in (1, 2, 3, 6)  # 12 → 6 → 3 → 2 → 1: halved in blocks, not trimmed one turn at a time
    assert engine._fit_history(turns[-2:], 8, small, prompt_chars=500) == turns[-2:]  # what fits stays
