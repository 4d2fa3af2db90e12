"""The page's library search (ui/search_panel.py).

Fast: the parsing and formatting functions, and the search behind the box on a three-video library written
directly into a home's database (real DuckDB, real Library, real per-user ownership).
Slow: the real app (two users, a preloaded clip and one user's upload, both ingested on the session's Triton)
in Debian's Chromium: a spoken word is found with its frame, a click opens that moment's video at its time, the
filters narrow the list, bad input is explained, and another user's video is never found."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import duckdb
import gradio as gr
import pytest

from orchestrator.graph import SCHEMA, Span
from synthetic_graph import LIBRARY_VIDEOS, add_video, bag_embed
from ui.search_panel import END_S, EMPTY_QUERY, SearchInputError, SearchPanel, card_html, describe_filters, parse_labels, parse_range, results_html
from ui.thumbnails import Thumbnails

# -- fast: parsing and formatting -------------------------------------------------------------


def test_time_range_reads_seconds_and_clock_times_and_explains_bad_ones():
    assert parse_range("", None) is None
    assert parse_range("90", "2:00") == Span(90.0, 120.0)
    assert parse_range("1:00:00", "") == Span(3600.0, END_S)  # an empty To is the end
    assert parse_range("0:30", "0") == Span(30.0, END_S)  # so is a zero one, as in the events table
    assert parse_range("", "0:45") == Span(0.0, 45.0)
    with pytest.raises(SearchInputError, match=r"From 'abc' is not a time: type seconds \(90\) or mm:ss"):
        parse_range("abc", "")
    with pytest.raises(SearchInputError, match=r"To '1:xx' is not a time"):
        parse_range("", "1:xx")
    with pytest.raises(SearchInputError, match=r"To \(00:10\) is before From \(00:30\)"):
        parse_range("0:30", "10")


def test_labels_keep_their_case_and_lower_case():
    assert parse_labels("") == ()
    assert parse_labels("car") == ("car",)
    assert parse_labels("Person ,  telephone  ringing,") == ("Person", "person", "telephone ringing")


def test_filters_are_said_in_words():
    assert describe_filters("all", (), None, None) == ""
    assert describe_filters("object", ("car", "Truck", "truck"), Span(0, END_S), 1) == "object, label car or truck, from 00:00, in 1 video"


def test_a_card_names_video_time_kind_label_and_snippet_and_escapes_them():
    row = {
        "video_id": "abc123",
        "video_name": "<b>cam'1</b>.mp4",
        "t_start": 75.2,
        "t_end": 80.0,
        "kind": "object",
        "label": "car",
        "snippet": 'white car, "moving" <fast>',
    }
    card = card_html(row, "/gradio_api/file=/x/thumb.jpg")
    assert "data-vid='abc123'" in card and "data-t='75.200'" in card
    assert "01:15–01:20" in card and "object · car" in card
    assert "&lt;b&gt;cam&#x27;1&lt;/b&gt;.mp4" in card and "<b>" not in card
    assert "white car, &quot;moving&quot; &lt;fast&gt;" in card
    assert "<img src='/gradio_api/file=/x/thumb.jpg'" in card and "loading='lazy'" in card
    # no thumbnail yet (or an audio file): a placeholder naming the kind; a speech moment under a second shows one time
    speech = {**row, "kind": "speech", "label": "speech", "t_start": 3.0, "t_end": 3.5}
    card = card_html(speech, "")
    assert "<img" not in card and "vd-noframe'>speech<" in card and "00:03<" in card and "speech · speech" not in card
    assert results_html([], lambda r: "") == ""
    assert results_html([row, speech], lambda r: "").count("class='vd-hit'") == 2


# -- fast: the search behind the box, on a real library home ----------------------------------


class _NoBus:
    bus = None


class _State:
    """What the panel uses of the app's state: the library, the thumbnails, the embedder."""

    def __init__(self, library, thumbs, embed):
        self.library, self.thumbs, self.embed = library, thumbs, embed


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    from orchestrator.pipeline import database_path
    from ui.library import EVERYONE, Library

    home = tmp_path_factory.mktemp("search") / "home"
    home.mkdir()
    con = duckdb.connect(str(database_path(home)))
    con.execute(SCHEMA)
    for vid, name, duration, events in LIBRARY_VIDEOS:
        add_video(con, vid, duration, events, bag_embed, name)
    con.close()
    library = Library(home, _NoBus())
    for vid, owner in (("cam1", "ana"), ("int1", "ana"), ("cam2", EVERYONE)):
        library.graph.add_owner(vid, owner)
    thumbs = Thumbnails(home / "thumbs")
    state = _State(library, thumbs, bag_embed)
    with gr.Blocks():
        p = SearchPanel(state)
    yield p
    thumbs.close()
    library.close()


