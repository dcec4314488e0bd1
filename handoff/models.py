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
    # What the resident was last told about the queue (handoff/resident_notices.py); the
    # columns are compare-and-set guards so that no two workers send the same update.
    notified_position: Mapped[int | None] = mapped_column(Integer)
    notified_wait_minutes: Mapped[int | None] = mapped_column(Integer)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The ``claimed_at`` of the claim whose session warning / cap notice was sent: once per
    # claim (a transfer to another counselor starts a new claim).
    session_warned_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    session_closed_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

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


class ConsoleSession(Base):
    """A console sign-in: the signed cookie names this row, so a session can be revoked.

    A request is signed in only while its row is neither revoked nor expired; logout
    revokes one row, a password change, a lockout or removing the account revokes all of
    the account's rows. ``last_seen`` (touched at most once a minute by pages and the live
    socket) tells who has the console open, e.g. for emergency alerts.
    """

    __tablename__ = "console_sessions"

    # A random token id (``secrets.token_urlsafe``); the cookie also carries an HMAC
    # signature, so knowing an id from a database copy is not enough to sign in.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("counselor_accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"ConsoleSession(account_id={self.account_id!r}, revoked={self.revoked_at})"
