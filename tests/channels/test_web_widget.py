"""The chat widget in a real browser: Debian's Chromium driven by Playwright, headless.

The app runs under uvicorn on a loopback port (NLU scripted, so turns are fast and certain).
Without /usr/bin/chromium the tests skip with the reason, except under `make test`
(TSUNAGU_REQUIRE_BROWSER=1), which installs Chromium first and must run them.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from app.wiring import Runtime
from bot.menus import default_menus
from bot.responses import Responses
from bot.types import Reply
from channels.web.texts import ui_texts
from nlu.service import free_port
from tests.channels.web_support import ScriptedNlu, serve_in_thread, web_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
JA, EN = ui_texts("ja"), ui_texts("en")
# Collects Content-Security-Policy violations the page reports (none are allowed).
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (Debian's chromium package; `make test` installs it)"
        if os.environ.get("TSUNAGU_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = web_settings(tmp_path_factory.mktemp("widget"))
    with serve_in_thread(settings, ScriptedNlu()) as (url, _runtime):
        yield url


@dataclass
class Watched:
    """A page plus what it did: every request URL, console errors, uncaught errors."""

    page: Page
    context: BrowserContext
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_clean(self, origin: str) -> None:
        assert self.errors == []
        foreign = [u for u in self.requests if not u.startswith((origin, "data:", "about:"))]
        assert foreign == [], "requests to third parties"
        assert self.page.evaluate("window.__cspViolations || []") == []


def _watch(context: BrowserContext) -> Watched:
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    watched = Watched(page, context)
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on(
        "console",
        lambda message: watched.errors.append(message.text) if message.type == "error" else None,
    )
    return watched


@pytest.fixture
def watched(chromium: Browser) -> Iterator[Watched]:
    context = chromium.new_context(locale="ja-JP", viewport={"width": 1024, "height": 800})
    yield _watch(context)
    context.close()


def open_chat(page: Page, url: str, query: str = "") -> None:
    page.goto(f"{url}/chat{query}")
    expect(page.locator("html")).to_have_attribute("data-ready", "true")


def bot_messages(page: Page) -> list[str]:
    return page.locator(".msg--bot .msg__text").all_inner_texts()


def send(page: Page, text: str, replies: int = 1) -> None:
    """Sends ``text`` and waits for the bot's ``replies`` (an escalation adds the queue status)."""
    before = page.locator(".msg--bot").count()
    page.get_by_label(JA["message_label"]).fill(text)
    page.get_by_role("button", name=JA["send"], exact=True).click()
    expect(page.locator(".msg--bot")).to_have_count(before + replies)


def smartphone_menu(responses: Responses) -> Reply:
    """What the widget's 「スマホの 使い方」 starter gets: the fixed smartphone menu."""
    menus = default_menus()
    target = menus.match("スマホの 使い方")
    assert target is not None and target.kind == "menu"
    return menus.render(menus.menu(target.ref), "ja", responses)


def test_send_a_message_and_get_the_answer(
    watched: Watched, app_url: str, responses: Responses
) -> None:
    page = watched.page
    open_chat(page, app_url)
    expect(page.locator("html")).to_have_attribute("data-transport", "socket")
    expect(page.locator("#notice")).to_be_visible()
    assert bot_messages(page) == [JA["welcome"]]
    send(page, "こんにちは")
    expect(page.locator(".msg--resident .msg__text")).to_have_text(["こんにちは"])
    assert bot_messages(page)[-1] == responses.text("ja", "greeting")
    # The input is cleared and keeps focus for the next message.
    expect(page.get_by_label(JA["message_label"])).to_have_value("")
    # Enter sends too.
    page.get_by_label(JA["message_label"]).fill("スマホの 使い方")
    page.keyboard.press("Enter")
    expect(page.locator(".msg--bot .msg__text").last).to_have_text(smartphone_menu(responses).text)
    watched.assert_clean(app_url)


def test_plain_http_when_websockets_are_blocked(
    chromium: Browser, app_url: str, responses: Responses
) -> None:
    # Some networks (proxies, old middleboxes) refuse WebSockets: the widget still works.
    context = chromium.new_context(locale="ja-JP")
    context.add_init_script(
        'window.WebSocket = class { constructor() { throw new Error("blocked"); } };'
    )
    try:
        page = _watch(context).page
        open_chat(page, app_url)
        send(page, "こんにちは")
        assert bot_messages(page)[-1] == responses.text("ja", "greeting")
        # On the fallback, and saying so (it polls for counselor messages meanwhile).
        expect(page.locator("html")).to_have_attribute("data-transport", "http")
    finally:
        context.close()


