"""Bus messages are pydantic models, validated by publisher and subscriber alike (orchestrator/messages.py)."""

from __future__ import annotations

import json
import time

import pydantic
import pytest
import redis

from orchestrator.bus import Bus
from orchestrator.messages import Ask, Cancel, Cancelled, Done, Error, FileTransfer, Notice, Progress, Start, Token, decode, encode

EXAMPLES = [
    ("progress:v1", Progress(video_id="v1", status="running", window=0, windows=2, done=1, t_end=20.0, duration_s=40.0, events=7, eta_s=3.5)),
    ("progress:v1", Progress(video_id="v1", status="error", error="disk full")),
    ("file_transfer:v1", FileTransfer(video_id="v1", name="a.mp4", bytes=10, total=20, status="copying")),
    ("tokens:s", Start(turn=0, question="when?", engine="extractive")),
    ("tokens:s", Token(turn=0, text="At ")),
    ("tokens:s", Notice(turn=0, text="the VLM is down")),
    (
        "tokens:s",
        Done(
            turn=0,
            answer="At [00:04].",
            citations=[{"t_start": 4.0, "t_end": 12.0, "event_id": "object-1"}],
            engine="vlm",
            ttft_ms=3.0,
            total_ms=9.5,
            retrieval_ms=1.0,
            cached_tokens=120,
        ),
    ),
    ("tokens:s", Cancelled(turn=1, answer="At")),
    ("tokens:s", Error(turn=1, error="boom")),
    ("inbox:s", Cancel()),
    ("inbox:s", Ask(video_id="v1", question="and then?")),
]


@pytest.mark.parametrize("channel,message", EXAMPLES, ids=[f"{c.split(':')[0]}-{m.type}" for c, m in EXAMPLES])
def test_every_message_round_trips_on_its_channel(channel, message):
    wire = encode(message)
    assert json.loads(wire)["v"] == 1 and json.loads(wire)["type"] == message.type
    assert "null" not in wire  # None fields are left out, as the formats have always been
    assert decode(channel, wire) == message


def test_the_old_dict_formats_still_read():
    """What publishers wrote before the models (and the page still writes) validates unchanged."""
    assert decode("inbox:s", json.dumps({"v": 1, "type": "cancel"})) == Cancel()
    done = decode(
        "tokens:s",
        json.dumps(
            {
                "v": 1,
                "type": "done",
                "turn": 2,
                "answer": "x",
                "citations": [],
                "engine": "extractive",
                "notice": "",
                "ttft_ms": 1.0,
                "total_ms": 2.0,
                "retrieval_ms": 0.5,
            }
        ),
    )
    assert isinstance(done, Done) and done.cached_tokens is None


@pytest.mark.parametrize(
    "channel,data",
    [
        ("inbox:s", {"v": 1, "type": "token", "turn": 0, "text": "x"}),  # a token is not an inbox message
        ("tokens:s", {"v": 1, "type": "token", "turn": 0}),  # text missing
        ("tokens:s", {"v": 1, "type": "token", "turn": 0, "text": "x", "colour": "red"}),  # a field no model has
        ("tokens:s", {"v": 2, "type": "token", "turn": 0, "text": "x"}),  # another version
        ("progress:v1", {"v": 1, "type": "progress", "video_id": "v1", "status": "paused"}),  # not a status
        ("progress:v1", "not json"),
    ],
)
def test_what_does_not_fit_a_model_is_refused(channel, data):
    with pytest.raises(pydantic.ValidationError):
        decode(channel, json.dumps(data) if isinstance(data, dict) else data)
    with pytest.raises(ValueError):
        decode("elsewhere:x", json.dumps({"v": 1, "type": "cancel"}))


def test_the_bus_publishes_models_a_subscriber_decodes(redis_server):
    sub = redis.Redis.from_url(redis_server.url).pubsub(ignore_subscribe_messages=True)
    sub.subscribe("progress:v9")
    time.sleep(0.1)
    bus = Bus(redis_server.url)
    sent = Progress(video_id="v9", status="done", window=1, windows=2, done=2, t_end=40.0, duration_s=40.0, events=9, eta_s=0)
    assert bus.publish("progress:v9", sent)
    got = None
    deadline = time.monotonic() + 5
    while got is None and time.monotonic() < deadline:
        m = sub.get_message(timeout=0.2)
        if m:
            got = decode("progress:v9", m["data"])
    bus.close()
    sub.close()
    assert got == sent


def test_a_bus_without_redis_says_so_instead_of_failing():
    bus = Bus("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    t0 = time.monotonic()
    assert bus.publish("progress:v1", Progress(video_id="v1", status="running")) is False
    assert time.monotonic() - t0 < 10  # two tries, not a hang
    bus.close()


def test_ingest_progress_on_redis_is_valid_progress(gt_ingested):
    summary, _events, messages, _truth, _home = gt_ingested
    decoded = [decode(f"progress:{summary.video_id}", json.dumps(m)) for m in messages]
    assert decoded and all(isinstance(m, Progress) for m in decoded)
    assert [m.status for m in decoded][-1] == "done" and decoded[-1].done == summary.windows