def _ids(rows):
    return {(r["video_id"], r["event_id"]) for r in rows}


def test_panel_search_finds_ranks_and_narrows_within_the_users_videos(panel):
    head, rows = panel.run("dog", "all", "", [], "", "", False, None)
    assert {r["kind"] for r in rows} == {"object", "sound", "speech"} and head.startswith(f"**{len(rows)} moments** in 2 videos for “dog”")
    assert all("key_t" in r for r in rows)  # each row knows its key frame (the events table's thumbnail)
    _, speech = panel.run("dog", "speech", "", [], "", "", False, None)
    assert _ids(speech) == {("int1", "speech:3")}
    _, cam1 = panel.run("dog", "all", "", ["cam1.mp4"], "", "", False, None)
    assert {r["video_id"] for r in cam1} == {"cam1"} and len(cam1) < len(rows)
    _, early = panel.run("person", "all", "", [], "0", "10:00", False, None)
    assert early and all(r["t_start"] <= 600 for r in early)
    _, trucks = panel.run("", "all", "Truck", [], "", "", False, None)  # filters only; the label as typed
    assert _ids(trucks) == {("cam2", "object:1")}
    head, none = panel.run("elephant", "all", "", [], "", "", False, None)
    assert none == [] and head.startswith("No moment matches “elephant”")
    head, none = panel.run("dog", "text", "", [], "", "", False, None)
    assert none == [] and "No moment matches “dog” (text)" in head


def test_panel_search_sees_only_the_users_videos(panel):
    # ana owns cam1 and the interview; cam2 was preloaded for everyone; bob has only cam2
    _, ana = panel.run("person", "all", "", [], "", "", False, "ana")
    assert {r["video_id"] for r in ana} == {"cam1", "cam2", "int1"}
    _, bob = panel.run("person", "all", "", [], "", "", False, "bob")
    assert {r["video_id"] for r in bob} == {"cam2"}
    head, none = panel.run("delivery", "all", "", [], "", "", False, "bob")  # said only in ana's interview
    assert none == [] and head.startswith("No moment matches")
    with pytest.raises(SearchInputError, match="'interview.mp4' is not in your library"):
        panel.run("delivery", "all", "", ["interview.mp4"], "", "", False, "bob")
    assert [c[1] for c in panel.choices("bob")] == ["cam2"]
    _, carol = panel.run("person", "all", "", [], "", "", False, "carol")  # a new user sees the preloaded video only
    assert {r["video_id"] for r in carol} == {"cam2"}


def test_panel_search_in_an_empty_library_says_so(tmp_path):
    from ui.library import Library

    library = Library(tmp_path / "home", _NoBus())
    thumbs = Thumbnails(tmp_path / "home" / "thumbs")
    try:
        with gr.Blocks():
            p = SearchPanel(_State(library, thumbs, bag_embed))
        with pytest.raises(SearchInputError, match="Your library is empty: upload a video first"):
            p.run("dog", "all", "", [], "", "", False, None)
    finally:
        thumbs.close()
        library.close()


def test_panel_search_explains_what_it_cannot_run(panel):
    with pytest.raises(SearchInputError) as err:
        panel.run("  ", "all", "", [], "", "", False, None)
    assert str(err.value) == EMPTY_QUERY
    with pytest.raises(SearchInputError) as err:  # a video chosen says where to look, not what for
        panel.run("", "all", "", ["cam1.mp4"], "", "", False, None)
    assert str(err.value) == EMPTY_QUERY
    with pytest.raises(SearchInputError, match=r"^“the is” has no word to search for \(words like \*the\* or \*is\* are skipped\)\. Type words"):
        panel.run("the is", "all", "", [], "", "", False, None)
    with pytest.raises(SearchInputError, match="is before From"):
        panel.run("dog", "all", "", [], "30:00", "1:00", False, None)
    with pytest.raises(SearchInputError, match="Unknown kind 'vehicle'"):
        panel.run("dog", "vehicle", "", [], "", "", False, None)


