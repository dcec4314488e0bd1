"""Finding or opening a resident's conversation."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


async def get_or_open(
    session: AsyncSession, *, channel: str, user_key: str, language: str = "ja"
) -> Conversation:
    """Returns the resident's latest conversation on ``channel``, opening one if none exists.

    The row is locked (``FOR UPDATE`` where the database supports it) so that two workers
    handling the same resident serialise their turns. A conversation whose data key was
    destroyed (retention, erasure) is over: the resident's next message opens a new one.
    """
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.channel == channel, Conversation.user_key == user_key)
        .order_by(Conversation.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if conversation is None or conversation.shredded_at is not None:
        conversation = Conversation(
            id=str(uuid.uuid4()),
            channel=channel,
            user_key=user_key,
            language=language,
            sensitive=False,
            max_urgency=0,
            categories="",
            owner="bot",
            message_count=0,
        )
        session.add(conversation)
        await session.flush()
    return conversation
