"""The console in a real browser (Debian's Chromium, Playwright), with a resident on the widget.

A resident asks for a person on the web chat; a counselor signs in, sees the case at the top
of the queue with its urgency, claims it, replies (the widget shows the reply), and returns
the conversation to the bot. axe-core must find no violations on the console's pages.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from storage.db import Database
from tests.channels.test_web_widget import (
    JA,
    Watched,
    _axe_violations,
    _watch,
    chromium,  # noqa: F401 - the shared browser fixture
    open_chat,
    send,
)
from tests.channels.web_support import ScriptedNlu, serve_in_thread, web_settings
from tests.handoff.console.support import PASSWORD, add_account
from tests.handoff.support import make_case


@pytest.fixture
def app_url(tmp_path: Path, sqlite_url: str) -> Iterator[str]:
    settings = web_settings(tmp_path, sqlite_url)
    with serve_in_thread(settings, ScriptedNlu()) as (url, _runtime):

        async def account() -> None:
            database = Database(settings.resolved_database_url)
            try:
                await add_account(database, "yamada")
                # Someone already waiting with an ordinary request, for an hour.
                await make_case(database, channel="web", urgency=0, age_minutes=60)
            finally:
                await database.dispose()

        # Playwright's sync API keeps an event loop running in this thread: use another one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, account()).result()
        yield url


@pytest.fixture
def two_pages(chromium: Browser) -> Iterator[tuple[Watched, Watched]]:  # noqa: F811
    contexts = [
        chromium.new_context(locale="ja-JP", viewport={"width": 1024, "height": 800})
        for _ in range(2)
    ]
    yield _watch(contexts[0]), _watch(contexts[1])
    for context in contexts:
        context.close()


def test_counselor_takes_a_web_case_replies_and_returns_it(
    two_pages: tuple[Watched, Watched], app_url: str
) -> None:
    resident, counselor = two_pages
    open_chat(resident.page, app_url)
    send(resident.page, "こんにちは")
    resident.page.get_by_label(JA["message_label"]).fill("もう消えたい")
    resident.page.get_by_role("button", name=JA["send"], exact=True).click()
    expect(resident.page.locator("#case-status")).to_have_text(JA["handed_off"])

    page = counselor.page
    page.goto(f"{app_url}/console/login")
    assert _axe_violations(page) == []
    page.get_by_label("ログイン名").fill("yamada")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログインする").click()
    expect(page.get_by_role("heading", name="相談の一覧")).to_be_visible()

    # The resident in crisis comes first although the other case has waited longer.
    expect(page.locator("#queued tr .badge")).to_have_text(["高", "通常"])
    first = page.locator("#queued tr").first
    case_link = first.get_by_role("link")
    expect(case_link).to_have_text(re.compile(r"^ケース [0-9A-Z]{4}$"))
    assert _axe_violations(page) == []

    case_link.click()
    expect(page.get_by_role("heading", name="やりとり")).to_be_visible()
    expect(page.locator("#transcript")).to_contain_text("もう消えたい")
    assert _axe_violations(page) == []
    page.get_by_role("button", name="このケースを担当する").click()
    expect(page.get_by_role("heading", name="返信する")).to_be_visible()
    assert _axe_violations(page) == []

    page.get_by_label("メッセージ").fill("相談員の山田です。お話を聞かせてください。")
    page.get_by_role("button", name="送信する").click()
    expect(resident.page.locator(".msg--counselor .msg__text").last).to_have_text(
        "相談員の山田です。お話を聞かせてください。"
    )

    # The resident answers; the open case page shows it without a reload.
    resident.page.get_by_label(JA["message_label"]).fill("ありがとうございます")
    resident.page.get_by_role("button", name=JA["send"], exact=True).click()
    expect(page.locator("#transcript")).to_contain_text("ありがとうございます", timeout=15000)

    page.get_by_role("button", name="ボットに戻す").click()
    expect(page.get_by_role("heading", name="相談の一覧")).to_be_visible()
    expect(page.locator("#queued tr")).to_have_count(1)
    counselor.assert_clean(app_url)
    resident.assert_clean(app_url)
