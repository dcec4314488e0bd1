"""The widget without a WebSocket: counselor messages still arrive, by polling, exactly once.

Debian's Chromium (Playwright) with the page's WebSocket to ``/api/chat/ws`` refused at the
network level (``route_web_socket``), so the widget is on its plain-HTTP fallback. The
resident asks for a person, a counselor claims the case and replies in the real console, and
the widget shows the reply without a reload, once; polls that find nothing leave no audit
record. When the socket comes back, polling stops; after quick exit nothing polls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, Response, WebSocketRoute, expect
from sqlalchemy import select

from core.config import Settings
from storage.db import Database
from storage.models import AuditRecord
from tests.channels.test_web_widget import (
    JA,
    Watched,
    _watch,
    chromium,  # noqa: F401 - the shared browser fixture
    open_chat,
    send,
)
from tests.channels.web_support import ScriptedNlu, serve_in_thread, web_settings
from tests.handoff.console.support import PASSWORD, add_account

POLL_PATH = "/api/chat/messages?"
COUNSELOR_TEXT = "相談員の山田です。ソケットが なくても 届きますか。"


def _run(settings: Settings, work: Callable[[Database], Any]) -> Any:
    """Runs ``work`` on its own event loop (Playwright's sync API holds this thread's)."""

    async def go() -> Any:
        database = Database(settings.resolved_database_url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


async def _delivery_reads(database: Database) -> int:
    async with database.session() as session:
        reasons = (await session.scalars(select(AuditRecord.reason))).all()
    return sum(1 for r in reasons if r == "resident.delivery")


@dataclass
class Server:
    url: str
    settings: Settings


@pytest.fixture
def server(tmp_path: Path, sqlite_url: str) -> Iterator[Server]:
    settings = web_settings(tmp_path, sqlite_url)
    with serve_in_thread(settings, ScriptedNlu()) as (url, _runtime):
        _run(
            settings,
            lambda db: add_account(db, "yamada", pools="general,dv,pregnancy,consumer,digital"),
        )
        yield Server(url, settings)


@dataclass
class SocketSwitch:
    """Refuses the page's chat WebSocket while ``blocked`` (a proxy that drops WebSockets)."""

    blocked: bool = True
    refused: int = 0
    live: WebSocketRoute | None = None

    def handle(self, ws: WebSocketRoute) -> None:
        if self.blocked:
            self.refused += 1
            ws.close(code=1001, reason="blocked")
        else:
            ws.connect_to_server()
            self.live = ws

    def drop(self) -> None:
        """Blocks again and closes the open socket, as a proxy timing it out would."""
        self.blocked = True
        assert self.live is not None
        self.live.close(code=1001, reason="dropped")


@dataclass
class Resident:
    watched: Watched
    switch: SocketSwitch
    polls: list[float] = field(default_factory=list)
    answers: list[Response] = field(default_factory=list)

    @property
    def page(self) -> Page:
        return self.watched.page

    def on_request(self, request: Request) -> None:
        if request.method == "GET" and POLL_PATH in request.url:
            self.polls.append(time.monotonic())

    def on_response(self, response: Response) -> None:
        if response.request.method == "GET" and POLL_PATH in response.url:
            self.answers.append(response)


@pytest.fixture
def resident(chromium: Browser) -> Iterator[Resident]:  # noqa: F811
    context = chromium.new_context(locale="ja-JP", viewport={"width": 1024, "height": 800})
    switch = SocketSwitch()
    context.route_web_socket("**/api/chat/ws", switch.handle)
    watched = _watch(context)
    resident = Resident(watched, switch)
    watched.page.on("request", resident.on_request)
    watched.page.on("response", resident.on_response)
    yield resident
    context.close()