def test_quick_replies(watched: Watched, app_url: str, responses: Responses) -> None:
    page = watched.page
    open_chat(page, app_url)
    buttons = page.locator("#quick-replies button")
    expect(buttons).to_have_text(JA["starters"])
    page.get_by_role("button", name="スマホの 使い方").click()
    menu = smartphone_menu(responses)
    expect(page.locator(".msg--bot .msg__text").last).to_have_text(menu.text)
    # The bot's own quick replies replace the starters; choosing one sends it.
    expect(buttons).to_have_text(list(menu.quick_replies))
    page.get_by_role("button", name="人と話す", exact=True).click()
    expect(page.locator(".msg--resident .msg__text").last).to_have_text("人と話す")
    expect(page.locator("#case-status")).to_have_text(JA["handed_off"])
    expect(buttons).to_have_count(0)
    expect(page.get_by_label(JA["message_label"])).to_be_focused()
    watched.assert_clean(app_url)


def test_large_text_toggle(watched: Watched, app_url: str) -> None:
    page = watched.page
    open_chat(page, app_url)
    toggle = page.get_by_role("button", name=JA["text_size"])
    size = "parseFloat(getComputedStyle(document.querySelector('.msg__text')).fontSize)"
    assert page.evaluate(size) >= 18
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(size) >= 24
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("button", name=JA["text_size"])).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.evaluate(size) >= 24
    page.get_by_role("button", name=JA["text_size"]).click()
    assert page.evaluate(size) < 24


@pytest.mark.parametrize("how", ["button", "escape twice"])
def test_quick_exit_replaces_the_page_and_leaves_no_history(
    watched: Watched, app_url: str, how: str
) -> None:
    page = watched.page
    page.goto(f"{app_url}/healthz")
    open_chat(page, app_url)
    send(page, "こんにちは")
    length = page.evaluate("history.length")
    if how == "button":
        page.get_by_role("link", name=JA["quick_exit"]).click()
    else:
        page.locator("body").press("Escape")
        page.locator("body").press("Escape")
    page.wait_for_url(f"{app_url}/chat/neutral")
    assert page.evaluate("history.length") == length
    assert page.evaluate("sessionStorage.length") == 0
    assert "こんにちは" not in page.content()
    # Back goes to the page before the chat: the chat is no longer in the history.
    page.go_back()
    page.wait_for_url(f"{app_url}/healthz")


def test_session_resumes_after_reload(
    chromium: Browser, app_url: str, responses: Responses
) -> None:
    context = chromium.new_context(locale="ja-JP")
    try:
        page = _watch(context).page
        open_chat(page, app_url)
        send(page, "こんにちは")
        page.reload()
        expect(page.locator("html")).to_have_attribute("data-ready", "true")
        expect(page.locator(".msg .msg__text")).to_have_text(
            [JA["resumed"], "こんにちは", responses.text("ja", "greeting")]
        )
        send(page, "人と話す", replies=2)
        page.reload()
        expect(page.locator("html")).to_have_attribute("data-ready", "true")
        expect(page.locator(".msg--resident .msg__text")).to_have_text(["こんにちは", "人と話す"])
        expect(page.locator("#case-status")).to_have_text(JA["handed_off"])
        # Another tab has its own sessionStorage: it starts a new, empty conversation.
        other = context.new_page()
        open_chat(other, app_url)
        expect(other.locator(".msg--resident")).to_have_count(0)
        assert bot_messages(other) == [JA["welcome"]]
    finally:
        context.close()


def test_english_toggle(watched: Watched, app_url: str, responses: Responses) -> None:
    page = watched.page
    open_chat(page, app_url)
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_title(EN["page_title"])
    expect(page.get_by_role("link", name=EN["quick_exit"])).to_be_visible()
    expect(page.locator("#quick-replies button")).to_have_text(EN["starters"])
    expect(page.locator(".msg--bot .msg__who")).to_have_text([EN["sender_bot"]])
    expect(page.locator("#notice-title")).to_have_text(
        page.request.get(f"{app_url}/api/chat/notice?language=en").json()["title"]
    )
    # The bot answers in the widget's language, whatever the script of the message.
    page.get_by_label(EN["message_label"]).fill("こんにちは")
    page.get_by_role("button", name=EN["send"], exact=True).click()
    expect(page.locator(".msg--bot .msg__text").last).to_have_text(responses.text("en", "greeting"))
    # The choice survives a reload; 日本語 switches back.
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="日本語").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("link", name=JA["quick_exit"])).to_be_visible()
    watched.assert_clean(app_url)


def _axe_violations(page: Page) -> list[dict[str, Any]]:
    results = Axe().run(page)
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results.response["violations"]
    ]


def test_axe_finds_no_violations(watched: Watched, app_url: str) -> None:
    page = watched.page
    open_chat(page, app_url)
    assert _axe_violations(page) == []
    send(page, "こんにちは")
    page.get_by_role("button", name="人と話す").click()
    expect(page.locator("#case-status")).to_have_text(JA["handed_off"])
    assert _axe_violations(page) == []
    page.get_by_role("button", name=JA["text_size"]).click()
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert _axe_violations(page) == []
    page.goto(f"{app_url}/chat/neutral")
    assert _axe_violations(page) == []


