"""LINE end to end over real HTTP: webhook → inbox → worker → outbox → LINE stand-in."""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select, update

from channels.line.simulate import (
    as_redelivery,
    build_follow_event,
    build_image_event,
    build_payload,
    build_text_event,
    build_unfollow_event,
    build_unsend_event,
    new_user_id,
    sign,
)
from channels.line.standin.runner import StandinClient
from handoff.models import Case
from privacy.consent import consent_notice
from storage import outbox
from storage.db import Database, utcnow
from storage.models import ConsentRecord, Conversation, InboxEvent, Message, OutboxMessage
from tests.channels.conftest import (
    SECRET,
    LineHarness,
    eventually,
    line_settings,
    post_events,
    serve,
    wait_for,
)
from tests.conftest import PG_ADMIN_URL, FakeNlu


async def _inbox_count(h: LineHarness) -> int:
    async with h.runtime.database.session() as s:
        return len((await s.scalars(select(InboxEvent))).all())


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_signature"),
        ({"X-Line-Signature": "AAAA"}, "bad_signature"),
    ],
)
async def test_unsigned_or_badly_signed_requests_store_nothing(
    line_app: LineHarness, headers: dict[str, str], reason: str
) -> None:
    body = build_payload([build_text_event("こんにちは", user_id=new_user_id())])
    response = await line_app.http.post(
        f"{line_app.url}/webhooks/line", content=body, headers=headers
    )
    assert response.status_code == 400 and response.json()["detail"] == reason
    assert await _inbox_count(line_app) == 0


async def test_wrong_secret_and_tampered_body_are_refused(line_app: LineHarness) -> None:
    event = build_text_event("こんにちは", user_id=new_user_id())
    assert (await line_app.post([event], secret="another-secret")).status_code == 400
    body = build_payload([event])
    tampered = body.replace("こんにちは".encode(), "さようなら".encode())
    response = await line_app.http.post(
        f"{line_app.url}/webhooks/line",
        content=tampered,
        headers={"X-Line-Signature": sign(body, SECRET)},
    )
    assert response.status_code == 400
    assert await _inbox_count(line_app) == 0


async def test_verification_request_gets_200(line_app: LineHarness) -> None:
    response = await line_app.post([])
    assert response.status_code == 200
    assert await _inbox_count(line_app) == 0


async def test_text_message_is_answered_with_the_reply_token(line_app: LineHarness) -> None:
    user = new_user_id()
    response = await line_app.post([build_text_event("こんにちは", user_id=user)])
    assert response.status_code == 200
    delivered = await eventually(lambda: line_app.standin.deliveries(user))
    assert delivered[0]["via"] == "reply"
    assert "つなぐ" in delivered[0]["messages"][0]["text"]
    # The loading animation was shown while the bot worked.
    assert line_app.standin.requests(path="/v2/bot/chat/loading/start")


async def test_same_event_three_times_and_a_redelivery_is_processed_once(
    line_app: LineHarness,
) -> None:
    user = new_user_id()
    event = build_text_event("こんにちは", user_id=user)
    for _ in range(3):
        assert (await line_app.post([event])).status_code == 200
    assert (await line_app.post([as_redelivery(event)])).status_code == 200
    await eventually(lambda: line_app.standin.deliveries(user))
    async with line_app.runtime.database.session() as s:
        events = (await s.scalars(select(InboxEvent))).all()
        sent = (await s.scalars(select(OutboxMessage))).all()
    assert len(events) == 1 and events[0].status == "done"
    assert len(sent) == 1
    assert len(line_app.standin.deliveries(user)) == 1


async def test_expired_reply_token_falls_back_to_push_with_retry_key(
    tmp_path: Path, standin_url: str, database_url: str
) -> None:
    settings = line_settings(tmp_path, standin_url, database_url, line_reply_token_seconds=0.0)
    user = new_user_id()
    async for url, runtime in serve(settings, FakeNlu("greeting", 0.95)):
        with StandinClient(standin_url) as standin:
            async with httpx.AsyncClient() as http:
                events = [build_text_event("こんにちは", user_id=user)]
                response = await post_events(http, url, standin, events)
            assert response.status_code == 200
            (delivery,) = await eventually(lambda: standin.deliveries(user))
        # The stand-in has it before the sender records the outcome.
        row = await wait_for(functools.partial(_sent_row, runtime.database))
        assert delivery["via"] == "push"
        assert delivery["retry_key"] == row.id and row.sent_via == "push"


