"""Queue order, positions and wait estimates on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handoff.pools import load_config
from handoff.queue import estimate_minutes, list_queue, queue_position, wait_estimate
from storage.db import Database
from tests.handoff.support import make_case

JST = ZoneInfo("Asia/Tokyo")


async def test_order_is_urgency_then_waiting_time(database: Database) -> None:
    _, calm_old = await make_case(database, urgency=1, age_minutes=60)
    _, urgent_new = await make_case(database, urgency=3, age_minutes=1)
    _, urgent_old = await make_case(database, urgency=3, age_minutes=30)
    _, dv = await make_case(database, urgency=2, age_minutes=5, pool="dv")
    async with database.session() as s:
        items = await list_queue(s)
        only_general = await list_queue(s, pools=["general"])
        positions = {c: await queue_position(s, c) for c in (calm_old, urgent_new, dv)}
    assert [i.case_id for i in items] == [urgent_old, urgent_new, dv, calm_old]
    assert [i.case_id for i in only_general] == [urgent_old, urgent_new, calm_old]
    # Positions count within the case's pool.
    assert [i.position for i in items] == [1, 2, 1, 3]
    assert positions == {calm_old: 3, urgent_new: 2, dv: 1}
    assert items[0].reasons == ("rule.test",)


def test_estimate_formula() -> None:
    assert estimate_minutes(3, 30, 2) == 45
    assert estimate_minutes(1, 30, 4) == 8  # rounded up
    assert estimate_minutes(1, 30, 0) is None


async def test_wait_estimate_open_and_closed_pool(database: Database) -> None:
    config = load_config()
    monday_4pm = datetime(2026, 11, 23, 16, tzinfo=JST)
    sunday_3am = datetime(2026, 11, 29, 3, tzinfo=JST)
    _, first = await make_case(database, pool="pregnancy", age_minutes=10, now=monday_4pm)
    _, second = await make_case(database, pool="pregnancy", age_minutes=5, now=monday_4pm)
    async with database.session() as s:
        open_now = await wait_estimate(s, config, second, at=monday_4pm, on_duty=1)
        closed = await wait_estimate(s, config, first, at=sunday_3am, on_duty=2)
        roster = await wait_estimate(s, config, first, at=monday_4pm)
    assert open_now is not None and open_now.position == 2 and open_now.open_now
    assert open_now.minutes == 2 * 30
    # Closed: counted from Monday 15:00, 36 hours away.
    assert closed is not None and not closed.open_now
    assert closed.opens_at == datetime(2026, 11, 30, 15, tzinfo=JST)
    assert closed.minutes == 36 * 60 + 15
    # Roster: 助産師 + supervisor serve the pregnancy pool.
    assert roster is not None and roster.on_duty == 2 and roster.minutes == 15
