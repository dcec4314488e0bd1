"""Tables for conversations, their encrypted messages, data keys and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, utcnow


class Conversation(Base):
    """One resident's thread on one channel; holds routing state, never message text."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_key: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(8), default="ja")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    # Once a conversation is sensitive it stays sensitive: no cheerful templates, no FAQ-only.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    max_urgency: Mapped[int] = mapped_column(Integer, default=0)
    categories: Mapped[str] = mapped_column(String(200), default="")
    # "bot" or "counselor:<id>"; the handoff issue enforces one owner across workers.
    owner: Mapped[str] = mapped_column(String(80), default="bot")
    last_intent: Mapped[str | None] = mapped_column(String(40))
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    # The channel's own address (LINE user ID), encrypted with the conversation's data key:
    # pushes need it, nothing else may see it, and shredding the key destroys it too.
    address_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # False after LINE `unfollow`: no pushes until the resident follows again.
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    # Step-by-step guide progress as JSON (guide id, step, platform, failures); never text.
    flow_state: Mapped[str | None] = mapped_column(Text)
    # Set when retention or an erasure destroyed the data key: the conversation is over, and
    # the resident's next message opens a new one (privacy/retention.py, privacy/erasure.py).
    shredded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"Conversation(id={self.id!r}, channel={self.channel!r}, owner={self.owner!r})"


class ConversationKey(Base):
    """The conversation's data key, wrapped by a master key; deleting it shreds the transcript."""

    __tablename__ = "conversation_keys"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_version: Mapped[int] = mapped_column(Integer)
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    shredded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"ConversationKey(conversation_id={self.conversation_id!r})"


class Message(Base):
    """One message in or out; the body exists only as AES-GCM ciphertext."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    sender: Mapped[str] = mapped_column(String(16))  # "resident" | "bot" | "counselor"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    body_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int] = mapped_column(Integer)
    intent: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None] = mapped_column(Float)
    urgency: Mapped[int | None] = mapped_column(Integer)
    escalate: Mapped[bool | None] = mapped_column(Boolean)
    # Rule ids and intent names that caused escalation; never message text.
    reasons: Mapped[str] = mapped_column(String(500), default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # HMAC of the channel's own message id (LINE `unsend` names the message by it).
    external_ref: Mapped[str | None] = mapped_column(String(64), index=True)

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, seq={self.seq}, direction={self.direction!r})"


class AuditRecord(Base):
    """Append-only record of every transcript read, written before any plaintext is returned."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(80))

    def __repr__(self) -> str:
        return f"AuditRecord(id={self.id}, actor={self.actor!r}, action={self.action!r})"


class InboxEvent(Base):
    """A channel event stored before it is acknowledged; processed exactly once, in order.

    The payload (it holds the message text and the raw user ID) is sealed with the master
    keyring and dropped once the event is processed.
    """

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        # The claim asks "is an earlier event of this user unfinished?" for every candidate.
        Index("ix_inbox_events_line", "channel", "user_key", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(80))
    # Events of one user are processed in id order; the key is the HMAC pseudonym.
    user_key: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    redelivery: Mapped[bool] = mapped_column(Boolean, default=False)
    payload_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(String(80))

    def __repr__(self) -> str:
        return f"InboxEvent(id={self.id}, kind={self.kind!r}, status={self.status!r})"


class OutboxMessage(Base):
    """Messages waiting to go out on a channel; the id doubles as LINE's X-Line-Retry-Key."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_line", "conversation_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(16))  # "bot" | "counselor" | "system"
    # Rendered messages (JSON), encrypted with the conversation's data key.
    payload_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int] = mapped_column(Integer)
    reply_token: Mapped[str | None] = mapped_column(String(80))
    reply_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_via: Mapped[str | None] = mapped_column(String(8))  # "reply" | "push" | "socket"
    last_status: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"OutboxMessage(id={self.id!r}, status={self.status!r})"


class ConsentRecord(Base):
    """That a resident was shown the consent notice (which version, when, how)."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_key: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(String(36))
    notice_version: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(24))  # "line_follow" | "web_first_message"
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"ConsentRecord(id={self.id}, notice_version={self.notice_version!r})"
