"""Emergency alerts and the read-reason page in a real browser (Chromium, Playwright).

A counselor has the queue open; a resident on the web widget writes a DV emergency. The
alert appears at once in the queue page's role="alert" region (words and a symbol, not
colour alone) with a link to the case, stays on the case page while the case waits, and
is gone once the counselor claims it. A case of another pool opens only after a reason is
chosen. axe-core finds no violations on these pages.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from handoff.console.texts import text
from storage.db import Database
from storage.models import Conversation
from storage.transcript import Transcript
from tests.channels.test_web_widget import (
    JA,
    Watched,
    _axe_violations,
    chromium,  # noqa: F401 - the shared browser fixture
    open_chat,
)
from tests.channels.web_support import ScriptedNlu, serve_in_thread, web_settings
from tests.handoff.console.support import PASSWORD, add_account
from tests.handoff.console.test_console_browser import (  # noqa: F401 - shared fixtures
    app_url,
    two_pages,
)
from tests.handoff.support import make_case


def _sign_in(page: Page, url: str, login: str) -> None:
    page.goto(f"{url}/console/login")
    page.get_by_label("ログイン名").fill(login)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログインする").click()
    expect(page.get_by_role("heading", name="相談の一覧")).to_be_visible()


def test_an_emergency_alerts_the_open_queue_page(
    two_pages: tuple[Watched, Watched],  # noqa: F811
    app_url: str,  # noqa: F811
) -> None:
    resident, counselor = two_pages
    page = counselor.page
    _sign_in(page, app_url, "yamada")
    expect(page.locator("#alerts .alert-item")).to_have_count(0)
    expect(page.locator("#live-status")).not_to_be_empty()  # the live socket is connected

    open_chat(resident.page, app_url)
    resident.page.get_by_label(JA["message_label"]).fill("夫に首を絞められた")
    resident.page.get_by_role("button", name=JA["send"], exact=True).click()
    expect(resident.page.locator("#case-status")).to_have_text(JA["handed_off"])

    # No reload: the alert arrives over the console's socket.
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(text("alert_title"))
    expect(alert).to_contain_text("緊急")
    expect(alert).to_contain_text("DV相談")
    link = alert.get_by_role("link", name=re.compile(r"^ケース [0-9A-Z]{4} を開く$"))
    expect(link).to_be_visible()
    expect(page.locator("#queued tr .badge").first).to_have_text("緊急")
    assert _axe_violations(page) == []

    # On the case page the waiting emergency is still announced.
    link.click()
    expect(page.get_by_role("heading", name="やりとり")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(text("alert_title"))
    assert _axe_violations(page) == []
    page.get_by_role("button", name="このケースを担当する").click()
    expect(page.get_by_role("heading", name="返信する")).to_be_visible()
    expect(page.locator("#alerts .alert-item")).to_have_count(0)
    counselor.assert_clean(app_url)
    resident.assert_clean(app_url)


@pytest.fixture
def pregnancy_case(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[str, str]]:
    """The app with a DV counselor and a pregnancy case holding one message: (url, case id)."""
    settings = web_settings(tmp_path, sqlite_url)
    with serve_in_thread(settings, ScriptedNlu()) as (url, runtime):

        async def prepare() -> str:
            database = Database(settings.resolved_database_url)
            try:
                await add_account(database, "dv1", pools="dv")
                conversation_id, case_id = await make_case(
                    database, channel="web", pool="pregnancy", urgency=1
                )
                async with database.session() as s:
                    conversation = await s.get(Conversation, conversation_id)
                    assert conversation is not None
                    await Transcript(runtime.keyring).append(
                        s, conversation, direction="in", sender="resident", body="相談の本文です"
                    )
                return case_id
            finally:
                await database.dispose()

        with ThreadPoolExecutor(1) as pool:
            case_id = pool.submit(asyncio.run, prepare()).result()
        yield url, case_id


def test_another_pools_case_opens_after_choosing_a_reason(
    two_pages: tuple[Watched, Watched],  # noqa: F811
    pregnancy_case: tuple[str, str],
) -> None:
    url, case_id = pregnancy_case
    _, counselor = two_pages
    page = counselor.page
    _sign_in(page, url, "dv1")
    page.goto(f"{url}/console/cases/{case_id}")
    expect(page.get_by_role("group", name="開く理由（必須）")).to_be_visible()
    expect(page.get_by_text("相談の本文です")).to_have_count(0)
    assert _axe_violations(page) == []

    page.get_by_label(re.compile("^引き継ぎ確認")).check()
    page.get_by_role("button", name="理由を記録して開く").click()
    expect(page.locator("#transcript")).to_contain_text("相談の本文です")
    expect(page.get_by_text(text("read_reason_banner", reason="引き継ぎ確認"))).to_be_visible()
    expect(page.get_by_role("button", name="このケースを担当する")).to_have_count(0)
    assert _axe_violations(page) == []
    # The reason page itself answers 403 (nothing was read), which Chromium logs as an error.
    forbidden = "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    assert counselor.errors == [forbidden]
    counselor.errors.clear()
    counselor.assert_clean(url)
