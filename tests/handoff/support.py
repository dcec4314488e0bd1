"""Rows for handoff tests: a conversation on a channel with a queued case."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from handoff.models import Case
from storage.db import Database, utcnow
from storage.models import Conversation


async def make_case(
    database: Database,
    *,
    channel: str = "line",
    pool: str = "general",
    urgency: int = 2,
    age_minutes: float = 0.0,
    owner: str = "bot",
    now: datetime | None = None,
) -> tuple[str, str]:
    """A conversation and its queued case; returns (conversation id, case id)."""
    conversation_id, case_id = str(uuid.uuid4()), str(uuid.uuid4())
    created = (now or utcnow()) - timedelta(minutes=age_minutes)
    async with database.session() as s:
        s.add(
            Conversation(
                id=conversation_id,
                channel=channel,
                user_key=uuid.uuid4().hex,
                owner=owner,
                sensitive=True,
            )
        )
        await s.flush()
        s.add(
            Case(
                id=case_id,
                conversation_id=conversation_id,
                status="queued",
                urgency=urgency,
                pool=pool,
                reasons="rule.test",
                created_at=created,
                updated_at=created,
            )
        )
    return conversation_id, case_id
