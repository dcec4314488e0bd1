"""The case table: one open case per escalated conversation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
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

    def __repr__(self) -> str:
        return f"Case(id={self.id!r}, status={self.status!r}, urgency={self.urgency})"
