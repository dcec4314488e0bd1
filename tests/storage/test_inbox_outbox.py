"""The durable inbox and outbox on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select, update

from storage import inbox, outbox
from storage.conversations import get_or_open
from storage.crypto import Keyring
from storage.db import Database, utcnow
from storage.models import InboxEvent, OutboxMessage
from storage.transcript import Transcript


def _event(user: str, n: int, text: str = "こんにちは") -> inbox.NewEvent:
    return inbox.NewEvent(
        event_id=f"ev-{user}-{n}",
        user_key=user,
        kind="message.text",
        payload={"type": "message", "message": {"type": "text", "text": text}},
    )


async def test_store_is_idempotent_and_payload_is_sealed(
    database: Database, keyring: Keyring
) -> None:
    async with database.session() as s:
        first = await inbox.store(s, keyring, "line", [_event("u1", 1, "秘密の相談")])
    async with database.session() as s:
        again = await inbox.store(
            s, keyring, "line", [_event("u1", 1, "秘密の相談"), _event("u1", 2)]
        )
    assert (first.stored, first.duplicates) == (1, 0)
    assert (again.stored, again.duplicates) == (1, 1)
    async with database.session() as s:
        rows = (await s.scalars(select(InboxEvent).order_by(InboxEvent.id))).all()
        assert len(rows) == 2
        secret = "秘密".encode()
        assert all(r.payload_ciphertext and secret not in r.payload_ciphertext for r in rows)


async def test_one_batch_keeps_its_order_and_drops_its_own_duplicates(
    database: Database, keyring: Keyring
) -> None:
    batch = [_event("a", 1), _event("a", 2), _event("a", 1), _event("b", 1)]
    # Autocommit, as the webhook stores: committed when store() returns.
    async with database.autocommit() as connection:
        result = await inbox.store(connection, keyring, "line", batch)
    assert (result.stored, result.duplicates) == (3, 1)
    async with database.session() as s:
        rows = (await s.scalars(select(InboxEvent.event_id).order_by(InboxEvent.id))).all()
    assert rows == ["ev-a-1", "ev-a-2", "ev-b-1"]


async def test_one_user_is_processed_in_order(database: Database, keyring: Keyring) -> None:
    async with database.session() as s:
        await inbox.store(s, keyring, "line", [_event("a", 1), _event("a", 2), _event("b", 1)])
    async with database.session() as s:
        batch = await inbox.claim(s, keyring, worker_id="w1", lease_seconds=30)
    # Only the head of each user's line is claimable.
    assert sorted(e.event_id for e in batch) == ["ev-a-1", "ev-b-1"]
    assert batch[0].payload["message"]["text"] == "こんにちは"
    async with database.session() as s:
        assert await inbox.claim(s, keyring, worker_id="w2", lease_seconds=30) == []
    async with database.session() as s:
        for event in batch:
            await inbox.complete(s, event, worker_id="w1")
    async with database.session() as s:
        nxt = await inbox.claim(s, keyring, worker_id="w2", lease_seconds=30)
    assert [e.event_id for e in nxt] == ["ev-a-2"]
    async with database.session() as s:
        done = (await s.scalars(select(InboxEvent).where(InboxEvent.status == "done"))).all()
        assert {r.event_id for r in done} == {"ev-a-1", "ev-b-1"}
        assert all(r.payload_ciphertext is None for r in done)  # text dropped once processed


async def test_expired_lease_is_taken_over_and_old_owner_cannot_complete(
    database: Database, keyring: Keyring
) -> None:
    async with database.session() as s:
        await inbox.store(s, keyring, "line", [_event("a", 1)])
    async with database.session() as s:
        (dead,) = await inbox.claim(s, keyring, worker_id="dead", lease_seconds=30)
        await s.execute(update(InboxEvent).values(lease_until=utcnow()))  # lease runs out
    async with database.session() as s:
        (alive,) = await inbox.claim(s, keyring, worker_id="alive", lease_seconds=30)
    assert alive.attempts == 2
    with pytest.raises(inbox.LeaseLost):
        async with database.session() as s:
            await inbox.complete(s, dead, worker_id="dead")
    async with database.session() as s:
        await inbox.complete(s, alive, worker_id="alive")
        assert await inbox.counts(s) == {"done": 1}


async def test_failures_retry_then_park(database: Database, keyring: Keyring) -> None:
    async with database.session() as s:
        await inbox.store(s, keyring, "line", [_event("a", 1), _event("a", 2)])
    for attempt in range(1, inbox.MAX_ATTEMPTS + 1):
        async with database.session() as s:
            (event,) = await inbox.claim(s, keyring, worker_id="w", lease_seconds=30)
            assert (event.event_id, event.attempts) == ("ev-a-1", attempt)
            status = await inbox.fail(s, event, worker_id="w", error="Boom", retry_in=0)
    assert status == "failed"
    async with database.session() as s:
        (event,) = await inbox.claim(s, keyring, worker_id="w", lease_seconds=30)
    assert event.event_id == "ev-a-2"  # a parked event no longer blocks the user


@pytest.mark.postgres
async def test_parallel_claims_never_share_an_event(postgres_url: str, keyring: Keyring) -> None:
    database = Database(postgres_url)
    database.migrate()
    try:
        async with database.session() as s:
            await inbox.store(
                s, keyring, "line", [_event(f"u{i}", n) for i in range(30) for n in range(3)]
            )

        async def worker(name: str) -> list[str]:
            seen: list[str] = []
            for _ in range(20):
                async with database.session() as s:
                    batch = await inbox.claim(s, keyring, worker_id=name, lease_seconds=30, limit=5)
                async with database.session() as s:
                    for event in batch:
                        await inbox.complete(s, event, worker_id=name)
                seen += [e.event_id for e in batch]
                await asyncio.sleep(0)
            return seen

        results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
        everything = [e for r in results for e in r]
        assert len(everything) == len(set(everything)) == 90
    finally:
        await database.dispose()


async def test_outbox_orders_per_conversation_and_encrypts(
    database: Database, keyring: Keyring
) -> None:
    transcript = Transcript(keyring)
    async with database.session() as s:
        conv = await get_or_open(s, channel="line", user_key=uuid.uuid4().hex)
        conv.address_ciphertext, _ = await transcript.seal_item(
            s, conv.id, purpose="address", item="address", data=b"U" + b"a" * 32
        )
        for n in range(2):
            await outbox.enqueue(
                s,
                transcript,
                conv,
                sender="bot",
                payload=[{"type": "text", "text": f"返事{n}"}],
                reply_token="tok" if n == 0 else None,
            )
    async with database.session() as s:
        (first,) = await outbox.claim(s, transcript, channel="line", lease_seconds=30)
        rows = (await s.scalars(select(OutboxMessage))).all()
        assert all("返事".encode() not in r.payload_ciphertext for r in rows)
    assert first.payload == [{"type": "text", "text": "返事0"}]
    assert first.address == "U" + "a" * 32 and first.reply_token == "tok"
    async with database.session() as s:
        assert await outbox.claim(s, transcript, channel="line", lease_seconds=30) == []
        await outbox.finish(s, first.message_id, status="sent", via="reply", http_status=200)
    async with database.session() as s:
        (second,) = await outbox.claim(s, transcript, channel="line", lease_seconds=30)
        assert second.payload[0]["text"] == "返事1" and second.attempts == 1
        assert await outbox.drop_pending(s, conv.id) == 1
        assert await outbox.counts(s) == {"sent": 1, "dropped": 1}
