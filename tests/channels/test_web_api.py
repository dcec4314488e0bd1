"""The web chat's HTTP and WebSocket APIs over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.wiring import Runtime
from bot.responses import Responses
from channels.web.hub import hub_for
from channels.web.service import CHANNEL
from privacy.consent import current_notice
from storage.db import utcnow
from storage.models import AuditRecord, ConsentRecord, Conversation
from tests.channels.web_support import ScriptedNlu, serve_app, web_settings


@dataclass
class WebHarness:
    url: str
    app: FastAPI
    runtime: Runtime
    http: httpx.AsyncClient

    async def open_session(self, language: str = "ja") -> str:
        response = await self.http.post(
            f"{self.url}/api/chat/sessions", json={"language": language}
        )
        assert response.status_code == 201
        return str(response.json()["session"])

    async def say(self, session: str, text: str, **extra: Any) -> httpx.Response:
        return await self.http.post(
            f"{self.url}/api/chat/messages",
            json={"text": text, **extra},
            headers={"Authorization": f"Bearer {session}"},
        )

    async def history(self, session: str) -> httpx.Response:
        return await self.http.get(
            f"{self.url}/api/chat/history", headers={"Authorization": f"Bearer {session}"}
        )

    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/chat/ws"


async def _harness(tmp_path: Path, database_url: str, **extra: Any) -> AsyncIterator[WebHarness]:
    settings = web_settings(tmp_path, database_url, **extra)
    async with (
        serve_app(settings, ScriptedNlu()) as (url, app, runtime),
        httpx.AsyncClient(timeout=10) as http,
    ):
        yield WebHarness(url, app, runtime, http)


@pytest.fixture
async def web(tmp_path: Path, database_url: str) -> AsyncIterator[WebHarness]:
    """On SQLite and PostgreSQL: for behaviour that touches the database."""
    async for harness in _harness(tmp_path, database_url):
        yield harness


@pytest.fixture
async def sqlite_web(tmp_path: Path, sqlite_url: str) -> AsyncIterator[WebHarness]:
    """SQLite only: for validation and protocol checks that never reach the database."""
    async for harness in _harness(tmp_path, sqlite_url):
        yield harness


async def _auth(ws: ClientConnection, session: str) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "auth", "session": session}))
    return json.loads(await ws.recv())  # type: ignore[no-any-return]


async def test_session_message_and_handoff(web: WebHarness, responses: Responses) -> None:
    opened = (await web.http.post(f"{web.url}/api/chat/sessions", json={})).json()
    notice = current_notice(web.runtime.settings)
    assert opened["notice"] == {
        "version": notice.version,
        "title": notice.title("ja"),
        "body": notice.body("ja"),
    }
    assert opened["resume_minutes"] == 30
    session = opened["session"]

    hello = (await web.say(session, "こんにちは")).json()
    assert [(r["text"], r["quick_replies"]) for r in hello["replies"]] == [
        (responses.text("ja", "greeting"), ["人と話す"])
    ]
    assert all(len(r["id"]) == 36 for r in hello["replies"])  # the transcript's message ids
    assert hello["handed_off"] is False

    human = (await web.say(session, "人と話す")).json()
    assert human["handed_off"] is True
    assert human["replies"][0]["text"] == responses.text("ja", "human_request")

    english = (await web.say(session, "こんにちは", language="en")).json()
    assert english["replies"][0]["text"] == responses.text("en", "greeting")


async def test_crisis_message_gets_the_safety_message(sqlite_web: WebHarness) -> None:
    session = await sqlite_web.open_session()
    crisis = (await sqlite_web.say(session, "今夜、薬ためてたの全部飲む")).json()
    assert crisis["handed_off"] is True
    assert "119" in crisis["replies"][0]["text"]


async def test_consent_is_recorded_once_per_session(web: WebHarness) -> None:
    session = await web.open_session()
    await web.say(session, "こんにちは")
    await web.say(session, "人と話す")
    other = await web.open_session()
    await web.say(other, "こんにちは")
    async with web.runtime.database.session() as s:
        records = (await s.scalars(select(ConsentRecord))).all()
    assert len(records) == 2
    assert {r.method for r in records} == {"web_first_message"}
    assert {r.channel for r in records} == {CHANNEL}
    assert {r.notice_version for r in records} == {current_notice(web.runtime.settings).version}
    assert len({r.user_key for r in records}) == 2


BAD_MESSAGES = [
    ({"text": "あ" * 2001}, "string_too_long"),
    ({"text": ""}, "string_too_short"),
    ({"text": "   "}, "value_error"),
    ({"text": "こんにちは", "language": "fr"}, "literal_error"),
    ({"words": "こんにちは"}, "missing"),
]


async def test_bad_messages_get_422(sqlite_web: WebHarness) -> None:
    session = await sqlite_web.open_session()
    for body, problem in BAD_MESSAGES:
        response = await sqlite_web.http.post(
            f"{sqlite_web.url}/api/chat/messages",
            json=body,
            headers={"Authorization": f"Bearer {session}"},
        )
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["type"] == problem
    assert (await sqlite_web.say(session, "あ" * 2000)).status_code == 200


async def test_tokens_not_issued_by_the_server_are_refused(sqlite_web: WebHarness) -> None:
    session = await sqlite_web.open_session()
    random_part, _, mac = session.partition(".")
    forged = f"{'A' * 43}.{mac}"
    for token in ("x", "A" * 87, forged, f"{random_part}.{'A' * 43}"):
        response = await sqlite_web.say(token, "こんにちは")
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"] == "Bearer"
        assert (await sqlite_web.history(token)).status_code == 401
    no_header = await sqlite_web.http.post(
        f"{sqlite_web.url}/api/chat/messages", json={"text": "こんにちは"}
    )
    assert no_header.status_code == 401


async def test_history_resumes_the_own_conversation_with_an_audit_record(
    web: WebHarness, responses: Responses
) -> None:
    session = await web.open_session()
    assert (await web.history(session)).json()["messages"] == []
    await web.say(session, "こんにちは")
    await web.say(session, "人と話す")
    other = await web.open_session()
    await web.say(other, "スマホの 使い方")

    history = (await web.history(session)).json()
    *messages, status = [(m["from"], m["text"]) for m in history["messages"]]
    assert messages == [
        ("resident", "こんにちは"),
        ("bot", responses.text("ja", "greeting")),
        ("resident", "人と話す"),
        ("bot", responses.text("ja", "human_request")),
    ]
    assert status[0] == "bot" and "1ばんめ" in status[1]  # the place in the queue
    assert history["handed_off"] is True
    assert all(m["at"].endswith("Z") or "+00:00" in m["at"] for m in history["messages"])
    other_history = (await web.history(other)).json()
    assert other_history["messages"][0]["text"] == "スマホの 使い方"
    assert other_history["handed_off"] is False

    async with web.runtime.database.session() as s:
        audits = (await s.scalars(select(AuditRecord))).all()
    assert [(a.actor, a.role, a.reason, a.action) for a in audits] == [
        ("resident", "system", "resident.resume", "transcript.read")
    ] * 2


async def test_history_after_the_resume_window_is_gone(web: WebHarness) -> None:
    session = await web.open_session()
    await web.say(session, "こんにちは")
    assert (await web.history(session)).status_code == 200
    async with web.runtime.database.session() as s:
        await s.execute(update(Conversation).values(updated_at=utcnow() - timedelta(minutes=31)))
    response = await web.history(session)
    assert response.status_code == 410
    # Writing on is still possible: the conversation continues, only the reload view expired.
    assert (await web.say(session, "こんにちは")).status_code == 200
    assert (await web.history(session)).status_code == 200


async def test_resume_disabled_with_zero_minutes(tmp_path: Path, sqlite_url: str) -> None:
    async for web in _harness(tmp_path, sqlite_url, web_session_resume_minutes=0):
        session = await web.open_session()
        await web.say(session, "こんにちは")
        assert (await web.history(session)).status_code == 410


async def test_per_resident_rate_limit(tmp_path: Path, sqlite_url: str) -> None:
    async for web in _harness(tmp_path, sqlite_url, rate_limit_chat_user="2/minute"):
        session = await web.open_session()
        assert (await web.say(session, "こんにちは")).status_code == 200
        assert (await web.say(session, "こんにちは")).status_code == 200
        limited = await web.say(session, "こんにちは")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        # Another resident is not affected.
        assert (await web.say(await web.open_session(), "こんにちは")).status_code == 200
        async with connect(web.ws_url()) as ws:
            assert (await _auth(ws, session))["type"] == "ready"
            await ws.send(json.dumps({"type": "message", "text": "こんにちは", "id": "r1"}))
            error = json.loads(await ws.recv())
            assert (error["type"], error["code"], error["id"]) == ("error", "rate_limited", "r1")


async def test_socket_turns_and_refused_frames(
    sqlite_web: WebHarness, responses: Responses
) -> None:
    session = await sqlite_web.open_session()
    async with connect(sqlite_web.ws_url()) as ws:
        ready = await _auth(ws, session)
        assert ready["type"] == "ready" and ready["handed_off"] is False

        await ws.send(json.dumps({"type": "message", "text": "人と話す", "id": "m1"}))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "reply" and reply["id"] == "m1"
        assert reply["handed_off"] is True
        assert reply["replies"][0]["text"] == responses.text("ja", "human_request")

        await ws.send("{not json")
        bad = json.loads(await ws.recv())
        assert bad["type"] == "error" and bad["code"] == "invalid_frame"
        await ws.send(json.dumps({"type": "message", "text": "あ" * 2001, "id": "m2"}))
        too_long = json.loads(await ws.recv())
        assert (too_long["code"], too_long["id"]) == ("invalid_frame", "m2")
        assert "2000" in too_long["detail"]
        await ws.send(json.dumps({"type": "message", "text": "x" * 20_000}))
        assert json.loads(await ws.recv())["code"] == "frame_too_large"
        await ws.send(b"\x00binary")
        assert json.loads(await ws.recv())["code"] == "invalid_frame"

        # The socket is still usable after refused frames.
        await ws.send(json.dumps({"type": "message", "text": "こんにちは", "id": "m3"}))
        assert json.loads(await ws.recv())["id"] == "m3"


async def test_hub_delivers_pushes_to_open_sockets_only(web: WebHarness) -> None:
    hub = hub_for(web.app)
    session = await web.open_session()
    assert (await web.say(session, "人と話す")).json()["handed_off"]
    async with web.runtime.database.session() as s:
        conversation_id = (await s.scalars(select(Conversation.id))).one()
    counselor = {"type": "message", "from": "counselor", "text": "相談員です。"}
    assert await hub.deliver(conversation_id, counselor) is False  # nobody listening yet
    async with connect(web.ws_url()) as ws:
        assert (await _auth(ws, session))["handed_off"] is True
        assert hub.listening(conversation_id) == 1
        assert await hub.deliver(conversation_id, counselor) is True
        assert json.loads(await ws.recv()) == counselor
        assert await hub.deliver(conversation_id, {"type": "status", "queue_position": 3})
        assert json.loads(await ws.recv()) == {"type": "status", "queue_position": 3}
        assert await hub.deliver("another-conversation", counselor) is False
    await wait_until(lambda: hub.listening(conversation_id) == 0)
    assert await hub.deliver(conversation_id, counselor) is False


async def test_a_socket_opened_before_the_first_message_gets_pushes(sqlite_web: WebHarness) -> None:
    hub = hub_for(sqlite_web.app)
    session = await sqlite_web.open_session()
    async with connect(sqlite_web.ws_url()) as ws:
        assert (await _auth(ws, session))["type"] == "ready"
        await ws.send(json.dumps({"type": "message", "text": "人と話す", "id": "m1"}))
        assert json.loads(await ws.recv())["handed_off"] is True
        async with sqlite_web.runtime.database.session() as s:
            conversation_id = (await s.scalars(select(Conversation.id))).one()
        assert await hub.deliver(conversation_id, {"type": "status", "state": "with_counselor"})
        assert json.loads(await ws.recv())["state"] == "with_counselor"


async def test_a_second_socket_gets_the_other_sockets_bot_replies_once(
    web: WebHarness, responses: Responses
) -> None:
    """Two tabs of one session: the tab that wrote gets its reply once and no push of it;
    the other tab gets the same bot messages pushed, once each, in order."""
    session = await web.open_session()
    assert (await web.say(session, "こんにちは")).status_code == 200  # the conversation exists
    async with connect(web.ws_url()) as writer, connect(web.ws_url()) as other:
        assert (await _auth(writer, session))["cursor"] == 2
        assert (await _auth(other, session))["cursor"] == 2
        await writer.send(json.dumps({"type": "message", "text": "スマホの 使い方", "id": "w1"}))
        reply = json.loads(await writer.recv())
        assert reply["type"] == "reply" and reply["id"] == "w1"
        ids = [r["id"] for r in reply["replies"]]
        pushed = [json.loads(await other.recv()) for _ in ids]
        assert [(p["type"], p["from"], p["id"]) for p in pushed] == [
            ("message", "bot", i) for i in ids
        ]
        assert [p["text"] for p in pushed] == [r["text"] for r in reply["replies"]]
        assert [p["seq"] for p in pushed] == sorted(p["seq"] for p in pushed)
        # Nothing more on either socket: the writer's next frame is its next reply.
        await writer.send(json.dumps({"type": "message", "text": "こんにちは", "id": "w2"}))
        assert json.loads(await writer.recv())["id"] == "w2"
        greeting = json.loads(await other.recv())
        assert (greeting["from"], greeting["text"]) == ("bot", responses.text("ja", "greeting"))
        assert greeting["id"] not in ids


async def test_http_fallback_reads_messages_after_a_cursor(web: WebHarness) -> None:
    session = await web.open_session()
    headers = {"Authorization": f"Bearer {session}"}
    empty = (await web.http.get(f"{web.url}/api/chat/messages", headers=headers)).json()
    assert (empty["messages"], empty["cursor"]) == ([], 0)
    reply = (await web.say(session, "こんにちは")).json()
    polled = (await web.http.get(f"{web.url}/api/chat/messages", headers=headers)).json()
    assert [m["id"] for m in polled["messages"]] == [r["id"] for r in reply["replies"]]
    assert all(m["from"] == "bot" for m in polled["messages"])
    later = await web.http.get(
        f"{web.url}/api/chat/messages", params={"after": polled["cursor"]}, headers=headers
    )
    assert later.json()["messages"] == []
    assert (await web.http.get(f"{web.url}/api/chat/messages")).status_code == 401
    async with web.runtime.database.session() as s:
        reasons = (await s.scalars(select(AuditRecord.reason))).all()
    assert reasons == ["resident.delivery"]  # only the poll that returned text read it


async def test_http_fallback_skips_the_replies_the_widget_shows(web: WebHarness) -> None:
    # A polling widget names the replies it got from its own POST: nothing is read or sent
    # again, no audit record is written, and the cursor still moves past them.
    session = await web.open_session()
    headers = {"Authorization": f"Bearer {session}"}
    reply = (await web.say(session, "こんにちは")).json()
    ids = [r["id"] for r in reply["replies"]]
    polled = await web.http.get(
        f"{web.url}/api/chat/messages", params={"after": 0, "skip": ids}, headers=headers
    )
    assert polled.status_code == 200
    assert polled.json()["messages"] == []
    assert polled.json()["cursor"] == len(ids) + 1  # the resident's message and the replies
    async with web.runtime.database.session() as s:
        assert (await s.scalars(select(AuditRecord.reason))).all() == []
    # Skipping one of two replies returns (and reads) only the other.
    second = (await web.say(session, "人と話す")).json()
    assert len(second["replies"]) == 2  # the hand-over reply and the queue notice
    later = await web.http.get(
        f"{web.url}/api/chat/messages",
        params={"after": polled.json()["cursor"], "skip": second["replies"][0]["id"]},
        headers=headers,
    )
    expected = [r["id"] for r in second["replies"][1:]]
    assert [m["id"] for m in later.json()["messages"]] == expected
    async with web.runtime.database.session() as s:
        reads = (await s.scalars(select(AuditRecord.reason))).all()
    assert reads == ["resident.delivery"]
    for bad in (["not-an-id"], [ids[0]] * 21):
        refused = await web.http.get(
            f"{web.url}/api/chat/messages", params={"skip": bad}, headers=headers
        )
        assert refused.status_code == 422


async def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_socket_needs_a_valid_session_first(sqlite_web: WebHarness) -> None:
    for first in (
        {"type": "message", "text": "こんにちは"},
        {"type": "auth", "session": "A" * 43 + "." + "B" * 43},
    ):
        async with connect(sqlite_web.ws_url()) as ws:
            await ws.send(json.dumps(first))
            error = json.loads(await ws.recv())
            assert error["type"] == "error"
            assert error["code"] in ("not_authenticated", "invalid_session")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_openapi_documents_http_and_socket(sqlite_web: WebHarness) -> None:
    schema = (await sqlite_web.http.get(f"{sqlite_web.url}/openapi.json")).json()
    for path in ("/api/chat/sessions", "/api/chat/messages", "/api/chat/history", "/api/chat/ws"):
        assert path in schema["paths"], path
    assert set(schema["paths"]["/api/chat/messages"]) == {"get", "post"}
    components = schema["components"]["schemas"]
    for name in ("AuthFrame", "MessageFrame", "ReplyFrame", "CounselorMessageFrame", "StatusFrame"):
        assert name in components, name
    assert components["MessageIn"]["properties"]["text"]["maxLength"] == 2000
    plain = await sqlite_web.http.get(f"{sqlite_web.url}/api/chat/ws")
    assert plain.status_code == 426
    assert {f["type"] for f in plain.json()["client_frames"]} == {"auth", "message"}
