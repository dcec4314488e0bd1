"""The durable outbox: outgoing channel messages written in the same transaction as the turn.

A message is queued together with the transcript entries that produced it, so a crash can
neither lose a reply nor send one for a turn that was rolled back. Senders take one
conversation's messages in order; the row id is the idempotency key the channel sees
(LINE's ``X-Line-Retry-Key``), so a retried push is never delivered twice.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.db import as_utc, utcnow
from storage.models import Conversation, OutboxMessage
from storage.transcript import Transcript

PURPOSE = "outbox"
ACTIVE = ("pending", "sending")


@dataclass(frozen=True)
class Outgoing:
    """A leased outbox message with its decrypted payload and where it must go."""

    message_id: str
    conversation_id: str
    channel: str
    sender: str
    payload: list[dict[str, Any]]
    address: str | None
    reply_token: str | None
    reply_token_expires_at: datetime | None
    attempts: int
    owner: str
    reachable: bool


async def enqueue(
    session: AsyncSession,
    transcript: Transcript,
    conversation: Conversation,
    *,
    sender: str,
    payload: list[dict[str, Any]],
    reply_token: str | None = None,
    reply_token_expires_at: datetime | None = None,
) -> OutboxMessage:
    """Queues one delivery (up to the channel's per-request message limit), encrypted."""
    message_id = str(uuid.uuid4())
    blob, key_version = await transcript.seal_item(
        session,
        conversation.id,
        purpose=PURPOSE,
        item=message_id,
        data=json.dumps(payload, ensure_ascii=False).encode(),
    )
    row = OutboxMessage(
        id=message_id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        sender=sender,
        payload_ciphertext=blob,
        key_version=key_version,
        reply_token=reply_token,
        reply_token_expires_at=reply_token_expires_at,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def claim(
    session: AsyncSession,
    transcript: Transcript,
    *,
    channel: str,
    lease_seconds: float,
    limit: int = 20,
) -> list[Outgoing]:
    """Leases the next message of each conversation that is due, oldest first.

    The lease is recorded by moving the row to ``sending`` and counting the attempt, and is
    committed before any network call, so a sender killed mid-request leaves a trace that
    the next sender uses to avoid delivering twice.
    """
    now = utcnow()
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        earlier.conversation_id == OutboxMessage.conversation_id,
        earlier.created_at < OutboxMessage.created_at,
        earlier.status.in_(ACTIVE),
    )
    due = or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.next_attempt_at <= now),
    )
    rows = (
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == channel, due, ~blocked)
            .order_by(OutboxMessage.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    leased: list[Outgoing] = []
    for row in rows:
        conversation = await session.get(Conversation, row.conversation_id)
        if conversation is None:
            row.status = "dropped"
            continue
        # Compare-and-set on the attempt counter (see ``storage.inbox.claim``): only one
        # sender, in any process, wins a given attempt.
        won = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.attempts == row.attempts)
            .values(
                status="sending",
                attempts=row.attempts + 1,
                # While leased, ``next_attempt_at`` is the lease expiry.
                next_attempt_at=now + timedelta(seconds=lease_seconds),
            )
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue
        await session.refresh(row)
        payload = json.loads(
            await transcript.open_item(
                session,
                row.conversation_id,
                row.payload_ciphertext,
                purpose=PURPOSE,
                item=row.id,
                key_version=row.key_version,
            )
        )
        address = None
        if conversation.address_ciphertext is not None:
            address = (
                await transcript.open_item(
                    session,
                    conversation.id,
                    conversation.address_ciphertext,
                    purpose="address",
                    item="address",
                    key_version=1,
                )
            ).decode()
        leased.append(
            Outgoing(
                message_id=row.id,
                conversation_id=row.conversation_id,
                channel=row.channel,
                sender=row.sender,
                payload=payload,
                address=address,
                reply_token=row.reply_token,
                reply_token_expires_at=(
                    as_utc(row.reply_token_expires_at) if row.reply_token_expires_at else None
                ),
                attempts=row.attempts,
                owner=conversation.owner,
                reachable=conversation.reachable,
            )
        )
    await session.flush()
    return leased


async def finish(
    session: AsyncSession,
    message_id: str,
    *,
    status: str,
    via: str | None = None,
    http_status: int | None = None,
    retry_in: float | None = None,
) -> None:
    """Records the outcome: ``sent``, ``suppressed``, ``dropped``, or back to ``pending``."""
    values: dict[str, Any] = {"status": status, "last_status": http_status}
    if status == "sent":
        values |= {"sent_at": utcnow(), "sent_via": via}
    if status == "pending":
        values["next_attempt_at"] = utcnow() + timedelta(seconds=retry_in or 0.0)
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(values)
    )


async def drop_pending(session: AsyncSession, conversation_id: str) -> int:
    """Cancels everything not yet sent to a conversation (e.g. after LINE ``unfollow``)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.conversation_id == conversation_id,
            OutboxMessage.status.in_(ACTIVE),
        )
        .values(status="dropped")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def counts(session: AsyncSession) -> dict[str, int]:
    """Messages per status, for metrics and the benchmark."""
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {status: int(n) for status, n in rows.all()}
