"""The console sockets' shared queue snapshot: one read per notice burst, same rows per staff.

Every console socket of a process hears every queue notice (each message of a waiting
resident is one); :class:`~handoff.console.live.QueueSnapshots` answers them with one read.
These tests hold it to what the per-socket reads (``queue_rows``/``open_rows``) showed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.wiring import Runtime
from core.events import QUEUE_TOPIC, conversation_topic
from handoff import ownership
from handoff.console.auth import Staff
from handoff.console.live import QueueSnapshots
from handoff.console.resources import handoff_config
from handoff.console.views import open_rows, queue_rows
from storage.db import Database
from tests.channels.web_support import ScriptedNlu, serve_app, web_settings
from tests.handoff.console.support import Console, add_account
from tests.handoff.support import make_case


def _staff(account_id: str, login: str, role: str, pools: tuple[str, ...]) -> Staff:
    return Staff(id=account_id, login=login, display_name=login, role=role, pools=pools, csrf="")


async def _expected(database: Database, staff: Staff) -> dict[str, Any]:
    """The frame the socket sent before the snapshot existed (one read per socket)."""
    config = handoff_config()
    async with database.session() as session:
        queued = await queue_rows(session, config, staff)
        claimed = await open_rows(session, config, staff)
    return {
        "type": "queue",
        "queued": [r.as_frame() for r in queued],
        "claimed": [r.as_frame() for r in claimed],
    }


async def test_each_staff_sees_what_its_own_read_showed(database: Database) -> None:
    general_id = await add_account(database, "ippan", pools="general")
    dv_id = await add_account(database, "dv-tantou", pools="dv")
    boss_id = await add_account(database, "boss", role="supervisor", pools="general")
    await make_case(database, urgency=1, age_minutes=40)
    await make_case(database, urgency=2, age_minutes=3)
    await make_case(database, urgency=2, age_minutes=3, pool="dv")
    _, mine = await make_case(database, urgency=0, age_minutes=10)
    _, dv_held = await make_case(database, urgency=1, age_minutes=7, pool="dv")
    async with database.session() as session:
        await ownership.claim(session, mine, general_id)
    async with database.session() as session:
        await ownership.claim(session, dv_held, dv_id)

    snapshot = await QueueSnapshots().since(database, time.monotonic())
    people = (
        _staff(general_id, "ippan", "counselor", ("general",)),
        _staff(dv_id, "dv-tantou", "counselor", ("dv",)),
        _staff(boss_id, "boss", "supervisor", ("general",)),
    )
    for staff in people:
        assert snapshot.frame_for(staff) == await _expected(database, staff), staff.login
    general, dv, boss = (snapshot.frame_for(s) for s in people)
    assert len(general["queued"]) == 2 and [r["case_id"] for r in general["claimed"]] == [mine]
    assert len(dv["queued"]) == 1 and [r["case_id"] for r in dv["claimed"]] == [dv_held]
    assert len(boss["queued"]) == 3 and len(boss["claimed"]) == 2  # every pool, every claim


async def test_one_read_answers_every_socket_and_a_later_notice_reads_again(
    database: Database,
) -> None:
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM cases" in statement:
            reads.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    await make_case(database)
    snapshots = QueueSnapshots()
    noticed = time.monotonic()
    # Ten sockets heard the same notice: one read answers them all.
    answers = await asyncio.gather(*(snapshots.since(database, noticed) for _ in range(10)))
    assert len(reads) == 1
    assert all(a is answers[0] for a in answers) and answers[0].started >= noticed
    assert len(answers[0].queued) == 1

    # A case committed, then noticed: the next round must not reuse the older read.
    _, newer = await make_case(database)
    later = await snapshots.since(database, time.monotonic())
    assert len(reads) == 2
    assert newer in [r.case_id for r in later.queued] and len(later.queued) == 2
    # A periodic round accepts the recent read without touching the database.
    assert await snapshots.since(database, later.started - 1.0) is later
    assert len(reads) == 2


@pytest.fixture
async def web_app(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[str, FastAPI, Runtime]]:
    async with serve_app(web_settings(tmp_path, database_url), ScriptedNlu()) as served:
        yield served


async def test_a_reply_or_a_note_tells_the_conversation_not_the_queue(
    web_app: tuple[str, FastAPI, Runtime],
) -> None:
    url, _app, runtime = web_app
    await add_account(runtime.database, "yamada")
    conversation_id, case_id = await make_case(runtime.database, channel="web", urgency=1)
    console = Console(url)
    await console.login("yamada")
    async with (
        runtime.events.subscribe(QUEUE_TOPIC) as queue,
        runtime.events.subscribe(conversation_topic(conversation_id)) as conversation,
    ):
        for action, fields in (
            ("claim", {}),
            ("reply", {"text": "相談員です。"}),
            ("notes", {"text": "メモ"}),
            ("return", {}),
        ):
            sent = await console.post(f"/console/cases/{case_id}/{action}", **fields)
            assert sent.status_code == 303, action
        queue_kinds: list[str] = []
        conversation_kinds: list[str] = []
        async with asyncio.timeout(10):  # a guard against hanging, not a timing check
            async for notice in queue:
                queue_kinds.append(notice["kind"])
                if notice["kind"] == "release":
                    break
            async for notice in conversation:
                conversation_kinds.append(str(notice.get("kind")))
                if notice.get("kind") == "release":
                    break
    assert queue_kinds == ["claim", "release"]
    assert {"claim", "message", "note", "release"} <= set(conversation_kinds)
    await console.aclose()
