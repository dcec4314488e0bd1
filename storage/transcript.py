"""The only place message bodies are written and read.

Bodies are encrypted with the conversation's data key before they touch the database, and
decrypted only by :meth:`Transcript.read`, which first commits an audit record of who read
what and why. Nothing else in the code base sees a ``body_ciphertext`` column.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from privacy.redact import mask_my_numbers
from storage.crypto import (
    Keyring,
    decrypt_body,
    decrypt_item,
    encrypt_body,
    encrypt_item,
    new_data_key,
)
from storage.db import utcnow
from storage.errors import ConversationShredded, StorageError
from storage.models import AuditRecord, Conversation, ConversationKey, Message

READER_ROLES = frozenset({"counselor", "supervisor", "admin", "system"})
# ``session.info`` keys: (transaction, {conversation id: last sequence number it gave}) and
# (transaction, {conversation id: (data key, key version)}).
_SEQ_INFO = "tsunagu.transcript.last_seq"
_KEY_INFO = "tsunagu.transcript.data_keys"


def _this_transaction(session: AsyncSession, info_key: str) -> dict[str, Any]:
    """A dict kept on the session for its current transaction only (a new one starts empty).

    What another transaction committed since is unknown, so nothing carries over. Between
    transactions (an audited read has just committed its record) nothing is kept at all:
    the next statement begins a new one.
    """
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return {}
    cached = session.info.get(info_key)
    if cached is None or cached[0] is not transaction:
        cached = session.info[info_key] = (transaction, {})
    known: dict[str, Any] = cached[1]
    return known


@dataclass(frozen=True)
class MessageMeta:
    """Allow-listed, text-free facts stored beside a body (for routing and analytics)."""

    intent: str | None = None
    confidence: float | None = None
    urgency: int | None = None
    escalate: bool | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class TranscriptEntry:
    """A decrypted message, handed only to audited readers."""

    message_id: str
    seq: int
    direction: str
    sender: str
    created_at: datetime
    text: str
    hidden: bool


@contextlib.contextmanager
def stored_messages(session: AsyncSession) -> Iterator[list[Message]]:
    """Collects the messages added to ``session`` inside the block (a turn's own).

    A turn's notice names its outgoing messages, and the web socket that ran the turn marks
    its replies as sent (they go out in the ``reply`` frame): the socket's feed then knows
    the notice brings nothing new and neither reads nor pushes them a second time.
    """
    added: list[Message] = []

    def on_add(_session: object, instance: object) -> None:
        if isinstance(instance, Message):
            added.append(instance)

    event.listen(session.sync_session, "transient_to_pending", on_add)
    try:
        yield added
    finally:
        event.remove(session.sync_session, "transient_to_pending", on_add)


class Transcript:
    """Encrypts on append, audits then decrypts on read."""

    def __init__(self, keyring: Keyring) -> None:
        """Uses ``keyring`` to wrap and unwrap per-conversation data keys."""
        self._keyring = keyring

    async def _data_key(self, session: AsyncSession, conversation_id: str) -> tuple[bytes, int]:
        """The conversation's data key, unwrapped once per transaction.

        The ORM's identity map holds rows weakly, so every message of a turn used to read
        the key row again; each read also flushed the messages before it one by one, all
        while the turn held the conversation (and a new case) locked (bench handoff).
        """
        known = _this_transaction(session, _KEY_INFO)
        cached: tuple[bytes, int] | None = known.get(conversation_id)
        if cached is None:
            cached = known[conversation_id] = await self._load_data_key(session, conversation_id)
        return cached

    async def _load_data_key(
        self, session: AsyncSession, conversation_id: str
    ) -> tuple[bytes, int]:
        row = await session.get(ConversationKey, conversation_id)
        if row is None:
            data_key = new_data_key()
            wrapped, master_version = self._keyring.wrap(data_key, conversation_id)
            session.add(
                ConversationKey(
                    conversation_id=conversation_id,
                    wrapped_key=wrapped,
                    master_version=master_version,
                    key_version=1,
                )
            )
            await session.flush()
            return data_key, 1
        if row.wrapped_key is None:
            raise ConversationShredded(f"conversation {conversation_id} was shredded")
        return (
            self._keyring.unwrap(row.wrapped_key, conversation_id, row.master_version),
            row.key_version,
        )

    async def append(
        self,
        session: AsyncSession,
        conversation: Conversation,
        *,
        direction: str,
        sender: str,
        body: str,
        meta: MessageMeta | None = None,
        external_ref: str | None = None,
    ) -> Message:
        """Encrypts and stores one message, numbering it within its conversation.

        My Numbers (個人番号) are masked first: the law forbids keeping them without a
        purpose, so not even the encrypted transcript holds one.
        """
        if direction not in ("in", "out"):
            raise ValueError(f"direction must be 'in' or 'out', got {direction!r}")
        meta = meta or MessageMeta()
        data_key, key_version = await self._data_key(session, conversation.id)
        message_id = str(uuid.uuid4())
        seq = await self._next_seq(session, conversation.id)
        message = Message(
            id=message_id,
            conversation_id=conversation.id,
            seq=seq,
            direction=direction,
            sender=sender,
            body_ciphertext=encrypt_body(
                data_key,
                mask_my_numbers(body),
                conversation_id=conversation.id,
                message_id=message_id,
                key_version=key_version,
            ),
            key_version=key_version,
            intent=meta.intent,
            confidence=meta.confidence,
            urgency=meta.urgency,
            escalate=meta.escalate,
            reasons=",".join(meta.reasons)[:500],
            external_ref=external_ref,
        )
        session.add(message)
        conversation.message_count = seq
        conversation.updated_at = utcnow()
        # No flush here: the next query autoflushes and the commit writes a turn's messages
        # in one batch. A turn's replies once cost a round trip each while the new case row
        # was already locked and not yet visible to any counselor (issue 5).
        return message

    async def _next_seq(self, session: AsyncSession, conversation_id: str) -> int:
        """The next number in the conversation; asked of the database once per transaction.

        Later messages of the same transaction count on from there: the callers hold the
        conversation row locked (the bot's turn ``FOR UPDATE``, a counselor's message
        ``FOR SHARE``), and the unique ``(conversation_id, seq)`` still guards the rest.
        """
        known = _this_transaction(session, _SEQ_INFO)
        last: int | None = known.get(conversation_id)
        if last is None:
            last = (
                await session.scalar(
                    select(func.coalesce(func.max(Message.seq), 0)).where(
                        Message.conversation_id == conversation_id
                    )
                )
                or 0
            )
        known[conversation_id] = last + 1
        return last + 1

    async def read(
        self,
        session: AsyncSession,
        conversation_id: str,
        *,
        actor: str,
        role: str,
        reason: str,
        include_hidden: bool = False,
    ) -> list[TranscriptEntry]:
        """Writes the audit record, commits it, and only then decrypts the conversation."""
        if role not in READER_ROLES:
            raise PermissionError(f"role {role!r} may not read transcripts")
        if not reason.strip():
            raise ValueError("a transcript read needs a reason")
        session.add(
            AuditRecord(
                actor=actor,
                role=role,
                conversation_id=conversation_id,
                action="transcript.read",
                reason=reason[:80],
            )
        )
        # Commit so the audit record survives even if decryption or the caller fails later.
        await session.commit()
        data_key, _ = await self._data_key(session, conversation_id)
        rows = (
            await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.seq)
            )
        ).all()
        entries: list[TranscriptEntry] = []
        for row in rows:
            if row.hidden and not include_hidden:
                continue
            entries.append(
                TranscriptEntry(
                    message_id=row.id,
                    seq=row.seq,
                    direction=row.direction,
                    sender=row.sender,
                    created_at=row.created_at,
                    text=decrypt_body(
                        data_key,
                        row.body_ciphertext,
                        conversation_id=conversation_id,
                        message_id=row.id,
                        key_version=row.key_version,
                    ),
                    hidden=row.hidden,
                )
            )
        return entries

    async def seal_item(
        self, session: AsyncSession, conversation_id: str, *, purpose: str, item: str, data: bytes
    ) -> tuple[bytes, int]:
        """Encrypts a non-body blob (channel address, outgoing payload) with the data key."""
        data_key, key_version = await self._data_key(session, conversation_id)
        blob = encrypt_item(
            data_key,
            data,
            purpose=purpose,
            conversation_id=conversation_id,
            item=item,
            key_version=key_version,
        )
        return blob, key_version

    async def open_item(
        self,
        session: AsyncSession,
        conversation_id: str,
        blob: bytes,
        *,
        purpose: str,
        item: str,
        key_version: int,
    ) -> bytes:
        """Decrypts a blob from :meth:`seal_item` for delivery (not a human read: no audit)."""
        data_key, _ = await self._data_key(session, conversation_id)
        return decrypt_item(
            data_key,
            blob,
            purpose=purpose,
            conversation_id=conversation_id,
            item=item,
            key_version=key_version,
        )

    async def hide(self, session: AsyncSession, conversation_id: str, external_ref: str) -> int:
        """Hides a withdrawn (unsent) message from every view; returns how many rows matched."""
        rows = (
            await session.scalars(
                select(Message).where(
                    Message.conversation_id == conversation_id,
                    Message.external_ref == external_ref,
                )
            )
        ).all()
        for row in rows:
            row.hidden = True
        await session.flush()
        return len(rows)

    async def shred(self, session: AsyncSession, conversation_id: str) -> bool:
        """Destroys the conversation's data key; returns False if it was already gone."""
        row = await session.get(ConversationKey, conversation_id)
        if row is None or row.wrapped_key is None:
            return False
        row.wrapped_key = None
        row.shredded_at = utcnow()
        _this_transaction(session, _KEY_INFO).pop(conversation_id, None)
        await session.flush()
        return True


__all__ = ["MessageMeta", "StorageError", "Transcript", "TranscriptEntry", "stored_messages"]
