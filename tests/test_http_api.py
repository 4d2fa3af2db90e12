"""The HTTP API beside the page (``ui/http_api.py``), driven by real clients — httpx, the OpenAI client and
gradio_client — against ``app.py`` started for real with two users, on the session's Triton and Redis."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest
from test_mcp import TOOLS, call_all
from test_ui import ARGS, CHROMIUM, RunningApp

ANA = ("ana", "s3cret")
BOB = ("bob", "b0b-pass")


@pytest.fixture(scope="module")
def api(triton, redis_server, tmp_path_factory, gt_clip):
    """The app with two users and the ground-truth clip uploaded by ana through the API, ingested."""
    home = tmp_path_factory.mktemp("api") / "home"
    env = {"TRITON_URL": triton.http_url, "REDIS_URL": redis_server.url, "VDET_AUTH": f"{ANA[0]}:{ANA[1]},{BOB[0]}:{BOB[1]}"}
    running = RunningApp(home, env, ["--max-upload-mb", "50"])
    path, truth = gt_clip
    try:
        with httpx.Client(base_url=running.url, auth=ANA, timeout=120) as client:
            with open(path, "rb") as f:
                r = client.post("/api/v1/videos", files={"file": (path.name, f, "video/mp4")})
            assert r.status_code == 200, r.text
            up = r.json()
            assert up["new"] is True and up["name"] == path.name and up["progress_url"] == f"/api/v1/videos/{up['video_id']}/progress"
            events = []
            with client.stream("GET", up["progress_url"], timeout=180) as s:
                assert s.headers["content-type"].startswith("text/event-stream")
                kind = None
                for line in s.iter_lines():
                    if line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        events.append((kind, json.loads(line.split(":", 1)[1])))
                        if kind in ("done", "error", "stopped"):
                            break
        running.video_id, running.truth, running.progress, running.home = up["video_id"], truth, events, home
        yield running
    finally:
        running.stop()


def test_upload_and_progress_stream_until_done(api):
    kinds = [k for k, _ in api.progress]
    assert kinds[-1] == "done", api.progress[-3:]
    done = [d["windows_done"] for k, d in api.progress if "windows_done" in d]
    assert done == sorted(done) and done[-1] == api.progress[-1][1]["windows"] >= 1  # windows arrive in order, all of them


def test_auth_is_required_and_each_user_sees_only_their_own(api):
    with httpx.Client(base_url=api.url, timeout=30) as anon:
        r = anon.get("/api/v1/videos")
        assert r.status_code == 401 and "basic auth" in r.json()["detail"] and r.headers["www-authenticate"].startswith("Basic")
        assert anon.get("/api/v1/videos", auth=(ANA[0], "wrong")).status_code == 401
        assert anon.get("/v1/models", headers={"Authorization": f"Bearer {ANA[0]}:{ANA[1]}"}).status_code == 200  # the token form
    with httpx.Client(base_url=api.url, auth=BOB, timeout=30) as bob:
        assert bob.get("/api/v1/videos").json() == []
        r = bob.get(f"/api/v1/videos/{api.video_id}/events")
        assert r.status_code == 404 and "unknown video id" in r.json()["detail"]
        assert [m["id"] for m in bob.get("/v1/models").json()["data"]] == ["library"]
    with httpx.Client(base_url=api.url, auth=ANA, timeout=30) as ana:
        assert [v["video_id"] for v in ana.get("/api/v1/videos").json()] == [api.video_id]


def test_events_and_bad_input_are_clear(api):
    with httpx.Client(base_url=api.url, auth=ANA, timeout=60) as c:
        speech = c.get(f"/api/v1/videos/{api.video_id}/events", params={"kind": "speech"}).json()
        assert speech and all(e["kind"] == "speech" for e in speech) and "railway station" in speech[0]["text"].lower()
        late = c.get(f"/api/v1/videos/{api.video_id}/events", params={"from": "0:20"}).json()
        assert late and all(e["t_end"] >= 20 for e in late)
        r = c.get(f"/api/v1/videos/{api.video_id}/events", params={"kind": "explosion"})
        assert r.status_code == 422 and "one of object, speech" in r.json()["detail"]
        r = c.get(f"/api/v1/videos/{api.video_id}/events", params={"from": "soon"})
        assert r.status_code == 422 and "mm:ss" in r.json()["detail"]
        r = c.post(f"/api/v1/videos/{api.video_id}/ask", json={"questionn": "hi"})
        assert r.status_code == 422 and "question: Field required" in r.json()["detail"] and "send JSON like" in r.json()["detail"]
        r = c.post(f"/api/v1/videos/{api.video_id}/ask", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
        r = c.post("/api/v1/videos/nope/ask", json={"question": "hi"})
        assert r.status_code == 404 and "GET /api/v1/videos" in r.json()["detail"]
        r = c.post("/api/v1/videos", files={"file": ("notes.mp4", b"this is not a video", "video/mp4")})
        assert r.status_code == 422 and "notes.mp4" in r.json()["detail"] and "Traceback" not in r.text
        assert c.get("/api/v1/nothing-here").status_code == 404


def test_ask_json_and_streamed_with_citations_at_the_end(api):
    truth = api.truth
    with httpx.Client(base_url=api.url, auth=ANA, timeout=120) as c:
        r = c.post(f"/api/v1/videos/{api.video_id}/ask", json={"question": "When does the person appear?"})
        assert r.status_code == 200, r.text
        a = r.json()
        first = a["citations"][0]
        assert a["engine"] == "extractive" and "person" in a["answer"] and first["kind"] == "object" and first["label"] == "person"
        assert truth.person[0] - 1 <= first["t_start"] <= truth.person[1] and f"[{first['time']}]" in a["answer"]
        follow = c.post(f"/api/v1/videos/{api.video_id}/ask", json={"question": "what happened after that?", "session": a["session"]}).json()
        assert follow["session"] == a["session"] and follow["citations"] and all(x["t_start"] >= first["t_end"] - 1 for x in follow["citations"])
        seen: list[tuple[str, dict]] = []
        with c.stream("POST", f"/api/v1/videos/{api.video_id}/ask", json={"question": "What was said?", "stream": True}) as s:
            assert s.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in s.iter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    seen.append((kind, json.loads(line.split(":", 1)[1])))
        kinds = [k for k, _ in seen]
        assert kinds[0] == "start" and kinds.count("token") >= 3 and kinds[-1] == "done", kinds
        done = seen[-1][1]
        assert "".join(d["text"] for k, d in seen if k == "token") == done["answer"]  # the tokens are the answer, word by word
        assert "railway station" in done["answer"].lower() and done["citations"][0]["kind"] == "speech"
        assert c.post(f"/api/v1/videos/{api.video_id}/ask", json={"question": "hi", "session": "../etc"}).status_code == 422


def test_templates_export_search_and_library_ask(api):
    with httpx.Client(base_url=api.url, auth=ANA, timeout=180) as c:
        assert c.get("/api/v1/templates").json() == ["comprehensive", "safety", "performance", "pattern", "creative"]
        rep = c.post(f"/api/v1/videos/{api.video_id}/templates/safety", json={})
        assert rep.status_code == 200 and rep.json()["answer"]
        r = c.post(f"/api/v1/videos/{api.video_id}/templates/poetry", json={})
        assert r.status_code == 404 and "comprehensive" in r.json()["detail"]
        clip = c.post(f"/api/v1/videos/{api.video_id}/export", json={"spans": [[4, 8]]})
        assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4" and clip.content[4:8] == b"ftyp"
        r = c.post(f"/api/v1/videos/{api.video_id}/export", json={})
        assert r.status_code == 422 and "spans" in r.json()["detail"]
        moments = c.get("/api/v1/search", params={"q": "railway station"}).json()
        assert moments and moments[0]["kind"] == "speech" and moments[0]["video_id"] == api.video_id and moments[0]["time"]
        lib = c.post("/api/v1/library/ask", json={"question": "which videos have a person?"}).json()
        assert lib["searched"] == 1 and lib["citations"] and lib["citations"][0]["video_id"] == api.video_id
        assert re.search(r"ground_truth\.mp4 \[\d\d:\d\d\]", lib["answer"])
        r = c.post("/api/v1/library/ask", json={"question": "a dog?", "videos": ["someone-elses.mp4"]})
        assert r.status_code == 404 and "unknown video" in r.json()["detail"]
        status = c.get("/api/v1/status").json()
        assert status["redis"] == "up" and status["videos"] == 1 and status["triton"]["models"].get("embedder") is True


def test_openai_client_chat_completions(api):
    from openai import NotFoundError, OpenAI, UnprocessableEntityError

    client = OpenAI(base_url=f"{api.url}v1", api_key=f"{ANA[0]}:{ANA[1]}")
    ids = [m.id for m in client.models.list()]
    assert ids == ["library", api.video_id]
    messages = [{"role": "user", "content": "When does the person appear?"}]
    r = client.chat.completions.create(model=api.video_id, messages=messages)
    text = r.choices[0].message.content
    assert "person" in text and re.search(r"\[\d\d:\d\d\]", text) and r.choices[0].finish_reason == "stop"
    cites = r.model_extra["citations"]
    assert cites[0]["label"] == "person" and f"[{cites[0]['time']}]" in text
    # a follow-up the way every OpenAI client sends one (the whole conversation again) continues the same session
    messages += [{"role": "assistant", "content": text}, {"role": "user", "content": "what happened after that?"}]
    stream = client.chat.completions.create(model=api.video_id, messages=messages, stream=True)
    parts, last = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        last = chunk
    assert len(parts) >= 3 and last.choices[0].finish_reason == "stop"
    follow = last.model_extra["citations"]
    assert follow and all(c["t_start"] >= cites[0]["t_end"] - 1 for c in follow) and last.model_extra["session"] == r.model_extra["session"]
    assert re.search(r"\[\d\d:\d\d\]", "".join(parts))
    lib = client.chat.completions.create(model="library", messages=[{"role": "user", "content": "what is said about the railway station?"}], stream=True)
    lib_text = "".join(c.choices[0].delta.content or "" for c in lib if c.choices)
    assert re.search(r"ground_truth\.mp4 \[\d\d:\d\d\]", lib_text)
    by_name = client.chat.completions.create(model="Ground_Truth.mp4", messages=[{"role": "user", "content": "When does the person appear?"}])
    assert by_name.model == api.video_id and by_name.model_extra["citations"][0]["label"] == "person"  # a file name names its video
    with pytest.raises(NotFoundError, match="unknown model 'cam9'"):
        client.chat.completions.create(model="cam9", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(UnprocessableEntityError, match="end messages with the user's question"):
        client.chat.completions.create(model=api.video_id, messages=[{"role": "assistant", "content": "hi"}])


def test_docs_and_the_page_api_still_work(api):
    from gradio_client import Client

    with httpx.Client(base_url=api.url, timeout=30) as c:
        spec = c.get("/api/openapi.json").json()
        assert {"/api/v1/videos", "/api/v1/videos/{video_id}/ask", "/api/v1/search", "/v1/chat/completions"} <= set(spec["paths"])
        assert "AnswerOut" in spec["components"]["schemas"]
        page = c.get("/api/docs").text
        js = re.search(r"src=['\"]([^'\"]+swagger-ui-bundle\.js)", page).group(1)  # served here: the docs work offline
        assert js.startswith("/api/docs/static/") and "cdn." not in page and len(c.get(js).content) > 100_000
    if Path(CHROMIUM).exists():  # the docs page renders every operation in a browser, with no internet
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto(f"{api.url}api/docs")
            page.wait_for_selector(".opblock", timeout=60000)
            assert page.locator(".opblock").count() == sum(len(ops) for ops in spec["paths"].values()) >= 14
            browser.close()
    client = Client(api.url, auth=ANA, verbose=False)
    assert [v["video_id"] for v in client.predict(api_name="/videos")] == [api.video_id]


def test_mcp_server_answers_through_the_app(api, tmp_path):
    """The app holds the home (DuckDB opens it for nobody else): the MCP tools are answered by the app, signed in as ana."""
    names, results = call_all(
        api.home,
        {"VDET_AUTH": f"{ANA[0]}:{ANA[1]}"},
        [
            ("videos", {}),
            ("ask", {"question": "When does the person appear?", "video_id": api.video_id}),
            ("search", {"query": "railway station", "kinds": ["speech"]}),
            ("ask", {"question": "which videos have a person?"}),
            ("export", {"video_id": api.video_id, "spans": [[4, 8]], "out": str(tmp_path / "clip.mp4")}),
            ("ask", {"question": "hello?", "video_id": "nope"}),
        ],
    )
    assert names == TOOLS
    (e0, videos), (e1, answer), (e2, moments), (e3, library), (e4, clip), (e5, unknown) = results
    assert not any((e0, e1, e2, e3, e4)), results
    assert [v["video_id"] for v in videos] == [api.video_id]
    # the app's answer: a chat session (only the app has them) and the page's citation shape
    assert answer["session"] and answer["engine"] == "extractive" and answer["citations"][0]["label"] == "person"
    assert moments and moments[0]["kind"] == "speech" and library["citations"][0]["video_id"] == api.video_id
    assert (tmp_path / "clip.mp4").read_bytes()[4:8] == b"ftyp" and clip["bytes"] > 1000
    assert e5 and f"the app at {api.url}" in unknown and "unknown video id 'nope'" in unknown


def test_the_cli_searches_and_asks_the_library_through_the_app(api):
    """While the app holds the home, `search` and `ask --library` go through its API instead of failing on the lock."""
    import subprocess
    import sys

    env = {**os.environ, "VDET_HOME": str(api.home), "VDET_AUTH": f"{ANA[0]}:{ANA[1]}"}
    root = Path(__file__).resolve().parent.parent
    cli = [sys.executable, "-m", "orchestrator"]
    found = subprocess.run([*cli, "search", "railway station", "--json"], capture_output=True, text=True, env=env, cwd=root, timeout=120)
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert any(r["kind"] == "speech" and "railway" in r["snippet"].lower() for r in rows) and "searched by the app" in found.stderr
    assert {r["video_id"] for r in rows} == {api.video_id}
    asked = subprocess.run([*cli, "ask", "--library", "which videos have a person?", "--json"], capture_output=True, text=True, env=env, cwd=root, timeout=120)
    assert asked.returncode == 0, asked.stderr
    doc = json.loads(asked.stdout.splitlines()[-1])
    assert doc["citations"] and doc["citations"][0]["video_id"] == api.video_id and "answered by the app" in asked.stderr


@pytest.fixture()
def no_models(tmp_path):
    """The API's routes over a real library (a three-video graph written directly, no models) with Triton unreachable."""
    import duckdb
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from synthetic_graph import LIBRARY_VIDEOS, add_video

    from orchestrator.graph import SCHEMA
    from orchestrator.pipeline import database_path
    from ui.app import AppState
    from ui.http_api import api_app_kwargs
    from ui.library import Library

    home = tmp_path / "home"
    home.mkdir()
    con = duckdb.connect(str(database_path(home)))
    con.execute(SCHEMA)
    for vid, name, duration, events in LIBRARY_VIDEOS:
        add_video(con, vid, duration, events, None, name)
    con.close()

    class NoBus:
        bus = None

    library = Library(home, NoBus())
    state = AppState(library, "127.0.0.1:9", per_user=True)  # nothing listens on port 9
    client = TestClient(FastAPI(**api_app_kwargs(state, [ANA])), raise_server_exceptions=False)
    library._own("cam1", ANA[0])
    yield client
    library.close()


def test_without_models_what_needs_none_works_and_the_rest_fails_in_one_line(no_models):
    c = no_models
    assert c.get("/api/v1/videos").status_code == 401
    assert [v["name"] for v in c.get("/api/v1/videos", auth=ANA).json()] == ["cam1.mp4"]  # ana owns only cam1
    moments = c.get("/api/v1/search", params={"q": "dog", "semantic": "false"}, auth=ANA).json()
    assert moments and {m["video_id"] for m in moments} == {"cam1"}  # found by words, in ana's video only
    r = c.get("/api/v1/search", params={"q": "dog"}, auth=ANA)  # by meaning too: the embedder is on Triton, which is down
    assert r.status_code == 500 and r.json()["detail"].startswith("the server failed: ") and "\n" not in r.json()["detail"]
    r = c.get("/api/v1/search", params={"videos": "cam2"}, auth=ANA)
    assert r.status_code == 404 and "unknown video 'cam2'" in r.json()["detail"]
    r = c.get("/api/v1/search", params={"semantic": "false"}, auth=ANA)
    assert r.status_code == 422 and "give words to search for" in r.json()["detail"] and "kind=" in r.json()["detail"]