@pytest.mark.parametrize(
    ("viewport", "zoom"), [({"width": 640, "height": 400}, 2), ({"width": 320, "height": 256}, 4)]
)
def test_usable_at_200_and_400_percent_zoom(
    chromium: Browser, app_url: str, responses: Responses, viewport: ViewportSize, zoom: int
) -> None:
    # A 1280×800 window at 200 % (400 %) zoom lays out in 640×400 (320×256) CSS pixels.
    context = chromium.new_context(locale="ja-JP", viewport=viewport, device_scale_factor=zoom)
    try:
        page = _watch(context).page
        open_chat(page, app_url)
        no_sideways_scroll = "document.documentElement.scrollWidth <= innerWidth"
        assert page.evaluate(no_sideways_scroll)
        for control in page.locator("button, a, textarea, summary").all():
            box = control.bounding_box()
            assert box is not None and box["height"] >= 44 and box["width"] >= 44, control
        send(page, "こんにちは")
        assert bot_messages(page)[-1] == responses.text("ja", "greeting")
        assert page.evaluate(no_sideways_scroll)
        # The way out stays on screen wherever the resident has scrolled to.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        exit_link = page.get_by_role("link", name=JA["quick_exit"])
        expect(exit_link).to_be_in_viewport()
        exit_link.click()
        page.wait_for_url(f"{app_url}/chat/neutral")
    finally:
        context.close()


class _HostPage(http.server.BaseHTTPRequestHandler):
    """A prefecture page on another origin, with a strict CSP of its own, embedding the widget."""

    app_url = ""

    def do_GET(self) -> None:
        body = (
            '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
            "<title>県からのお知らせ</title></head><body><main><h1>県からのお知らせ</h1>"
            f'<script src="{self.app_url}/chat/embed.js" async></script></main></body></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' {self.app_url}; frame-src {self.app_url}",
        )
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def embedding(tmp_path: Path) -> Iterator[tuple[str, str, Runtime]]:
    host_port = free_port()
    host_url = f"http://127.0.0.1:{host_port}"
    settings = web_settings(tmp_path, web_embed_origins=host_url)
    with serve_in_thread(settings, ScriptedNlu()) as (app_url, runtime):
        handler = type("Host", (_HostPage,), {"app_url": app_url})
        host = http.server.ThreadingHTTPServer(("127.0.0.1", host_port), handler)
        thread = threading.Thread(target=host.serve_forever, daemon=True)
        thread.start()
        try:
            yield host_url, app_url, runtime
        finally:
            host.shutdown()
            host.server_close()


def test_embed_script_on_a_prefecture_page(
    watched: Watched, embedding: tuple[str, str, Runtime], responses: Responses
) -> None:
    host_url, app_url, _runtime = embedding
    page = watched.page
    page.goto(f"{app_url}/healthz")
    page.goto(host_url)
    opener = page.get_by_role("button", name=JA["embed_open"])
    expect(opener).to_have_attribute("aria-expanded", "false")
    opener.click()
    expect(opener).to_have_attribute("aria-expanded", "true")
    frame = page.frame_locator("#tsunagu-frame")
    expect(frame.locator("html")).to_have_attribute("data-ready", "true")
    expect(frame.locator("html")).to_have_attribute("data-transport", "socket")
    frame.get_by_label(JA["message_label"]).fill("こんにちは")
    frame.get_by_role("button", name=JA["send"], exact=True).click()
    expect(frame.locator(".msg--bot .msg__text").last).to_have_text(
        responses.text("ja", "greeting")
    )
    assert page.evaluate("window.__cspViolations") == []
    length = page.evaluate("history.length")
    # Leaving from inside the frame replaces the whole prefecture page.
    frame.get_by_role("link", name=JA["quick_exit"]).click()
    page.wait_for_url(f"{app_url}/chat/neutral")
    assert page.evaluate("history.length") == length
    page.go_back()
    page.wait_for_url(f"{app_url}/healthz")


@pytest.mark.rasa
def test_widget_with_the_real_rasa(
    chromium: Browser, rasa_url: str, tmp_path: Path, responses: Responses
) -> None:
    from nlu.client import RasaClient

    settings = web_settings(tmp_path)
    with serve_in_thread(settings, RasaClient(rasa_url, timeout_seconds=5)) as (url, _runtime):
        context = chromium.new_context(locale="ja-JP")
        try:
            page = _watch(context).page
            open_chat(page, url)
            send(page, "こんにちは")
            send(page, "今夜、薬ためてたの全部飲む", replies=2)
            # The safety message first, then the resident's place in the queue.
            assert "119" in bot_messages(page)[-2] and "ばんめ" in bot_messages(page)[-1]
            expect(page.locator("#case-status")).to_have_text(JA["handed_off"])
        finally:
            context.close()


def test_the_axe_scan_does_find_problems(watched: Watched) -> None:
    # The scan above can fail: the same helper reports a page with known problems.
    watched.page.set_content('<html><body><img src="x.png"><button></button></body></html>')
    found = {v["id"] for v in _axe_violations(watched.page)}
    assert {"html-has-lang", "image-alt", "button-name"} <= found
