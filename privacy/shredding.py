"""Ending a conversation by destroying its data key (crypto-shredding), with an audit record.

Shared by the retention job and erasure requests, so both leave the database in the same
state: the wrapped data key is gone (the transcript, queued messages and the encrypted
channel address can no longer be decrypted), the conversation is marked over so the
resident's next message opens a new one, open cases are closed, unsent messages are
cancelled, and the audit log says who did it and why. Text-free metadata stays for
analytics until its own retention period ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Case
from handoff.queue import OPEN_STATUSES
from storage.db import utcnow
from storage.models import AuditRecord, Conversation, ConversationKey
from storage.outbox import drop_pending
from storage.transcript import Transcript

# Reason codes, never free text: the audit log must not become a place where message
# content or names end up.
REASON_CODE = re.compile(r"^[a-z][a-z0-9_.:-]{1,79}$")
CLOSED_CASE_STATUS = "closed"
# A tombstone key row for a conversation that never had a key: nothing can be encrypted
# under it later (``Transcript`` refuses a key row without a wrapped key).
TOMBSTONE_MASTER_VERSION = 0


@dataclass(frozen=True)
class ShredOutcome:
    """What one shred changed; ``key_destroyed`` is False when it had already happened."""

    conversation_id: str
    key_destroyed: bool
    cases_closed: int
    outbox_dropped: int


def check_reason(reason: str) -> str:
    """Returns ``reason`` if it is a reason code (``retention.expired``), else raises."""
    if not REASON_CODE.fullmatch(reason):
        raise ValueError(
            "reason must be a code like 'resident.request' (lower-case letters, digits, "
            "'.', '_', ':' or '-'; 2-80 characters), never free text"
        )
    return reason


async def shred_conversation(
    session: AsyncSession,
    transcript: Transcript,
    conversation: Conversation,
    *,
    actor: str,
    role: str,
    action: str,
    reason: str,
    now: datetime | None = None,
) -> ShredOutcome:
    """Destroys the conversation's data key and everything that depends on it.

    The caller holds the conversation row locked (``FOR UPDATE``) and commits. Idempotent:
    a second call destroys nothing more but still writes its audit record, so every
    request is on file.
    """
    check_reason(reason)
    at = now or utcnow()
    key_destroyed = await transcript.shred(session, conversation.id)
    if not key_destroyed and await session.get(ConversationKey, conversation.id) is None:
        session.add(
            ConversationKey(
                conversation_id=conversation.id,
                wrapped_key=None,
                master_version=TOMBSTONE_MASTER_VERSION,
                key_version=1,
                shredded_at=at,
            )
        )
        key_destroyed = True
    # The address is unreadable without the key already; drop the ciphertext as well.
    conversation.address_ciphertext = None
    conversation.reachable = False
    if conversation.shredded_at is None:
        conversation.shredded_at = at
    closed = await session.execute(
        update(Case)
        .where(Case.conversation_id == conversation.id, Case.status.in_(OPEN_STATUSES))
        .values(status=CLOSED_CASE_STATUS, closed_at=at, updated_at=at)
    )
    dropped = await drop_pending(session, conversation.id)
    session.add(
        AuditRecord(
            at=at,
            actor=actor[:80],
            role=role[:20],
            conversation_id=conversation.id,
            action=action,
            reason=reason,
        )
    )
    await session.flush()
    return ShredOutcome(
        conversation_id=conversation.id,
        key_destroyed=key_destroyed,
        cases_closed=int(closed.rowcount or 0),  # type: ignore[attr-defined]
        outbox_dropped=dropped,
    )
