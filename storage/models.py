"""Tables for conversations, their encrypted messages, data keys and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
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
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Once a conversation is sensitive it stays sensitive: no cheerful templates, no FAQ-only.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    max_urgency: Mapped[int] = mapped_column(Integer, default=0)
    categories: Mapped[str] = mapped_column(String(200), default="")
    # "bot" or "counselor:<id>"; the handoff issue enforces one owner across workers.
    owner: Mapped[str] = mapped_column(String(80), default="bot")
    last_intent: Mapped[str | None] = mapped_column(String(40))
    message_count: Mapped[int] = mapped_column(Integer, default=0)

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

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, seq={self.seq}, direction={self.direction!r})"


class AuditRecord(Base):
    """Append-only record of every transcript read, written before any plaintext is returned."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(80))

    def __repr__(self) -> str:
        return f"AuditRecord(id={self.id}, actor={self.actor!r}, action={self.action!r})"