@pytest.mark.parametrize(
    ("failures", "push_statuses"),
    [
        # Rate limited twice: back off, then delivered.
        ([{"status": 429, "count": 2, "retry_after": 0}], [429, 429, 200]),
        # Accepted, but the answer was lost: the retry key makes LINE answer 409, not resend.
        ([{"status": 500, "count": 1, "accept": True}], [500, 409]),
    ],
)
async def test_push_retries_deliver_exactly_once(
    tmp_path: Path,
    standin_url: str,
    database_url: str,
    failures: list[dict[str, Any]],
    push_statuses: list[int],
) -> None:
    settings = line_settings(tmp_path, standin_url, database_url, line_reply_token_seconds=0.0)
    user = new_user_id()
    with StandinClient(standin_url) as standin:
        for failure in failures:
            standin.fail(path="/v2/bot/message/push", **failure)
        async for url, runtime in serve(settings, FakeNlu("greeting", 0.95)):
            async with httpx.AsyncClient() as http:
                events = [build_text_event("こんにちは", user_id=user)]
                await post_events(http, url, standin, events)
            row = await wait_for(functools.partial(_sent_row, runtime.database), timeout=20)
            assert row.attempts == len(push_statuses)
        statuses = [r["status"] for r in standin.requests(path="/v2/bot/message/push")]
        assert statuses == push_statuses
        assert len(standin.deliveries(user)) == 1


async def _sent_row(database: Database) -> OutboxMessage | None:
    async with database.session() as s:
        row = await s.scalar(select(OutboxMessage))
        return row if row is not None and row.status == "sent" else None


async def test_restart_processes_what_was_left_in_inbox_and_outbox(
    tmp_path: Path, standin_url: str, database_url: str
) -> None:
    users = [new_user_id() for _ in range(3)]
    stopped = line_settings(tmp_path, standin_url, database_url, run_workers=False)
    async for url, _runtime in serve(stopped, FakeNlu("greeting", 0.95)):
        with StandinClient(standin_url) as standin:
            async with httpx.AsyncClient() as http:
                for user in users:
                    events = [build_text_event("こんにちは", user_id=user)]
                    response = await post_events(http, url, standin, events)
                    assert response.status_code == 200
    running = line_settings(tmp_path, standin_url, database_url)
    async for _url, _runtime in serve(running, FakeNlu("greeting", 0.95)):
        with StandinClient(standin_url) as standin:
            for user in users:
                assert await eventually(functools.partial(standin.deliveries, user))


async def test_follow_greets_unfollow_stops_pushes_unsend_hides(line_app: LineHarness) -> None:
    user = new_user_id()
    await line_app.post([build_follow_event(user_id=user)])
    greeting = await eventually(lambda: line_app.standin.delivered(user))
    # Consent notice first, then the greeting; the notice is recorded.
    assert greeting[0]["text"] == consent_notice("ja", line_app.runtime.settings)
    assert "つなぐ" in greeting[1]["text"]
    async with line_app.runtime.database.session() as s:
        (record,) = (await s.scalars(select(ConsentRecord))).all()
        assert record.method == "line_follow" and not record.user_key.startswith("U")

    message = build_text_event("こんにちは", user_id=user)
    await line_app.post([message])
    await eventually(lambda: len(line_app.standin.delivered(user)) > len(greeting))
    # Consent was given on follow: the first message gets no second notice.
    assert len(line_app.standin.delivered(user)) == len(greeting) + 1
    await line_app.post([build_unsend_event(message["message"]["id"], user_id=user)])

    async def hidden() -> bool:
        async with line_app.runtime.database.session() as s:
            rows = (await s.scalars(select(Message).where(Message.hidden.is_(True)))).all()
            return len(rows) == 1

    await wait_for(hidden)

    await line_app.post([build_unfollow_event(user_id=user)])

    async def unreachable() -> bool:
        async with line_app.runtime.database.session() as s:
            return (await s.scalar(select(Conversation.reachable))) is False

    await wait_for(unreachable)
    async with line_app.runtime.database.session() as s:
        conversation = await s.scalar(select(Conversation))
        assert conversation is not None
        # A message queued now (e.g. a counselor's) is never pushed.
        await outbox.enqueue(
            s,
            line_app.runtime.transcript,
            conversation,
            sender="counselor",
            payload=[{"type": "text", "text": "x"}],
        )
    line_app.runtime.wake_workers()

    async def dropped() -> bool:
        async with line_app.runtime.database.session() as s:
            rows = (await s.scalars(select(OutboxMessage.status))).all()
            return "dropped" in rows

    await wait_for(dropped)


