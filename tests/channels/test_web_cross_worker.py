"""Counselor messages reach a web resident whose socket is held by another app worker.

Two real app servers share one PostgreSQL database and a Redis event bus, as two uvicorn
workers of a deployment would: the resident's widget socket is on server A, the counselor
works on server B. Whatever B stores for the resident must arrive on A's socket once, in
order, and the resident's own bot replies must not be pushed a second time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

from handoff.models import Case
from storage.models import AuditRecord
from tests.channels.web_support import ScriptedNlu, serve_app, web_settings
from tests.events.support import GUARD_SECONDS, REDIS_URL, require_redis
from tests.handoff.console.support import Console, add_account


@pytest.fixture(params=["redis", "postgres"])
def bus(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The cross-worker bus both servers use."""
    if request.param == "redis":
        require_redis()
        return {"redis_url": REDIS_URL, "event_bus": "redis"}
    return {"event_bus": "postgres"}


async def _frames_until_reply(ws: ClientConnection, reply_id: str) -> list[dict[str, Any]]:
    """Every frame up to and including the ``reply`` to ``reply_id``."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(GUARD_SECONDS):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            frames.append(frame)
            if frame["type"] == "reply" and frame.get("id") == reply_id:
                return frames


async def _next_message(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(GUARD_SECONDS):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == "message":
                return frame


@pytest.fixture
async def two_servers(
    tmp_path: Path, postgres_url: str, bus: dict[str, Any]
) -> AsyncIterator[tuple[str, str, Any]]:
    # One data directory: both servers use the same master key and pepper, as workers do.
    settings = web_settings(tmp_path, postgres_url, **bus)
    async with (
        serve_app(settings, ScriptedNlu()) as (url_a, _app_a, runtime),
        serve_app(settings, ScriptedNlu()) as (url_b, _app_b, _runtime_b),
    ):
        yield url_a, url_b, runtime


async def test_a_counselor_on_another_worker_reaches_the_resident_once(
    two_servers: tuple[str, str, Any],
) -> None:
    url_a, url_b, runtime = two_servers
    await add_account(runtime.database, "yamada")
    console = Console(url_b)
    assert (await console.login("yamada")).status_code == 303

    async with httpx.AsyncClient(timeout=10) as http:
        session = (await http.post(f"{url_a}/api/chat/sessions", json={})).json()["session"]
        async with connect(url_a.replace("http://", "ws://") + "/api/chat/ws") as resident:
            await resident.send(json.dumps({"type": "auth", "session": session}))
            assert json.loads(await resident.recv())["type"] == "ready"
            await resident.send(json.dumps({"type": "message", "text": "こんにちは", "id": "m1"}))
            await resident.send(json.dumps({"type": "message", "text": "人と話す", "id": "m2"}))
            frames = await _frames_until_reply(resident, "m1")
            frames += await _frames_until_reply(resident, "m2")
            replies = [f for f in frames if f["type"] == "reply"]
            assert replies[1]["handed_off"] is True
            reply_ids = {r["id"] for f in replies for r in f["replies"]}
            assert len(reply_ids) == sum(len(f["replies"]) for f in replies) > 0

            async with runtime.database.session() as db:
                case_id = (await db.scalars(select(Case.id))).one()
            assert (await console.post(f"/console/cases/{case_id}/claim")).status_code == 303
            claimed = await _next_message(resident)
            assert claimed["from"] == "system"

            sent = await console.post(f"/console/cases/{case_id}/reply", text="相談員の山田です。")
            assert sent.status_code == 303
            counselor = await _next_message(resident)
            assert (counselor["from"], counselor["text"]) == ("counselor", "相談員の山田です。")
            assert counselor["seq"] > claimed["seq"]

            # The resident writes on: the bot stays silent, and the socket carried nothing
            # twice — no second copy of the counselor's message, no bot reply pushed again.
            await resident.send(json.dumps({"type": "message", "text": "はい", "id": "m3"}))
            after = await _frames_until_reply(resident, "m3")
            assert after[-1]["replies"] == []
            pushed = [claimed, counselor] + [f for f in after if f["type"] == "message"]
            pushed_ids = [f["id"] for f in pushed]
            assert pushed_ids == [claimed["id"], counselor["id"]]
            assert not reply_ids & set(pushed_ids)

        # The plain-HTTP fallback (on the other worker) gets the same messages after a cursor.
        headers = {"Authorization": f"Bearer {session}"}
        polled = (
            await http.get(
                f"{url_b}/api/chat/messages",
                params={"after": claimed["seq"] - 1},
                headers=headers,
            )
        ).json()
        assert [m["id"] for m in polled["messages"]] == [claimed["id"], counselor["id"]]
        assert polled["cursor"] >= counselor["seq"]
        again = await http.get(
            f"{url_b}/api/chat/messages", params={"after": polled["cursor"]}, headers=headers
        )
        assert again.json()["messages"] == []
    await console.aclose()

    async with runtime.database.session() as db:
        reasons = (await db.scalars(select(AuditRecord.reason))).all()
    # Each read that returned text to the resident was audited before decryption.
    assert reasons.count("resident.delivery") >= 3


async def test_a_reconnecting_socket_catches_up_from_its_cursor(
    two_servers: tuple[str, str, Any],
) -> None:
    url_a, url_b, runtime = two_servers
    await add_account(runtime.database, "sato")
    console = Console(url_b)
    assert (await console.login("sato")).status_code == 303
    ws_a = url_a.replace("http://", "ws://") + "/api/chat/ws"
    async with httpx.AsyncClient(timeout=10) as http:
        session = (await http.post(f"{url_a}/api/chat/sessions", json={})).json()["session"]
        async with connect(ws_a) as resident:
            await resident.send(json.dumps({"type": "auth", "session": session}))
            await resident.recv()
            await resident.send(json.dumps({"type": "message", "text": "人と話す", "id": "m1"}))
            await _frames_until_reply(resident, "m1")
            async with runtime.database.session() as db:
                case_id = (await db.scalars(select(Case.id))).one()
            await console.post(f"/console/cases/{case_id}/claim")
            claimed = await _next_message(resident)
        # The socket is closed while the counselor writes.
        await console.post(f"/console/cases/{case_id}/reply", text="まだ いますか？")
        async with connect(ws_a) as resident:
            await resident.send(
                json.dumps({"type": "auth", "session": session, "after": claimed["seq"]})
            )
            ready = json.loads(await resident.recv())
            assert ready["type"] == "ready" and ready["cursor"] == claimed["seq"]
            missed = await _next_message(resident)
            assert (missed["from"], missed["text"]) == ("counselor", "まだ いますか？")
        # Without a cursor a new socket starts after the newest message (the history has
        # the older ones) and pushes only what comes next.
        async with connect(ws_a) as resident:
            await resident.send(json.dumps({"type": "auth", "session": session}))
            ready = json.loads(await resident.recv())
            assert ready["cursor"] == missed["seq"]
            await console.post(f"/console/cases/{case_id}/reply", text="よかった")
            assert (await _next_message(resident))["text"] == "よかった"
    await console.aclose()