def test_panel_search_by_meaning_and_without_the_embedder(panel):
    _, words = panel.run("parcel", "all", "", [], "", "", False, None)
    head, meaning = panel.run("parcel", "all", "", [], "", "", True, None)
    assert _ids(words) <= _ids(meaning) and "words only" not in head

    def down(texts):
        raise ConnectionError("Triton is not reachable")

    panel.state.embed = down
    try:
        head, rows = panel.run("parcel", "all", "", [], "", "", True, None)
    finally:
        panel.state.embed = bag_embed
    assert _ids(rows) == _ids(words) and "The embedder did not answer, so these match words only." in head


# -- slow: the real app in a browser ------------------------------------------------------------

USERS = {"ana": "s3cret", "bob": "b0bpass"}
DOCK_SENTENCE = "The blue delivery van waits at the loading dock of the station."


def _get(url: str, user: str) -> list | dict:
    token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
    req = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _upload(url: str, user: str, path: Path) -> dict:
    """An upload through the HTTP API, as a script would (curl -F file=@...)."""
    import httpx

    with open(path, "rb") as f:
        r = httpx.post(f"{url}api/v1/videos", files={"file": (path.name, f, "video/mp4")}, auth=(user, USERS[user]), timeout=60)
    r.raise_for_status()
    return r.json()


def _wait_done(url: str, user: str, names: set[str], timeout_s: float = 300) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    videos: list = []
    while time.monotonic() < deadline:
        videos = _get(f"{url}api/v1/videos", user)
        done = {v["name"]: v["video_id"] for v in videos if v["status"] == "done"}
        if names <= set(done):
            return done
        time.sleep(1.0)
    raise AssertionError(f"not ingested in {timeout_s} s: {videos}")


@pytest.fixture(scope="module")
def dock_clip(tmp_path_factory) -> Path:
    """A 20 s still picture with one sentence at 2 s."""
    import wave

    import numpy as np
    from media_factory import RATE, synth_speech

    work = tmp_path_factory.mktemp("dock")
    audio = (np.random.default_rng(2).standard_normal(20 * RATE) * 0.001).astype(np.float32)
    pcm = synth_speech(DOCK_SENTENCE, work)
    audio[2 * RATE : 2 * RATE + len(pcm)] += pcm[: 18 * RATE] * 0.8
    wav = work / "dock.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
    out = work / "loading_dock.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=5", "-i", str(wav), "-t", "20"]
        + ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)],
        check=True,
    )
    return out


@pytest.fixture(scope="module")
def users_app(triton, redis_server, tmp_path_factory, gt_clip, dock_clip):
    """The app with two users: the ground-truth clip preloaded (everyone's), the dock clip uploaded by ana."""
    from test_ui import RunningApp

    home = tmp_path_factory.mktemp("app-search") / "home"
    auth = ",".join(f"{u}:{p}" for u, p in USERS.items())
    running = RunningApp(home, {"TRITON_URL": triton.http_url, "REDIS_URL": redis_server.url, "VDET_AUTH": auth}, ["--preload", str(gt_clip[0])])
    try:
        _wait_done(running.url, "ana", {"ground_truth.mp4"})
        _upload(running.url, "ana", dock_clip)
        running.ids = _wait_done(running.url, "ana", {"ground_truth.mp4", "loading_dock.mp4"})
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser():
    from test_ui import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


SHOTS = Path(os.environ.get("VDET_UI_SHOTS", "/tmp/ui-search-shots"))


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(browser, app, user: str, viewport=(1400, 1000)):
    page = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}).new_page()
    page.goto(app.url)
    page.wait_for_selector("input[type=password]")
    page.locator("input[type=text]").first.fill(user)
    page.locator("input[type=password]").fill(USERS[user])
    page.get_by_role("button", name=re.compile("log ?in", re.I)).click()
    page.wait_for_selector("#s-query input, #s-query textarea", timeout=30000)
    return page