async def test_crisis_message_gets_hotlines_and_a_case(line_app: LineHarness) -> None:
    user = new_user_id()
    await line_app.post([build_text_event("もう死にたい。薬をためてる", user_id=user)])
    message, status, notice = await eventually(lambda: line_app.standin.delivered(user))
    # Safety first, then the place in the queue; the consent notice of a first contact last.
    assert "119" in message["text"] or "110" in message["text"]
    assert "1ばんめ" in status["text"]
    assert notice["text"] == consent_notice("ja", line_app.runtime.settings)
    async with line_app.runtime.database.session() as s:
        case = await s.scalar(select(Case))
    assert case is not None and case.urgency >= 1


async def test_image_asks_for_text_but_reaches_an_escalated_transcript(
    line_app: LineHarness,
) -> None:
    user = new_user_id()
    await line_app.post([build_image_event(user_id=user)])
    reply, _notice = await eventually(lambda: line_app.standin.delivered(user))
    assert "文字" in reply["text"]
    async with line_app.runtime.database.session() as s:
        await s.execute(update(Conversation).values(owner="counselor:c1"))
    await line_app.post([build_image_event(user_id=user)])

    async def images() -> int:
        async with line_app.runtime.database.session() as s:
            rows = (await s.scalars(select(Message).where(Message.direction == "in"))).all()
            return len(rows)

    await wait_for(lambda: _equals(images(), 2))
    assert len(line_app.standin.delivered(user)) == 2  # the counselor's conversation: bot silent


async def test_bot_message_is_suppressed_after_a_counselor_claims(line_app: LineHarness) -> None:
    user = new_user_id()
    await line_app.post([build_text_event("こんにちは", user_id=user)])
    before = len(await eventually(lambda: line_app.standin.delivered(user)))
    async with line_app.runtime.database.session() as s:
        conversation = await s.scalar(select(Conversation))
        assert conversation is not None
        # A bot reply that was already queued when the counselor took over...
        await outbox.enqueue(
            s,
            line_app.runtime.transcript,
            conversation,
            sender="bot",
            payload=[{"type": "text", "text": "bot"}],
        )
        conversation.owner = "counselor:c1"
    line_app.runtime.wake_workers()

    async def status() -> list[str]:
        async with line_app.runtime.database.session() as s:
            return list((await s.scalars(select(OutboxMessage.status))).all())

    await wait_for(lambda: _contains(status(), "suppressed"))
    assert len(line_app.standin.delivered(user)) == before


async def _equals(value: Awaitable[Any], expected: Any) -> bool:
    return bool(await value == expected)


async def _contains(value: Awaitable[list[str]], item: str) -> bool:
    return item in await value