def _counselor_replies(browser: Browser, url: str, text: str) -> None:
    """A counselor signs in to the console, claims the only case and writes ``text``."""
    context = browser.new_context(locale="ja-JP", viewport={"width": 1024, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{url}/console/login")
        page.get_by_label("ログイン名").fill("yamada")
        page.get_by_label("パスワード").fill(PASSWORD)
        page.get_by_role("button", name="ログインする").click()
        expect(page.get_by_role("heading", name="相談の一覧")).to_be_visible()
        page.locator("#queued tr").first.get_by_role("link").click()
        page.get_by_role("button", name="このケースを担当する").click()
        expect(page.get_by_role("heading", name="返信する")).to_be_visible()
        page.get_by_label("メッセージ").fill(text)
        page.get_by_role("button", name="送信する").click()
        expect(page.locator("#transcript")).to_contain_text(text)
    finally:
        context.close()


def _wait_for_polls(resident: Resident, more: int, timeout: float = 20.0) -> None:
    target = len(resident.polls) + more
    deadline = time.monotonic() + timeout
    while len(resident.polls) < target:
        assert time.monotonic() < deadline, "the widget stopped polling"
        resident.page.wait_for_timeout(200)


def test_counselor_reply_arrives_by_polling_once_without_a_reload(
    chromium: Browser,  # noqa: F811
    server: Server,
    resident: Resident,
) -> None:
    page = resident.page
    open_chat(page, server.url)
    expect(page.locator("html")).to_have_attribute("data-transport", "http")
    page.evaluate("window.__sameDocument = true")
    send(page, "こんにちは")
    send(page, "人と話す", replies=2)
    expect(page.locator("#case-status")).to_have_text(JA["handed_off"])
    bot_before = page.locator(".msg--bot").all_inner_texts()

    _counselor_replies(chromium, server.url, COUNSELOR_TEXT)

    counselor = page.locator(".msg--counselor .msg__text")
    expect(counselor).to_have_text([COUNSELOR_TEXT], timeout=15000)
    # Two more polls after it arrived: still once, nothing else repeated, same document.
    _wait_for_polls(resident, 2)
    expect(counselor).to_have_text([COUNSELOR_TEXT])
    assert page.locator(".msg--bot").all_inner_texts() == bot_before
    assert page.evaluate("window.__sameDocument") is True
    # It was announced: the conversation is the page's role=log (a polite live region).
    expect(page.locator("#log .msg--counselor")).to_have_count(1)
    assert page.locator("#log").get_attribute("role") == "log"
    assert resident.switch.refused >= 1
    expect(page.locator("html")).to_have_attribute("data-transport", "http")

    # Audit: one record per poll that returned text; empty polls and the skipped ids of the
    # widget's own replies read nothing.
    bodies = [r.json() for r in resident.answers if r.ok]
    with_text = [b for b in bodies if b["messages"]]
    assert len(bodies) > len(with_text) >= 1
    polled = [m for b in with_text for m in b["messages"]]
    assert {m["from"] for m in polled} <= {"counselor", "system"}
    assert [m["text"] for m in polled].count(COUNSELOR_TEXT) == 1
    assert _run(server.settings, _delivery_reads) == len(with_text)
    resident.watched.assert_clean(server.url)


def test_polling_stops_when_the_socket_is_back_and_after_quick_exit(
    server: Server, resident: Resident
) -> None:
    page = resident.page
    open_chat(page, server.url)
    expect(page.locator("html")).to_have_attribute("data-transport", "http")
    _wait_for_polls(resident, 2)
    # Polls keep a modest pace (about 4 s while the page is shown), not a tight loop.
    gaps = [b - a for a, b in zip(resident.polls[1:], resident.polls[2:], strict=False)]
    assert all(gap > 2.5 for gap in gaps)

    resident.switch.blocked = False
    expect(page.locator("html")).to_have_attribute("data-transport", "socket", timeout=20000)
    polls = len(resident.polls)
    page.wait_for_timeout(6000)
    assert len(resident.polls) == polls, "still polling with the socket open"

    # Dropped again: back to polling; quick exit then ends it for good.
    resident.switch.drop()
    expect(page.locator("html")).to_have_attribute("data-transport", "http")
    _wait_for_polls(resident, 1)
    page.get_by_role("link", name=JA["quick_exit"]).click()
    page.wait_for_url(f"{server.url}/chat/neutral")
    polls = len(resident.polls)
    page.wait_for_timeout(6000)
    assert len(resident.polls) == polls, "polling after quick exit"
