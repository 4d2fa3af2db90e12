"""Every message on the bus, one pydantic model per kind, used by publisher and subscriber alike.

The wire format is JSON, one object per Redis message, with the schema version ``"v": 1`` and a
``"type"`` that says which model it is (the discriminator). Fields that are None are left out.
A subscriber validates what it reads (``decode``): an unknown type, a missing or extra field or
another version is a ``pydantic.ValidationError`` (a ``ValueError``), never a half-read dict.

Channels:

- ``progress:{video_id}``  from ingest, one per finished window and one at the end: ``Progress``
  (``status`` running | done | error; an error carries only ``video_id``, ``status`` and ``error``).
- ``file_transfer:{video_id}``  from the library while an upload is copied in: ``FileTransfer``.
- ``tokens:{session}``  from the answer worker: ``Start``, many ``Token``, any ``Notice`` (the VLM is
  down, falling back), then one of ``Done`` (the answer, its citations, the engine and timings; plus
  ``cached_tokens`` when the VLM server reports its prefix-cache reuse), ``Cancelled``, ``Error``.
- ``inbox:{session}``  to the answer worker: ``Cancel`` (the stream stops and the upstream VLM request
  is closed), ``Ask`` (a follow-up).

>>> encode(Token(turn=2, text="a car"))
'{"v":1,"type":"token","turn":2,"text":"a car"}'
>>> decode("tokens:s1", '{"v": 1, "type": "done", "turn": 0, "answer": "Yes [00:04].", "engine": "extractive",'
...        ' "citations": [{"t_start": 4.0, "t_end": 12.0, "event_id": "object-1"}], "notice": "", "ttft_ms": 3, "total_ms": 9}')
Done(v=1, type='done', turn=0, answer='Yes [00:04].', citations=[Citation(t_start=4.0, t_end=12.0, event_id='object-1')], engine='extractive', notice='', ttft_ms=3.0, total_ms=9.0, retrieval_ms=None, cached_tokens=None)
>>> decode("inbox:s1", '{"v": 1, "type": "cancel"}')
Cancel(v=1, type='cancel')
>>> decode("inbox:s1", '{"v": 2, "type": "cancel"}')
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for tagged-union[Cancel,Ask]
...
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION = 1


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = SCHEMA_VERSION


# -- progress:{video_id} and file_transfer:{video_id} ----------------------------------------------
class Progress(Message):
    type: Literal["progress"] = "progress"
    video_id: str
    status: Literal["running", "done", "error"]
    window: int | None = None  # the window just finished, from 0
    windows: int | None = None  # windows in the video
    done: int | None = None  # windows finished so far (resumed ones included)
    t_end: float | None = None  # how far (s) the finished windows reach
    duration_s: float | None = None
    events: int | None = None  # events this window added (at the end: the video's total)
    eta_s: float | None = None  # time left, measured on this ingest's windows
    error: str | None = None


class FileTransfer(Message):
    type: Literal["file_transfer"] = "file_transfer"
    video_id: str
    name: str
    bytes: int  # copied so far
    total: int
    status: Literal["copying", "done"]


# -- tokens:{session} ---------------------------------------------------------------------------
class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    t_start: float
    t_end: float
    event_id: str


class Start(Message):
    type: Literal["start"] = "start"
    turn: int
    question: str
    engine: str


class Token(Message):
    type: Literal["token"] = "token"
    turn: int
    text: str


class Notice(Message):
    type: Literal["notice"] = "notice"
    turn: int
    text: str


class Done(Message):
    type: Literal["done"] = "done"
    turn: int
    answer: str
    citations: list[Citation]
    engine: str
    notice: str = ""
    ttft_ms: float
    total_ms: float
    retrieval_ms: float | None = None
    cached_tokens: int | None = None  # prompt tokens the VLM server reused from its prefix cache, when it says


class Cancelled(Message):
    type: Literal["cancelled"] = "cancelled"
    turn: int
    answer: str


class Error(Message):
    type: Literal["error"] = "error"
    turn: int
    error: str


# -- inbox:{session} ----------------------------------------------------------------------------
class Cancel(Message):
    type: Literal["cancel"] = "cancel"


class Ask(Message):
    type: Literal["ask"] = "ask"
    video_id: str
    question: str
    template: str | None = None


ProgressMessage = Annotated[Union[Progress], Field(discriminator="type")]
TransferMessage = Annotated[Union[FileTransfer], Field(discriminator="type")]
TokensMessage = Annotated[Union[Start, Token, Notice, Done, Cancelled, Error], Field(discriminator="type")]
InboxMessage = Annotated[Union[Cancel, Ask], Field(discriminator="type")]

CHANNELS: dict[str, TypeAdapter] = {
    "progress": TypeAdapter(ProgressMessage),
    "file_transfer": TypeAdapter(TransferMessage),
    "tokens": TypeAdapter(TokensMessage),
    "inbox": TypeAdapter(InboxMessage),
}


def encode(message: Message) -> str:
    """The wire form of a message: compact JSON, None fields left out."""
    return message.model_dump_json(exclude_none=True)


def decode(channel: str, data: str | bytes) -> Message:
    """A message read from ``channel`` (``tokens:abc``, ``progress:*`` ...), validated against that channel's models."""
    kind = channel.split(":", 1)[0]
    if kind not in CHANNELS:
        raise ValueError(f"no message models for channel {channel!r}")
    return CHANNELS[kind].validate_json(data)
