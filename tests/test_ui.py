"""The app in a real browser: Playwright drives Debian's Chromium against ``app.py`` started for real
(on the session's Triton and Redis). Screenshots go to ``out/ui-screenshots/``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO
from openai_compatible_server import OpenAICompatibleServer

from orchestrator.triton_server import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "out" / "ui-screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it)")


class RunningApp:
    def __init__(self, home: Path, env: dict, extra: list[str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(home.parent / f"app-{self.port}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "app.py", "--port", str(self.port), "--home", str(home), *(extra or [])],
                                     cwd=REPO, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"app exited: {(home.parent / f'app-{self.port}.log').read_text()[-2000:]}")
                time.sleep(0.5)
        raise RuntimeError("app did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app(triton, redis_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("app") / "home"
    running = RunningApp(home, {"TRITON_URL": triton.http_url, "REDIS_URL": redis_server.url}, ["--max-upload-mb", "50"])
    yield running
    running.stop()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def upload(page, path: Path) -> None:
    page.locator("#upload input[type=file]").set_input_files(str(path))


def wait_text(page, selector: str, pattern: str, timeout_s: float = 90) -> str:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = page.locator(selector).inner_text()
        if re.search(pattern, text):
            return text
        page.wait_for_timeout(250)
    raise AssertionError(f"{selector} never matched {pattern!r}; last text: {text!r}")


def player_time(page) -> float:
    return page.evaluate("document.querySelector('#player video') ? document.querySelector('#player video').currentTime : -1")


def test_upload_ingest_ask_cite_and_seek(browser, app, gt_clip):
    path, truth = gt_clip
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(app.url)
    upload(page, path)
    wait_text(page, "#progress", r"ingested", 120)
    shot(page, "01-ingested")
    # keyboard use: type and press Enter
    page.locator("#question textarea").fill("When does the person appear?")
    page.locator("#question textarea").press("Enter")
    wait_text(page, "#notice", r"cited moment", 30)
    answer = page.locator("#chat").inner_text()
    assert "person" in answer and "00:04" in answer
    link = page.locator("#chat a[href^='#t=']").first
    cited = float(re.search(r"#t=([0-9.]+)", link.get_attribute("href")).group(1))
    assert truth.person[0] - 1 <= cited <= truth.person[1]
    link.click()
    page.wait_for_timeout(800)
    t = player_time(page)
    assert cited - 0.1 <= t <= cited + 2.5, (cited, t)
    shot(page, "02-answer-seeked")
    # the timeline: clicking the speech bar seeks to the speech
    page.locator("#player video").evaluate("v => v.pause()")
    bars = page.locator("#timeline .js-plotly-plot .barlayer .trace")
    assert bars.count() >= 4  # person, speech, sounds, cuts/motion lanes
    speech_bar = page.locator("#timeline .js-plotly-plot .barlayer .point path").nth(0)
    speech_bar.click(force=True)
    page.wait_for_timeout(800)
    assert player_time(page) != t
    # events table, filtered to speech
    page.locator("#events-panel").click()
    page.wait_for_timeout(300)
    table = page.locator("#events").inner_text()
    assert "railway station" in table.lower()
    shot(page, "03-events")
    page.close()


def test_templates_and_follow_up(browser, app, gt_clip):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(app.url)
    page.locator("#library input").click()
    page.locator("ul[role=listbox] li", has_text="ground_truth.mp4").first.click()
    wait_text(page, "#progress", r"ingested", 60)
    page.locator("#tpl-comprehensive").click()
    wait_text(page, "#notice", r"cited moment", 30)
    assert "Scene 1" in page.locator("#chat").inner_text()
    page.locator("#question textarea").fill("What did they say?")
    page.locator("#send").click()
    wait_text(page, "#chat", r"What was said", 30)
    page.locator("#question textarea").fill("what happened after that?")
    page.locator("#send").click()
    wait_text(page, "#chat", r"after that", 30)
    shot(page, "04-template-follow-up")
    page.locator("#export").click()  # the moments the last answer cites, cut into one clip
    wait_text(page, "#notice", r"Exported \d+ cited moment", 60)
    assert ".mp4" in page.locator("#export-file").inner_text()
    page.close()


def test_sessions_do_not_see_each_other(browser, app):
    a = browser.new_context().new_page()
    b = browser.new_context().new_page()
    for page in (a, b):
        page.goto(app.url)
        page.locator("#library input").click()
        page.locator("ul[role=listbox] li", has_text="ground_truth.mp4").first.click()
        wait_text(page, "#progress", r"ingested", 60)
    a.locator("#question textarea").fill("How many people are there?")
    a.locator("#send").click()
    wait_text(a, "#notice", r"cited moment", 30)
    b.wait_for_timeout(500)
    assert "How many people" not in b.locator("#chat").inner_text()
    a.close()
    b.close()


def test_bad_uploads_get_clear_messages(browser, app, tmp_path, gt_clip):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(app.url)
    fake = tmp_path / "holiday.mp4"
    fake.write_text("not a video at all\n" * 100)
    upload(page, fake)
    msg = wait_text(page, "#upload-msg", r"Upload refused", 30)
    assert "not a media file" in msg
    shot(page, "05-bad-upload")
    # the same content again under an odd name: deduplicated, name sanitised
    odd = tmp_path / "wëird name; rm -rf (copy).mp4"
    shutil.copyfile(gt_clip[0], odd)
    upload(page, odd)
    msg = wait_text(page, "#upload-msg", r"already in the library", 30)
    page.close()


def test_question_while_ingesting_says_so(browser, app, gt_clip, tmp_path):
    long_clip = tmp_path / "long.mp4"
    listing = tmp_path / "list.txt"
    listing.write_text(f"file '{gt_clip[0]}'\n" * 6)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(long_clip)], check=True)
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(app.url)
    upload(page, long_clip)
    wait_text(page, "#progress", r"ingesting window [1-9]\d* of 12", 120)
    page.locator("#question textarea").fill("What was said?")
    page.locator("#send").click()
    text = wait_text(page, "#chat", r"Still ingesting", 30)
    assert "windows" in text
    shot(page, "06-while-ingesting")
    page.close()


def test_stop_cancels_a_streaming_answer(browser, triton, redis_server, tmp_path_factory, gt_clip):
    server = OpenAICompatibleServer().start()
    server.state.model = "slow"
    home = tmp_path_factory.mktemp("app-vlm") / "home"
    running = RunningApp(home, {"TRITON_URL": triton.http_url, "REDIS_URL": redis_server.url, "VLM_BASE_URL": server.base_url,
                                "VLM_MODEL": "slow", "VLM_API_KEY": "sk-test-SECRET-4711"}, ["--preload", str(gt_clip[0]), "-v"])
    try:
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(running.url)
        page.locator("#library input").click()
        page.locator("ul[role=listbox] li", has_text="ground_truth.mp4").first.click()
        wait_text(page, "#progress", r"ingested", 90)
        page.locator("#status-panel").click()
        wait_text(page, "#status", r"1 video, [1-9]\d* windows? ingested", 15)  # refreshed when opened, not as at page load
        status = page.locator("#status").inner_text()
        assert "vlm" in status and "centernet" in status and "analysed on this machine" in status, status  # engine, detector head, executor
        page.locator("#question textarea").fill("When does the person appear?")
        page.locator("#send").click()
        wait_text(page, "#chat", r"From the", 30)
        page.locator("#stop").click()
        wait_text(page, "#notice", r"stopped", 10)
        assert server.state.disconnected.wait(5), "the VLM request was not closed"
        shot(page, "07-stopped")
        assert "SECRET-4711" not in page.content()
        page.close()
    finally:
        running.stop()
        server.stop()
    log = (home.parent / f"app-{running.port}.log").read_text()
    assert "SECRET-4711" not in log  # the API key never reaches the logs, even at -v


def test_controls_have_labels(browser, app):
    page = browser.new_page()
    page.goto(app.url)
    page.wait_for_selector("#question textarea")
    for label in ("Upload a video", "Library", "Ask about this video", "Chat", "Player"):
        assert page.get_by_text(label, exact=True).count() >= 1, label
    # inputs are reachable by their labels (screen readers, keyboard users)
    assert page.get_by_label("Ask about this video").count() == 1
    assert page.get_by_label("Library").count() >= 1
    assert page.get_by_role("button", name="Ask").count() == 1 and page.get_by_role("button", name="Stop").count() == 1
    page.close()


def test_with_auth_users_see_only_their_own_uploads(browser, triton, redis_server, tmp_path_factory, gt_clip, media_dir):
    home = tmp_path_factory.mktemp("app-auth") / "home"
    running = RunningApp(home, {"TRITON_URL": triton.http_url, "REDIS_URL": redis_server.url, "VDET_AUTH": "ana:s3cret"})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(running.url)
        page.wait_for_selector("input[type=password]")
        page.locator("input[type=text]").first.fill("ana")
        page.locator("input[type=password]").fill("wrong")
        page.get_by_role("button", name=re.compile("log ?in", re.I)).click()
        page.wait_for_timeout(1500)
        assert page.locator("#question").count() == 0  # a wrong password does not open the app
        page.goto(running.url)
        page.wait_for_selector("input[type=password]")
        page.locator("input[type=text]").first.fill("ana")
        page.locator("input[type=password]").fill("s3cret")
        page.get_by_role("button", name=re.compile("log ?in", re.I)).click()
        page.wait_for_selector("#question textarea", timeout=30000)
        upload(page, media_dir / "bikes.mp4")
        wait_text(page, "#progress", r"ingested", 120)
        page.locator("#library input").click()
        assert page.locator("ul[role=listbox] li", has_text="bikes.mp4").count() == 1
        page.close()
    finally:
        running.stop()
    # the same library opened by another user holds nothing of ana's
    from ui.library import Library

    class NoServices:
        bus = None

    lib = Library(home, NoServices())
    try:
        assert [v["name"] for v in lib.videos("ana")] == ["bikes.mp4"] and lib.videos("bob") == []
        assert lib.may_see(lib.videos("ana")[0]["video_id"], "ana") and not lib.may_see(lib.videos("ana")[0]["video_id"], "bob")
    finally:
        lib.close()
