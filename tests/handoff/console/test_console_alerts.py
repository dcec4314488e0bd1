"""Emergency alerts over a real server and real console sockets (SQLite and PostgreSQL).

A resident writes an emergency on the web chat; the engine opens the case; every on-duty
counselor of its pool and every signed-in supervisor gets an ``alert`` frame at once, a
counselor of another pool does not, and one ``case.alert`` audit record (ids and the number
reached) is written — once, also with two app workers hearing the same notice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

from app.wiring import Runtime
from handoff import ownership
from handoff.console.alerts import ALERT_ACTION, raise_alert
from handoff.console.texts import text
from handoff.console.views import pseudonym
from handoff.models import Case
from handoff.pools import load_config
from storage.db import Database
from storage.models import AuditRecord
from tests.channels.web_support import ScriptedNlu, serve_app, web_settings
from tests.handoff.console.support import Console, add_account
from tests.handoff.support import make_case

DV_EMERGENCY = "夫に首を絞められた"  # lexicon dv.emergency.strangle → pool dv
SUICIDE_EMERGENCY = "今夜首を吊ります"  # lexicon suicide.plan.hanging → pool general
BIRTH_EMERGENCY = "破水しました"  # lexicon pregnancy emergency → pool pregnancy


async def _frame(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next frame of ``kind`` (queue snapshots in between are skipped)."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if frame.get("type") == kind:
            return frame


async def _resident_writes(
    http: httpx.AsyncClient, url: str, message: str, session: str | None = None
) -> str:
    """A web resident (a new one unless ``session`` is given) sends ``message``."""
    if session is None:
        session = (await http.post(f"{url}/api/chat/sessions", json={})).json()["session"]
    sent = await http.post(
        f"{url}/api/chat/messages",
        json={"text": message, "language": "ja"},
        headers={"Authorization": f"Bearer {session}"},
    )
    assert sent.status_code == 200, sent.text
    return session


async def _case_in(runtime: Runtime, pool: str) -> Case:
    async with runtime.database.session() as s:
        case = await s.scalar(select(Case).where(Case.pool == pool))
        assert case is not None
        return case


async def _alerts(database: Database) -> list[tuple[str, str, str]]:
    async with database.session() as s:
        rows = (
            await s.execute(
                select(AuditRecord.actor, AuditRecord.role, AuditRecord.reason)
                .where(AuditRecord.action == ALERT_ACTION)
                .order_by(AuditRecord.id)
            )
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


async def _signed_in_socket(
    stack: AsyncExitStack, url: str, login: str
) -> tuple[Console, ClientConnection]:
    console = Console(url)
    stack.push_async_callback(console.aclose)
    assert (await console.login(login)).status_code == 303
    cookie = console.http.cookies.get("tsunagu_console")
    ws = await stack.enter_async_context(
        connect(
            url.replace("http://", "ws://") + "/console/ws",
            additional_headers={"Cookie": f"tsunagu_console={cookie}"},
        )
    )
    await _frame(ws, "queue")  # subscribed: the first snapshot comes after the subscription
    return console, ws


@pytest.fixture
async def served(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[str, Runtime]]:
    async with serve_app(web_settings(tmp_path, database_url), ScriptedNlu()) as (url, _, rt):
        yield url, rt


async def test_pool_counselors_and_supervisors_are_alerted_others_not(
    served: tuple[str, Runtime],
) -> None:
    url, runtime = served
    database = runtime.database
    await add_account(database, "dv1", pools="dv")
    await add_account(database, "gen1", pools="general")
    await add_account(database, "boss", role="supervisor", pools="general")
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        _, dv_ws = await _signed_in_socket(stack, url, "dv1")
        _, gen_ws = await _signed_in_socket(stack, url, "gen1")
        _, boss_ws = await _signed_in_socket(stack, url, "boss")

        resident = await _resident_writes(http, url, DV_EMERGENCY)
        dv_case = await _case_in(runtime, "dv")
        assert dv_case.urgency == 2
        for ws in (dv_ws, boss_ws):
            alert = await _frame(ws, "alert")
            assert alert["case_id"] == dv_case.id
            assert alert["name"] == pseudonym(dv_case.id)
            assert alert["href"] == f"/console/cases/{dv_case.id}"
            assert alert["title"] == text("alert_title")
            assert "緊急" in alert["message"] and "DV相談" in alert["message"]
            assert DV_EMERGENCY not in json.dumps(alert, ensure_ascii=False)

        # The general counselor's first alert is the later general case, not the DV one.
        await _resident_writes(http, url, SUICIDE_EMERGENCY)
        general_case = await _case_in(runtime, "general")
        assert (await _frame(gen_ws, "alert"))["case_id"] == general_case.id
        assert (await _frame(boss_ws, "alert"))["case_id"] == general_case.id

        # The resident writes again: the same case, still an emergency, no second alert.
        await _resident_writes(http, url, DV_EMERGENCY, resident)
        assert (await _case_in(runtime, "dv")).id == dv_case.id
        # Notices are handled in order: the supervisor's next alert is the next new case.
        await _resident_writes(http, url, BIRTH_EMERGENCY)
        birth_case = await _case_in(runtime, "pregnancy")
        assert (await _frame(boss_ws, "alert"))["case_id"] == birth_case.id

    assert await _alerts(database) == [
        ("system", "system", f"case:{dv_case.id};pool:dv;to:2"),
        ("system", "system", f"case:{general_case.id};pool:general;to:2"),
        ("system", "system", f"case:{birth_case.id};pool:pregnancy;to:1"),
    ]


async def test_the_alert_is_on_every_page_until_the_case_is_claimed(
    served: tuple[str, Runtime],
) -> None:
    url, runtime = served
    await add_account(runtime.database, "dv1", pools="dv")
    await add_account(runtime.database, "gen1", pools="general")
    _, dv_case = await make_case(runtime.database, channel="web", pool="dv", urgency=2)
    _, normal_case = await make_case(runtime.database, channel="web", pool="dv", urgency=1)
    dv1, gen1 = Console(url), Console(url)
    await dv1.login("dv1")
    await gen1.login("gen1")

    link = f'href="/console/cases/{dv_case}"'
    queue = (await dv1.http.get("/console")).text
    assert 'id="alerts" class="alerts" role="alert"' in queue
    assert queue.count('class="alert-item"') == 1 and link in queue.split("<h1>")[0]
    page = (await dv1.case_page(normal_case)).text
    assert 'role="alert"' in page and text("alert_open", case=pseudonym(dv_case)) in page
    assert 'class="alert-item"' not in (await gen1.http.get("/console")).text

    assert (await dv1.post(f"/console/cases/{dv_case}/claim")).status_code == 303
    assert 'class="alert-item"' not in (await dv1.http.get("/console")).text
    await dv1.aclose()
    await gen1.aclose()


async def test_one_alert_per_case_and_pool(database: Database) -> None:
    _, normal = await make_case(database, pool="dv", urgency=1)
    assert await raise_alert(database, normal) is None
    conversation_id, case_id = await make_case(database, pool="dv", urgency=2)
    sent = await raise_alert(database, case_id)
    assert sent is not None and sent.pool == "dv" and sent.recipients == ()
    assert await raise_alert(database, case_id) is None

    # Moved to another pool (a transfer), the case alerts that pool's counselors once.
    await add_account(database, "dv1", pools="dv")
    async with database.session() as s:
        await ownership.claim(s, case_id, "dv1")
    async with database.session() as s:
        await ownership.transfer(s, load_config(), case_id, "dv1", to_pool="pregnancy")
    again = await raise_alert(database, case_id)
    assert again is not None and again.pool == "pregnancy"
    assert await raise_alert(database, case_id) is None
    assert [r[2] for r in await _alerts(database)] == [
        f"case:{case_id};pool:dv;to:0",
        f"case:{case_id};pool:pregnancy;to:0",
    ]
    async with database.session() as s:
        ids = (
            await s.scalars(
                select(AuditRecord.conversation_id).where(AuditRecord.action == ALERT_ACTION)
            )
        ).all()
    assert set(ids) == {conversation_id}


async def test_two_workers_alert_once_and_reach_sockets_on_the_other_worker(
    tmp_path: Path, postgres_url: str
) -> None:
    """PostgreSQL LISTEN/NOTIFY between two app workers on one database."""
    async with AsyncExitStack() as stack:
        url_a, _, runtime_a = await stack.enter_async_context(
            serve_app(web_settings(tmp_path / "a", postgres_url), ScriptedNlu())
        )
        url_b, _, _ = await stack.enter_async_context(
            serve_app(web_settings(tmp_path / "b", postgres_url), ScriptedNlu())
        )
        await add_account(runtime_a.database, "dv1", pools="dv")
        await add_account(runtime_a.database, "boss", role="supervisor", pools="")
        _, dv_ws = await _signed_in_socket(stack, url_b, "dv1")
        _, boss_ws = await _signed_in_socket(stack, url_a, "boss")
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))

        await _resident_writes(http, url_a, DV_EMERGENCY)
        case = await _case_in(runtime_a, "dv")
        assert (await _frame(dv_ws, "alert"))["case_id"] == case.id
        assert (await _frame(boss_ws, "alert"))["case_id"] == case.id
        # Both workers heard the notice; one recorded and sent the alert.
        await asyncio.sleep(0.5)
        assert await _alerts(runtime_a.database) == [
            ("system", "system", f"case:{case.id};pool:dv;to:2")
        ]


async def test_racing_workers_record_one_alert(postgres_url: str) -> None:
    """Two workers (two engines) try the same case at once: row lock, one winner."""
    first, second = Database(postgres_url), Database(postgres_url)
    first.migrate()
    try:
        for _ in range(5):
            _, case_id = await make_case(first, pool="dv", urgency=2)
            results = await asyncio.gather(
                raise_alert(first, case_id), raise_alert(second, case_id)
            )
            assert sum(r is not None for r in results) == 1
        assert len(await _alerts(first)) == 5
    finally:
        await first.dispose()
        await second.dispose()