async def test_used_reply_token_on_a_retry_counts_as_delivered(line_app: LineHarness) -> None:
    """A sender killed after LINE accepted its reply: the retry must not push it again."""
    user = new_user_id()
    event = build_text_event("こんにちは", user_id=user)
    await line_app.post([event])
    await eventually(lambda: line_app.standin.delivered(user))
    async with line_app.runtime.database.session() as s:
        conversation = await s.scalar(select(Conversation))
        assert conversation is not None
        row = await outbox.enqueue(
            s,
            line_app.runtime.transcript,
            conversation,
            sender="bot",
            payload=[{"type": "text", "text": "again"}],
            reply_token=event["replyToken"],  # already used by the first delivery
            reply_token_expires_at=utcnow() + timedelta(seconds=40),
        )
        row.attempts = 1  # as if an earlier attempt died mid-request
        row_id = row.id
    line_app.runtime.wake_workers()

    async def finished() -> OutboxMessage | None:
        async with line_app.runtime.database.session() as s:
            found = await s.get(OutboxMessage, row_id)
            return found if found is not None and found.status == "sent" else None

    sent = await wait_for(finished)
    assert sent.sent_via == "reply"
    assert line_app.standin.requests(path="/v2/bot/message/push") == []


async def test_a_flooding_resident_is_held_back_not_dropped_except_a_crisis(
    tmp_path: Path, standin_url: str, database_url: str
) -> None:
    settings = line_settings(tmp_path, standin_url, database_url, rate_limit_line_user="2/minute")
    user = new_user_id()
    texts = ["こんにちは", "こんにちは", "こんにちは", "もう死にたい"]
    async for url, runtime in serve(settings, FakeNlu("greeting", 0.95)):
        with StandinClient(standin_url) as standin:
            async with httpx.AsyncClient() as http:
                for text in texts:
                    response = await post_events(
                        http, url, standin, [build_text_event(text, user_id=user)]
                    )
                    assert response.status_code == 200  # LINE never sees the limit
            # The crisis released the held message: all four are answered now.
            delivered = await eventually(lambda: len(standin.deliveries(user)) >= 4)
            assert delivered
            async with runtime.database.session() as s:
                rows = (await s.scalars(select(InboxEvent).order_by(InboxEvent.id))).all()
    assert [r.status for r in rows] == ["done"] * 4


async def test_a_flooding_resident_waits_but_nothing_is_lost(
    tmp_path: Path, standin_url: str, database_url: str
) -> None:
    settings = line_settings(tmp_path, standin_url, database_url, rate_limit_line_user="2/minute")
    user = new_user_id()
    async for url, runtime in serve(settings, FakeNlu("greeting", 0.95)):
        with StandinClient(standin_url) as standin:
            async with httpx.AsyncClient() as http:
                for _ in range(3):
                    events = [build_text_event("こんにちは", user_id=user)]
                    assert (await post_events(http, url, standin, events)).status_code == 200
            await eventually(lambda: len(standin.deliveries(user)) >= 2)
            async with runtime.database.session() as s:
                rows = (await s.scalars(select(InboxEvent).order_by(InboxEvent.id))).all()
    assert [r.not_before is not None for r in rows] == [False, False, True]
    assert rows[2].status == "pending" and rows[2].payload_ciphertext is not None


@pytest.mark.postgres
async def test_events_are_stored_after_the_database_dropped_every_connection(
    tmp_path: Path, standin_url: str, postgres_url: str
) -> None:
    # A web-only process: the webhook's own connection is the one the server drops.
    settings = line_settings(tmp_path, standin_url, postgres_url, run_workers=False)
    first, second = (build_text_event("こんにちは", user_id=new_user_id()) for _ in range(2))
    async for url, runtime in serve(settings, FakeNlu("greeting", 0.95)):
        with StandinClient(standin_url) as standin:
            async with httpx.AsyncClient() as http:
                assert (await post_events(http, url, standin, [first])).status_code == 200
                # As after a server restart: the pooled connection was used a moment ago
                # (so it is not pinged) and is dead now.
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(
                        "select pg_terminate_backend(pid) from pg_stat_activity"
                        " where datname = %s and pid <> pg_backend_pid()",
                        (postgres_url.rsplit("/", 1)[1],),
                    )
                assert (await post_events(http, url, standin, [second])).status_code == 200
        async with runtime.database.session() as s:
            stored = (await s.scalars(select(InboxEvent.event_id).order_by(InboxEvent.id))).all()
    assert stored == [first["webhookEventId"], second["webhookEventId"]]
