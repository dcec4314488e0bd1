"""End to end: a web chat escalation on a real app reaches another worker's bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.events import QUEUE_TOPIC, Notice, conversation_topic
from core.events_pg import PostgresEventBus, libpq_url
from core.events_redis import RedisEventBus
from handoff.models import Case
from storage.models import Conversation
from tests.channels.web_support import ScriptedNlu, serve_app, web_settings
from tests.events.support import GUARD_SECONDS, REDIS_URL, require_redis


@pytest.fixture(params=["redis", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, Any], Any]:
    """App settings for one backend and a second bus instance, as another worker."""
    if request.param == "redis":
        require_redis()
        return {"redis_url": REDIS_URL, "event_bus": "redis"}, RedisEventBus(REDIS_URL)
    url = str(request.getfixturevalue("postgres_url"))
    return {"database_url": url, "event_bus": "postgres"}, PostgresEventBus(libpq_url(url))


async def collect(notices: AsyncIterator[Notice], into: asyncio.Queue[Notice]) -> None:
    async for notice in notices:
        into.put_nowait(notice)


async def test_an_escalation_notice_reaches_another_worker(
    tmp_path: Path, backend: tuple[dict[str, Any], Any]
) -> None:
    extra, other_worker = backend
    settings = web_settings(tmp_path, **extra)
    async with (
        serve_app(settings, ScriptedNlu()) as (url, _app, runtime),
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        assert type(runtime.events).__name__ == type(other_worker).__name__
        session = (await http.post("/api/chat/sessions", json={})).json()["session"]
        headers = {"Authorization": f"Bearer {session}"}
        first = await http.post("/api/chat/messages", json={"text": "こんにちは"}, headers=headers)
        assert first.json()["handed_off"] is False
        async with runtime.database.session() as db:
            conversation_id = (await db.scalars(select(Conversation.id))).one()

        queue: asyncio.Queue[Notice] = asyncio.Queue()
        conversation: asyncio.Queue[Notice] = asyncio.Queue()
        try:
            async with (
                other_worker.subscribe(QUEUE_TOPIC) as queue_notices,
                other_worker.subscribe(conversation_topic(conversation_id)) as own_notices,
            ):
                tasks = [
                    asyncio.get_running_loop().create_task(collect(queue_notices, queue)),
                    asyncio.get_running_loop().create_task(collect(own_notices, conversation)),
                ]
                human = await http.post(
                    "/api/chat/messages", json={"text": "人と話す"}, headers=headers
                )
                assert human.json()["handed_off"] is True
                async with asyncio.timeout(GUARD_SECONDS):
                    while True:  # other tests may share the Redis channel: find ours
                        notice = await queue.get()
                        async with runtime.database.session() as db:
                            case = await db.get(Case, notice.get("case_id"))
                        if case is not None:
                            break
                    # The turn's notice names the replies it stored (the resident's own
                    # socket already carried them).
                    out = [reply["id"] for reply in human.json()["replies"]]
                    assert out and all(out)
                    assert await conversation.get() == {"kind": "message", "out": out}
                for task in tasks:
                    task.cancel()
        finally:
            await other_worker.aclose()
    assert case.conversation_id == conversation_id
    assert notice == {
        "case_id": case.id,
        "pool": case.pool,
        "urgency": case.urgency,
        "status": "queued",
    }
