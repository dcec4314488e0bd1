"""Handoff tables: cases, counselors' private notes (encrypted) and counselor accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, utcnow


class Case(Base):
    """A conversation waiting for, or being handled by, a human counselor."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    urgency: Mapped[int] = mapped_column(Integer, default=0)
    pool: Mapped[str] = mapped_column(String(32))
    # Reason codes (rule ids, intents); never message text.
    reasons: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The counselor id holding (or last holding) the case; set by a claim or a transfer.
    counselor: Mapped[str | None] = mapped_column(String(60), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The outcome code chosen at close (handoff/config/outcomes.yml); never free text.
    outcome: Mapped[str | None] = mapped_column(String(40))

    def __repr__(self) -> str:
        return f"Case(id={self.id!r}, status={self.status!r}, urgency={self.urgency})"


class CaseNote(Base):
    """A counselor's private note on a case, sealed with the conversation's data key."""

    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    body_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"CaseNote(id={self.id!r}, case_id={self.case_id!r})"


class CounselorAccount(Base):
    """A console login: argon2id password hash, role, pools and lockout state."""

    __tablename__ = "counselor_accounts"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    login: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16))  # "counselor" | "supervisor" | "admin"
    pools: Mapped[str] = mapped_column(String(200), default="")  # comma-separated pool ids
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"CounselorAccount(id={self.id!r}, login={self.login!r}, role={self.role!r})"