def search_for(page, text: str) -> None:
    box = page.locator("#s-query input, #s-query textarea").first
    box.fill(text)
    box.press("Enter")


def hits(page) -> list[dict]:
    return page.evaluate(
        """() => [...document.querySelectorAll('#s-results a.vd-hit')].map((a) => ({
            vid: a.dataset.vid, t: parseFloat(a.dataset.t), text: a.innerText.replace(/\\s+/g, ' '),
            img: a.querySelector('img') ? a.querySelector('img').naturalWidth : -1 }))"""
    )


def wait_hits(page, ok, timeout_s: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    found = hits(page)
    while time.monotonic() < deadline and not ok(found):
        page.wait_for_timeout(250)
        found = hits(page)
    assert ok(found), (found, page.locator("#s-msg").inner_text())
    return found


def wait_message(page, pattern: str, timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = page.locator("#s-msg").inner_text()
        if re.search(pattern, text):
            return text
        page.wait_for_timeout(250)
    raise AssertionError(f"#s-msg never matched {pattern!r}; last: {text!r}")


def player(page) -> dict:
    return page.evaluate("() => { const v = document.querySelector('#player video'); return v ? {src: v.currentSrc, t: v.currentTime} : {src: '', t: -1}; }")


def wait_player(page, video_id: str, lo: float, hi: float, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    p = player(page)
    while time.monotonic() < deadline and not (video_id in p["src"] and lo <= p["t"] <= hi):
        page.wait_for_timeout(200)
        p = player(page)
    assert video_id in p["src"] and lo <= p["t"] <= hi, (video_id, lo, hi, p)
    return p


def test_search_finds_a_spoken_word_with_its_frame_and_opens_the_moment(browser, users_app, gt_clip):
    truth = gt_clip[1]
    gt, dock = users_app.ids["ground_truth.mp4"], users_app.ids["loading_dock.mp4"]
    page = login(browser, users_app, "ana")
    search_for(page, "railway")
    said = lambda h: [x for x in h if x["vid"] == gt and " speech " in x["text"] and "railway station" in x["text"].lower()]  # noqa: E731
    found = wait_hits(page, lambda h: said(h) and said(h)[0]["img"] > 0, 30)  # the moment it is said, with its key frame once made
    first = said(found)[0]
    assert "ground_truth.mp4" in first["text"] and truth.speech[0] - 1.5 <= first["t"] <= truth.speech[0] + 1.5
    assert all(h["vid"] != dock for h in found) and all(h["img"] > 0 for h in found)  # the scene's frame too
    index = found.index(first)
    assert re.search(r"moments? in 1 video for “railway”, \d+ ms", page.locator("#s-msg").inner_text())
    shot(page, "01-search-results")
    # the page opened the newest video (the dock clip): the click opens the other video at the moment
    page.wait_for_function("() => { const v = document.querySelector('#player video'); return v && v.currentSrc; }", timeout=20000)
    page.locator("#s-results a.vd-hit").nth(index).click()
    wait_player(page, gt, first["t"] - 0.2, first["t"] + 3.0)
    assert page.locator("#library input").input_value().startswith("ground_truth.mp4")
    shot(page, "02-opened-at-the-moment")
    # a moment of the video already in the player: a seek, nothing reloaded
    page.locator("#player video").evaluate("v => { v.pause(); v.currentTime = 35; }")
    page.locator("#s-results a.vd-hit").nth(index).click()
    wait_player(page, gt, first["t"] - 0.2, first["t"] + 3.0)
    # and back to the uploaded clip, by the keyboard (Tab to the result, Enter)
    search_for(page, "loading dock")
    found = wait_hits(page, lambda h: h and h[0]["vid"] == dock)
    assert "loading dock" in found[0]["text"].lower() and found[0]["t"] < 8
    page.locator("#s-results a.vd-hit").first.focus()
    page.keyboard.press("Enter")
    wait_player(page, dock, found[0]["t"] - 0.2, found[0]["t"] + 3.0)
    page.close()


def test_filters_narrow_the_results_and_bad_input_is_explained(browser, users_app):
    gt, dock = users_app.ids["ground_truth.mp4"], users_app.ids["loading_dock.mp4"]
    page = login(browser, users_app, "ana")
    search_for(page, "station")  # said in both videos
    both = wait_hits(page, lambda h: {x["vid"] for x in h} >= {gt, dock})
    # a time range: what goes on from 0:21 (the dock clip is 20 s long; a moment overlapping the range counts)
    page.locator("#s-filters").get_by_text("More filters").click()  # label, videos and time are folded away
    page.locator("#s-from input, #s-from textarea").first.wait_for()
    page.locator("#s-from input, #s-from textarea").first.fill("0:21")
    page.locator("#s-from input, #s-from textarea").first.press("Enter")
    later = wait_hits(page, lambda h: h and all(x["vid"] == gt for x in h))
    assert len(later) < len(both)
    assert "from 00:21" in page.locator("#s-msg").inner_text()
    # a kind: nothing of kind text says "station"
    page.locator("#s-from input, #s-from textarea").first.fill("")
    page.locator("#s-kind input").click()
    page.locator("ul[role=listbox] li", has_text="text").first.click()
    wait_message(page, r"No moment matches “station” \(text\)")
    assert hits(page) == []
    page.locator("#s-kind input").click()
    page.locator("ul[role=listbox] li", has_text="speech").first.click()
    speech = wait_hits(page, lambda h: len(h) >= 2)
    assert all("speech" in x["text"] for x in speech)
    shot(page, "03-filtered")
    # bad input: a sentence that says what to do, never a traceback or an error toast
    for typed_from, typed_to, pattern in (("abc", "", r"From 'abc' is not a time"), ("0:30", "0:10", r"To \(00:10\) is before From \(00:30\)")):
        page.locator("#s-from input, #s-from textarea").first.fill(typed_from)
        page.locator("#s-to input, #s-to textarea").first.fill(typed_to)
        page.locator("#s-go").click()
        wait_message(page, pattern)
        assert hits(page) == []
    page.locator("#s-from input, #s-from textarea").first.fill("")
    page.locator("#s-to input, #s-to textarea").first.fill("")
    page.locator("#s-kind input").click()
    page.locator("ul[role=listbox] li", has_text="all").first.click()
    search_for(page, "")
    wait_message(page, r"Type words to search for")
    search_for(page, "xylophone")
    wait_message(page, r"No moment matches “xylophone”")
    # by meaning too: the query embedded by the app's Triton embedder (a failure would fall back to words and say so)
    page.locator("#s-meaning input").check()
    search_for(page, "railway")
    said = wait_hits(page, lambda h: any(x["vid"] == gt and " speech " in x["text"] for x in h))
    assert "words only" not in page.locator("#s-msg").inner_text() and said
    assert page.locator(".toast-body").count() == 0 and "Traceback" not in page.content()
    page.close()


def test_another_users_video_is_never_found(browser, users_app):
    gt, dock = users_app.ids["ground_truth.mp4"], users_app.ids["loading_dock.mp4"]
    page = login(browser, users_app, "bob")
    search_for(page, "loading dock")  # said only in ana's upload
    wait_message(page, r"No moment matches “loading dock”")
    search_for(page, "station")
    found = wait_hits(page, lambda h: bool(h))
    assert {x["vid"] for x in found} == {gt}  # the preloaded clip is everyone's; ana's is not bob's
    # on a phone the results are one column, inside the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('#search-panel, #s-results a.vd-hit')].map((e) => e.getBoundingClientRect())
                  .filter((r) => r.width > 0 && (r.left < -1 || r.right > window.innerWidth + 1)).length"""
    )
    assert overflow == 0
    shot(page, "04-phone")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.locator("#s-filters").get_by_text("More filters").click()
    page.locator("#s-videos input").click()
    options = page.locator("ul[role=listbox] li").all_inner_texts()
    assert any("ground_truth.mp4" in o for o in options) and not any("loading_dock" in o for o in options)
    page.keyboard.press("Escape")
    # the HTTP API agrees
    assert {m["video_id"] for m in _get(f"{users_app.url}api/v1/search?q=station&semantic=false", "bob")} == {gt}
    assert dock in {m["video_id"] for m in _get(f"{users_app.url}api/v1/search?q=station&semantic=false", "ana")}
    page.close()
