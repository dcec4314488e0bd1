"""A console claim moves the queue: the next LINE resident hears so, through the real app.

The periodic sweep is set to an hour, so the update can only come from the claim's
after-commit wake-up of the app's notice sweeper (handoff/console/notify.py).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from channels.line.simulate import build_text_event, new_user_id
from handoff.models import Case
from handoff.pools import ResidentNoticeSettings
from tests.channels.conftest import post_events, wait_for
from tests.handoff.console.conftest import ConsoleApp
from tests.handoff.console.support import Console, add_account


async def _texts(app: ConsoleApp, user: str) -> list[str]:
    return [str(m.get("text")) for m in await asyncio.to_thread(app.standin.delivered, user)]


async def test_claim_sends_the_next_resident_an_update(console_app: ConsoleApp) -> None:
    app = console_app
    notices = app.runtime.resident_notices
    assert notices is not None
    # No rate limit (the residents were just told their place); no periodic sweep.
    notices.config = notices.config.model_copy(
        update={
            "resident_notices": ResidentNoticeSettings(min_interval_seconds=0, sweep_seconds=3600)
        }
    )
    app.runtime.wake_resident_notices()  # restart its wait with the new hour-long interval
    await asyncio.sleep(0.2)

    first, second = new_user_id(), new_user_id()
    for user in (first, second):
        await post_events(
            app.http, app.url, app.standin, [build_text_event("人と話したい", user_id=user)]
        )

        async def told(user: str = user) -> bool:
            return any("ばんめ" in t for t in await _texts(app, user))

        await wait_for(told)
    assert any("2ばんめ" in t for t in await _texts(app, second))

    async with app.runtime.database.session() as s:
        rows = (await s.execute(select(Case.id, Case.created_at).order_by(Case.created_at))).all()
    first_case = rows[0][0]

    await add_account(app.runtime.database, "yamada")
    console = Console(app.url)
    try:
        await console.login("yamada")
        claimed = await console.post(f"/console/cases/{first_case}/claim")
        assert claimed.status_code == 303
    finally:
        await console.aclose()

    async def moved_up() -> list[str]:
        return [t for t in await _texts(app, second) if "すすみました" in t]

    [update] = await wait_for(moved_up)
    assert "1ばんめ" in update
    # The claimed resident gets the hand-over notice, not a queue update.
    assert not any("すすみました" in t for t in await _texts(app, first))
