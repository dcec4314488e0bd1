"""Console sessions over real HTTP and WebSocket (SQLite and PostgreSQL): logout revokes the
cookie, a password change signs every session out, and sign-ins are limited per client IP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.wiring import Runtime
from handoff.accounts import change_password
from handoff.console.live import SESSION_ENDED
from handoff.console.texts import text
from handoff.models import CounselorAccount
from tests.channels.web_support import ScriptedNlu, serve_app, web_settings
from tests.handoff.console.support import PASSWORD, Console, add_account

LOGIN_LIMIT = 6


@pytest.fixture
async def web_app(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[str, FastAPI, Runtime]]:
    settings = web_settings(
        tmp_path, database_url, rate_limit_console_login_ip=f"{LOGIN_LIMIT}/minute"
    )
    async with serve_app(settings, ScriptedNlu()) as served:
        yield served


def _cookie(console: Console) -> str:
    value = console.http.cookies.get("tsunagu_console")
    assert value
    return value


async def test_a_logged_out_cookie_replayed_is_sent_to_the_login_page(
    web_app: tuple[str, FastAPI, Runtime],
) -> None:
    url, _app, runtime = web_app
    await add_account(runtime.database, "yamada")
    console = Console(url)
    assert (await console.login("yamada")).status_code == 303
    cookie = _cookie(console)
    headers = {"Cookie": f"tsunagu_console={cookie}"}
    ws_url = url.replace("http://", "ws://") + "/console/ws"

    async with connect(ws_url, additional_headers=headers) as live:
        assert json.loads(await live.recv())["type"] == "queue"
        assert (await console.post("/console/logout")).status_code == 303
        # The open socket is closed at its next round (it re-checks the session).
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(30):  # a guard against hanging, not a timing check
                while True:
                    await live.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == SESSION_ENDED

    # Someone who kept a copy of the cookie replays it: not signed in any more.
    replay = Console(url)
    replay.http.cookies.set("tsunagu_console", cookie, path="/console")
    queue = await replay.http.get("/console")
    assert queue.status_code == 303 and queue.headers["location"] == "/console/login"
    refused = await replay.http.post("/console/logout", data={"csrf_token": console.csrf})
    assert refused.headers["location"] == "/console/login"
    with pytest.raises(InvalidStatus, match="403"):
        async with connect(ws_url, additional_headers=headers):
            pass

    # Signing in again gives a new session; the old cookie stays dead.
    assert (await console.login("yamada")).status_code == 303
    assert _cookie(console) != cookie
    assert (await console.http.get("/console")).status_code == 200
    assert (await replay.http.get("/console")).status_code == 303
    await console.aclose()
    await replay.aclose()


async def test_a_password_change_signs_out_every_session(
    web_app: tuple[str, FastAPI, Runtime],
) -> None:
    url, _app, runtime = web_app
    await add_account(runtime.database, "yamada")
    await add_account(runtime.database, "sato")
    office, home, colleague = Console(url), Console(url), Console(url)
    for console, login in ((office, "yamada"), (home, "yamada"), (colleague, "sato")):
        assert (await console.login(login)).status_code == 303

    async with runtime.database.session() as s:
        assert await change_password(s, "yamada", "a brand new password") == 2
    for console in (office, home):
        assert (await console.http.get("/console")).status_code == 303
    assert (await colleague.http.get("/console")).status_code == 200
    assert (await office.login("yamada")).status_code == 401
    assert (await office.login("yamada", "a brand new password")).status_code == 303
    for console in (office, home, colleague):
        await console.aclose()


async def test_sign_ins_are_limited_per_client_ip(
    web_app: tuple[str, FastAPI, Runtime],
) -> None:
    url, _app, runtime = web_app
    await add_account(runtime.database, "yamada")
    await add_account(runtime.database, "sato")
    console = Console(url)
    for _ in range(LOGIN_LIMIT - 2):
        assert (await console.login("yamada", "wrong password!!")).status_code == 401
    # Trying another login from the same address counts against the same limit.
    for _ in range(2):
        assert (await console.login("sato", "wrong password!!")).status_code == 401
    limited = await console.login("sato", PASSWORD)
    assert limited.status_code == 429
    assert text("login_rate_limited") in limited.text
    assert int(limited.headers["Retry-After"]) >= 1
    assert "tsunagu_console=" not in limited.headers.get("set-cookie", "")

    # The refused attempt was not checked, so it neither signed in nor counted as a failure.
    async with runtime.database.session() as s:
        sato = await s.get(CounselorAccount, "sato")
        assert sato is not None and sato.failed_attempts == 2 and sato.locked_until is None
    # The sign-in page itself is not limited.
    assert (await console.http.get("/console/login")).status_code == 200
    await console.aclose()
