"""The durable inbox: channel events stored before they are acknowledged, processed once.

Receiving and processing are split so a webhook can answer within milliseconds and nothing
is lost if a worker dies: an event is committed here first, then claimed by one worker under
a lease, and marked done in the *same* transaction as everything its processing wrote
(transcript, outbox). A worker that loses its lease cannot commit, so each event's effects
happen exactly once. Events of one user are processed strictly in arrival order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Table, and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from storage.crypto import Keyring
from storage.db import as_utc, utcnow
from storage.errors import StorageError
from storage.models import InboxEvent

PURPOSE = "inbox"
MAX_ATTEMPTS = 5


class LeaseLost(StorageError):
    """Another worker took the event over; this worker's work must be rolled back."""


@dataclass(frozen=True)
class NewEvent:
    """An event as a channel hands it over for storage."""

    event_id: str
    user_key: str
    kind: str
    payload: dict[str, Any]
    redelivery: bool = False
    # Held back until then (a resident over the rate limit); stored at once all the same.
    not_before: datetime | None = None


@dataclass(frozen=True)
class ClaimedEvent:
    """An event leased to one worker, with its decrypted payload."""

    row_id: int
    channel: str
    event_id: str
    user_key: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    received_at_epoch: float


@dataclass(frozen=True)
class StoreResult:
    """How many events were new and how many were duplicates (redeliveries, replays)."""

    stored: int
    duplicates: int


def _item(channel: str, event_id: str) -> str:
    return f"{channel}|{event_id}"


def _insert_statement(dialect: str) -> Insert:
    """One cached ``INSERT … ON CONFLICT DO NOTHING RETURNING event_id`` per dialect.

    Built once so SQLAlchemy's compiled cache is hit; executed with a list of rows it is one
    multi-row statement (one round trip) however many events LINE batched.
    """
    statement = _INSERTS.get(dialect)
    if statement is None:
        table = InboxEvent.__table__
        assert isinstance(table, Table)
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["channel", "event_id"])
            .returning(table.c.event_id)
        )
        _INSERTS[dialect] = statement
    return statement


_INSERTS: dict[str, Insert] = {}

# The webhook stores through a bare Core connection (no ORM session on the ack path);
# workers and tests pass a session. Both execute Core statements the same way.
Executor = AsyncSession | AsyncConnection


async def store(
    executor: Executor, keyring: Keyring, channel: str, events: list[NewEvent]
) -> StoreResult:
    """Inserts events, silently skipping ids already stored (exactly-once starts here).

    One statement for the whole batch, rows in the order given (ids, and so one resident's
    processing order, follow it). On an autocommit connection that statement is the
    transaction: the webhook's acknowledgement costs a single round trip.
    """
    if not events:
        return StoreResult(0, 0)
    now = utcnow()
    rows = []
    for event in events:
        blob, version = keyring.seal(
            json.dumps(event.payload, ensure_ascii=False).encode(),
            purpose=PURPOSE,
            item=_item(channel, event.event_id),
        )
        rows.append(
            {
                "channel": channel,
                "event_id": event.event_id,
                "user_key": event.user_key,
                "kind": event.kind,
                "received_at": now,
                "redelivery": event.redelivery,
                "payload_ciphertext": blob,
                "master_version": version,
                "status": "pending",
                "attempts": 0,
                "not_before": event.not_before,
            }
        )
    bind = executor.get_bind() if isinstance(executor, AsyncSession) else executor
    statement = _insert_statement(bind.dialect.name)
    result = await executor.execute(statement, rows)
    stored = len(result.all())
    return StoreResult(stored=stored, duplicates=len(rows) - stored)


async def claim(
    session: AsyncSession,
    keyring: Keyring,
    *,
    worker_id: str,
    lease_seconds: float,
    limit: int = 20,
) -> list[ClaimedEvent]:
    """Leases up to ``limit`` events that are next in line for their user.

    An event is eligible when it is pending (or its lease expired) and no earlier event of
    the same user is still unfinished, so one user's events never overtake each other.
    ``SKIP LOCKED`` lets several workers claim side by side on PostgreSQL.
    """
    now = utcnow()
    earlier = aliased(InboxEvent)
    blocked = exists().where(
        earlier.channel == InboxEvent.channel,
        earlier.user_key == InboxEvent.user_key,
        earlier.id < InboxEvent.id,
        earlier.status.in_(("pending", "processing")),
    )
    ready = or_(
        InboxEvent.status == "pending",
        and_(InboxEvent.status == "processing", InboxEvent.lease_until < now),
    )
    rows = (
        await session.scalars(
            select(InboxEvent)
            .where(
                ready,
                or_(InboxEvent.not_before.is_(None), InboxEvent.not_before <= now),
                ~blocked,
            )
            .order_by(InboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    claimed: list[ClaimedEvent] = []
    for row in rows:
        # Compare-and-set on the attempt counter: on PostgreSQL the row lock already makes
        # this a formality; on SQLite (no row locks, SELECT outside the write transaction)
        # it is what stops two processes from leasing the same event.
        won = await session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == row.id, InboxEvent.attempts == row.attempts)
            .values(
                status="processing",
                lease_owner=worker_id,
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=row.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue
        await session.refresh(row)
        if row.payload_ciphertext is None:
            raise StorageError(f"inbox event {row.id} has no payload")
        payload = json.loads(
            keyring.open(
                row.payload_ciphertext,
                purpose=PURPOSE,
                item=_item(row.channel, row.event_id),
                version=row.master_version,
            )
        )
        claimed.append(
            ClaimedEvent(
                row_id=row.id,
                channel=row.channel,
                event_id=row.event_id,
                user_key=row.user_key,
                kind=row.kind,
                payload=payload,
                attempts=row.attempts,
                received_at_epoch=as_utc(row.received_at).timestamp(),
            )
        )
    await session.flush()
    return claimed


async def complete(session: AsyncSession, event: ClaimedEvent, *, worker_id: str) -> None:
    """Marks the event done in the caller's transaction; raises if the lease was lost.

    The payload is dropped: the text now lives only in the encrypted transcript.
    """
    result = await session.execute(
        update(InboxEvent)
        .where(
            InboxEvent.id == event.row_id,
            InboxEvent.status == "processing",
            InboxEvent.lease_owner == worker_id,
        )
        .values(status="done", processed_at=utcnow(), payload_ciphertext=None, lease_until=None)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"inbox event {event.row_id} was taken over")


async def fail(
    session: AsyncSession, event: ClaimedEvent, *, worker_id: str, error: str, retry_in: float
) -> str:
    """Releases a failed event for a later retry, or parks it as ``failed`` after the limit."""
    status = "failed" if event.attempts >= MAX_ATTEMPTS else "pending"
    await session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == event.row_id, InboxEvent.lease_owner == worker_id)
        .values(
            status=status,
            lease_owner=None,
            lease_until=None,
            not_before=utcnow() + timedelta(seconds=retry_in),
            error=error[:80],
        )
    )
    return status


async def release_held(executor: Executor, channel: str, user_key: str) -> int:
    """Lets a resident's held-back events run now (a crisis must not wait behind them)."""
    result = await executor.execute(
        update(InboxEvent)
        .where(
            InboxEvent.channel == channel,
            InboxEvent.user_key == user_key,
            InboxEvent.status == "pending",
            InboxEvent.not_before.is_not(None),
            InboxEvent.attempts == 0,
        )
        .values(not_before=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def counts(session: AsyncSession) -> dict[str, int]:
    """Events per status, for metrics and the benchmark."""
    rows = await session.execute(
        select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
    )
    return {status: int(n) for status, n in rows.all()}
