"""The console's live socket and a web resident reached by a counselor, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from app.wiring import Runtime
from handoff.console.views import pseudonym
from tests.channels.web_support import ScriptedNlu, serve_app, web_settings
from tests.handoff.console.support import Console, add_account


@pytest.fixture
async def web_app(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[str, FastAPI, Runtime]]:
    async with serve_app(web_settings(tmp_path, database_url), ScriptedNlu()) as served:
        yield served


async def _next(ws: ClientConnection, kind: str, check: Any = None) -> dict[str, Any]:
    """The next frame of ``kind`` (that passes ``check``), skipping others."""
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame.get("type") == kind and (check is None or check(frame)):
            return frame


async def test_web_resident_escalates_counselor_claims_replies_and_returns(
    web_app: tuple[str, FastAPI, Runtime],
) -> None:
    url, _app, runtime = web_app
    ws_base = url.replace("http://", "ws://")
    await add_account(runtime.database, "yamada")
    console = Console(url)
    await console.login("yamada")
    cookie = {"Cookie": f"tsunagu_console={console.http.cookies.get('tsunagu_console')}"}

    async with (
        httpx.AsyncClient(timeout=10) as http,
        connect(f"{ws_base}/console/ws", additional_headers=cookie) as live,
    ):
        empty = await _next(live, "queue")
        assert empty["queued"] == []

        session = (await http.post(f"{url}/api/chat/sessions", json={})).json()["session"]
        async with connect(f"{ws_base}/api/chat/ws") as resident:
            await resident.send(json.dumps({"type": "auth", "session": session}))
            assert (await _next(resident, "ready"))["handed_off"] is False
            await resident.send(json.dumps({"type": "message", "text": "人と話す", "id": "m1"}))
            assert (await _next(resident, "reply"))["handed_off"] is True

            # The bot opened the case; the console's queue shows it (no notice needed).
            queued = await _next(live, "queue", lambda f: len(f["queued"]) == 1)
            item = queued["queued"][0]
            case_id = item["case_id"]
            assert item["name"] == pseudonym(case_id)
            assert item["urgency_label"] in ("緊急", "高", "通常")
            assert set(item) == {
                "case_id",
                "name",
                "urgency",
                "urgency_label",
                "urgency_class",
                "pool_name",
                "status_label",
                "counselor",
                "waited_minutes",
            }

            assert (await console.post(f"/console/cases/{case_id}/claim")).status_code == 303
            claimed = await _next(live, "queue", lambda f: f["queued"] == [])
            assert [c["case_id"] for c in claimed["claimed"]] == [case_id]
            notice = await _next(resident, "message")
            assert notice["from"] == "system"

            async with connect(
                f"{ws_base}/console/ws?case={case_id}", additional_headers=cookie
            ) as watch:
                first = await _next(watch, "case")
                sent = await console.post(
                    f"/console/cases/{case_id}/reply", text="相談員の山田です。"
                )
                assert sent.status_code == 303
                message = await _next(resident, "message")
                assert (message["type"], message["from"], message["text"]) == (
                    "message",
                    "counselor",
                    "相談員の山田です。",
                )
                assert message["seq"] > notice["seq"] and message["id"] != notice["id"]
                changed = await _next(watch, "case", lambda f: f["version"] != first["version"])
                assert "相談員" not in json.dumps(changed)  # versions carry no text

            assert (await console.post(f"/console/cases/{case_id}/return")).status_code == 303
            back = await _next(resident, "message")
            assert back["from"] == "system"
            await resident.send(json.dumps({"type": "message", "text": "こんにちは", "id": "m2"}))
            assert (await _next(resident, "reply"))["replies"]  # the bot answers again
    await console.aclose()


async def test_live_socket_refuses_without_a_session(
    web_app: tuple[str, FastAPI, Runtime],
) -> None:
    url, _app, _runtime = web_app
    with pytest.raises(InvalidStatus, match="403"):
        async with connect(url.replace("http://", "ws://") + "/console/ws"):
            pass
