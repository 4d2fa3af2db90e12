"""A small OpenAI-compatible chat server for tests: a real HTTP server (FastAPI + uvicorn) that
streams Server-Sent Events like SGLang does. It writes its answer from the evidence it receives
(the first timeline lines it was sent), so tests can check what the engine sent and how the
stream, cancel and errors behave. Behaviour is chosen by the model name:

- ``grounded``: answers from the timeline, citing the times it was given
- ``slow``: like grounded, one token every 0.3 s (for cancel tests)
- ``error``: HTTP 500
- ``drop``: a few tokens, then the connection is cut
- ``tools``: with ``tools`` in the request, calls one graph tool and then answers from its result (``tool_reply``);
  ``tools-lazy`` answers without calling any

Prefix cache, like SGLang's radix cache: every request's messages are flattened the way a chat
template does (role markers, text, each image's data URL) and kept, finished answers included as
the assistant turn that would follow. A request's ``cached_tokens`` is its longest common prefix
with anything kept before, counted in characters of that flattened prompt (``prompt_tokens`` counts
the same way). With ``stream_options.include_usage`` the stream ends with a chunk carrying
``usage.prompt_tokens_details.cached_tokens``, as SGLang (``--enable-cache-report``) and OpenAI do.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


def flatten(messages: list[dict]) -> str:
    """Messages as one prompt string, the way a chat template lays them out."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p["text"] if p.get("type") == "text" else f"<image:{p['image_url']['url']}>" for p in content)
        out.append(f"<|{m.get('role')}|>{content or ''}<|end|>")
    return "".join(out)


def common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class ServerState:
    def __init__(self):
        self.requests: list[dict] = []
        self.usage: list[dict] = []  # per request, in order: prompt_tokens, cached_tokens
        self.cache: list[str] = []  # prompts seen (and prompt + answer once an answer finished)
        self.disconnected = threading.Event()
        self.model = "grounded"

    def prefix_cache(self, messages: list[dict]) -> tuple[str, dict]:
        prompt = flatten(messages)
        cached = max((common_prefix(prompt, seen) for seen in self.cache), default=0)
        self.cache.append(prompt)
        usage = {"prompt_tokens": len(prompt), "cached_tokens": cached}
        self.usage.append(usage)
        return prompt, usage


def tool_reply(body: dict, model: str) -> dict:
    """A tool-calling model (non-streamed, like OpenAI's API): first it calls one graph tool chosen from the
    question's words, then it answers from the tool's result, citing references ({E1}, {N1}) — and, to
    test that the engine drops them, one time and one number of its own. ``tools-lazy`` never calls a tool."""
    messages = body["messages"]
    question = next(m["content"] for m in messages if m["role"] == "user").split("QUESTION:", 1)[-1].strip().lower()
    results = [json.loads(m["content"]) for m in messages if m["role"] == "tool"]

    def reply(message: dict, finish: str) -> dict:
        return {
            "id": "t",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        }

    if model == "tools-lazy":
        return reply({"content": "It happens at [00:07], 5 times."}, "stop")
    if not results:
        if question.startswith("how many"):
            call = ("count", {"what": question[len("how many") :].strip(" ?")})
        elif " after " in question:
            call = ("after", {"anchor": question.split(" after ", 1)[1].strip(" ?"), "what": "speech" if "said" in question or "say" in question else ""})
        elif re.search(r"\b(say|said|says)\b", question):
            call = ("transcript", {})
        else:
            call = ("find", {"what": question.strip(" ?")})
        args = json.dumps(call[1])
        return reply({"content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": call[0], "arguments": args}}]}, "tool_calls")
    r = results[-1]
    if "count_ref" in r:
        first = f", the first at {{{r['events'][0]['ref']}}}" if r["events"] else ""
        text = f"I count {{{r['count_ref']}}}{first} (about 99 in all at 12:34)."
    elif "next" in r:
        nxt = r["next"][0]["ref"] if r["next"] else None
        text = (
            f"The anchor is at {{{r['anchor']['ref']}}}" + (f"; next, at {{{nxt}}}." if nxt else "; nothing follows.")
            if r.get("anchor")
            else "I found no anchor."
        )
    elif "lines" in r:
        text = f"At {{{r['lines'][0]['ref']}}} someone says: {r['lines'][0]['text']}" if r["lines"] else "Nothing is said."
    else:
        ev = r.get("events") or []
        text = f"It is seen from {{{ev[0]['ref']}}} to {{{ev[0]['ref']}.end}}." if ev else "I found nothing."
    return reply({"content": text}, "stop")


def build_app(state: ServerState) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": state.model, "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        state.requests.append(body)
        prompt, usage = state.prefix_cache(body["messages"])
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        model = body.get("model", state.model)
        if model == "error":
            return JSONResponse({"error": {"message": "model exploded"}}, status_code=500)
        if body.get("tools"):
            return JSONResponse(tool_reply(body, model))
        user = body["messages"][-1]["content"]
        texts = [part["text"] for part in user if part["type"] == "text"] if isinstance(user, list) else [user]
        timeline = [line for line in "\n".join(texts).splitlines() if line.startswith("- [")]
        if timeline:
            answer = "From the timeline: " + " ".join(f"{line[2:].split(']')[0]}] {line.split(' ', 2)[-1].split(':', 1)[0]}." for line in timeline[:3])
        else:
            answer = "I cannot tell from what I was given."
        if model == "slow":  # long enough (~20 s) that a Stop always lands mid-stream
            answer += " The person is then seen again near the door, and the scene stays calm afterwards." * 6
        words = re.findall(r"\S+\s*", answer)
        delay = 0.3 if model == "slow" else 0.0

        async def events():
            try:
                for i, word in enumerate(words):
                    if model == "drop" and i == 3:
                        raise ConnectionResetError("dropped")
                    chunk = {
                        "id": "x",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
                    }
                    yield f"data: {json.dumps(chunk)}\n\n"
                    if delay:
                        await asyncio.sleep(delay)
                done = {
                    "id": "x",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
                yield f"data: {json.dumps(done)}\n\n"
                state.cache.append(prompt + flatten([{"role": "assistant", "content": answer}]))
                if include_usage:
                    last = {
                        "id": "x",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [],
                        "usage": {
                            "prompt_tokens": usage["prompt_tokens"],
                            "completion_tokens": len(words),
                            "total_tokens": usage["prompt_tokens"] + len(words),
                            "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"]},
                        },
                    }
                    yield f"data: {json.dumps(last)}\n\n"
                yield "data: [DONE]\n\n"
            except (asyncio.CancelledError, GeneratorExit):  # cancelled while waiting, or closed when a send found the client gone
                state.disconnected.set()
                raise

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


class OpenAICompatibleServer:
    def __init__(self):
        self.state = ServerState()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.state), host="127.0.0.1", port=self.port, log_level="critical"
        )  # a dropped stream is a test case, not an error to print
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "OpenAICompatibleServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
