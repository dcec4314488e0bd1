"""Builds conversations with messages, an address, a case and queued messages for privacy tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update

from handoff.queue import enqueue as open_case
from storage import outbox
from storage.conversations import get_or_open
from storage.db import Database
from storage.models import Conversation, ConversationKey
from storage.transcript import MessageMeta, Transcript


@dataclass(frozen=True)
class Seeded:
    conversation_id: str
    user_key: str
    wrapped_key: bytes
    texts: tuple[str, ...]


async def seed_conversation(
    database: Database,
    transcript: Transcript,
    *,
    last_activity: datetime,
    texts: tuple[str, ...] = ("夫が怖いです", "相談員に つなぎます"),
    channel: str = "line",
    with_case: bool = True,
    with_outbox: bool = True,
) -> Seeded:
    """A conversation whose last message was at ``last_activity``."""
    user_key = uuid.uuid4().hex + uuid.uuid4().hex
    async with database.session() as s:
        conversation = await get_or_open(s, channel=channel, user_key=user_key)
        for i, text in enumerate(texts):
            await transcript.append(
                s,
                conversation,
                direction="in" if i % 2 == 0 else "out",
                sender="resident" if i % 2 == 0 else "bot",
                body=text,
                meta=MessageMeta(intent="dv", urgency=2, escalate=True, reasons=("dv",)),
            )
        blob, _ = await transcript.seal_item(
            s, conversation.id, purpose="address", item="address", data=b"U" + b"a" * 32
        )
        conversation.address_ciphertext = blob
        if with_case:
            await open_case(
                session=s, conversation_id=conversation.id, urgency=2, pool="dv", reasons=("dv",)
            )
        if with_outbox:
            await outbox.enqueue(
                s, transcript, conversation, sender="bot", payload=[{"type": "text", "text": "x"}]
            )
        conversation_id = conversation.id
    async with database.session() as s:
        await s.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(updated_at=last_activity, created_at=last_activity)
        )
        key = await s.get(ConversationKey, conversation_id)
        assert key is not None and key.wrapped_key is not None
        wrapped = bytes(key.wrapped_key)
    return Seeded(conversation_id, user_key, wrapped, texts)
