"""Erasure requests (APPI 利用停止・消去): a resident or an operator asks to delete a conversation.

Erasure is crypto-shredding plus bookkeeping (see :mod:`privacy.shredding`): every copy of
the transcript becomes unreadable, backups included once they rotate, open cases are closed
and the request is written to the audit log. Channels call :func:`erase_conversation` when a
resident asks (e.g. types a data-deletion request); operators use ``tsunagu erase``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from privacy.shredding import check_reason, shred_conversation
from storage.db import utcnow
from storage.models import Conversation, InboxEvent
from storage.transcript import Transcript

# Who may ask: the resident (about their own conversation, which the channel resolves),
# operators and supervisors through the CLI or console, and automated jobs.
ERASER_ROLES = frozenset({"resident", "operator", "supervisor", "admin", "system"})
ACTION = "transcript.erase"


class ConversationNotFound(LookupError):
    """No conversation has the given id."""


@dataclass(frozen=True)
class ErasureResult:
    """What the erasure did; ``already_erased`` when an earlier request had done it."""

    conversation_id: str
    already_erased: bool
    cases_closed: int
    outbox_dropped: int
    inbox_payloads_dropped: int

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``--json`` output and logs (ids and counts only)."""
        return {
            "conversation_id": self.conversation_id,
            "already_erased": self.already_erased,
            "cases_closed": self.cases_closed,
            "outbox_dropped": self.outbox_dropped,
            "inbox_payloads_dropped": self.inbox_payloads_dropped,
        }


async def erase_conversation(
    session: AsyncSession,
    conversation_id: str,
    actor: str,
    role: str,
    reason: str,
    *,
    transcript: Transcript,
) -> ErasureResult:
    """Shreds one conversation, closes its cases and audits the request; caller commits.

    ``reason`` is a code (``resident.request``, ``operator.request``, ``legal.order``), not
    free text. Idempotent: asking twice shreds once and audits twice. Unsent messages to
    the conversation are cancelled, so acknowledge a resident's request on the new
    conversation their next message opens (or before calling this).
    """
    if role not in ERASER_ROLES:
        raise PermissionError(f"role {role!r} may not erase conversations")
    if not actor.strip():
        raise ValueError("an erasure needs an actor")
    check_reason(reason)
    conversation = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    if conversation is None:
        raise ConversationNotFound(conversation_id)
    outcome = await shred_conversation(
        session,
        transcript,
        conversation,
        actor=actor,
        role=role,
        action=ACTION,
        reason=reason,
        now=utcnow(),
    )
    # Events that failed processing keep their (master-key sealed) payload for a retry;
    # the resident asked for deletion, so drop those of this resident's channel.
    dropped_payloads = await session.execute(
        update(InboxEvent)
        .where(
            InboxEvent.channel == conversation.channel,
            InboxEvent.user_key == conversation.user_key,
            InboxEvent.status == "failed",
            InboxEvent.payload_ciphertext.is_not(None),
        )
        .values(payload_ciphertext=None)
    )
    return ErasureResult(
        conversation_id=conversation_id,
        already_erased=not outcome.key_destroyed,
        cases_closed=outcome.cases_closed,
        outbox_dropped=outcome.outbox_dropped,
        inbox_payloads_dropped=int(dropped_payloads.rowcount or 0),  # type: ignore[attr-defined]
    )
