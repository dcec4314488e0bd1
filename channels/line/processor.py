"""Processes one stored LINE event inside the inbox worker's transaction.

Everything an event causes — transcript entries, state changes, the case, the outgoing
messages — is written in the worker's transaction, which also marks the event done. So a
crash at any point either leaves the event to be processed again or has done all of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channel_events import MEDIA_KINDS, ChannelEvents
from bot.engine import Engine
from bot.types import IncomingMessage, Reply
from channels.line.render import batches
from core.logging import log_event
from storage.inbox import ClaimedEvent
from storage.models import Conversation
from storage.outbox import enqueue
from storage.transcript import Transcript

logger = logging.getLogger(__name__)
CHANNEL = "line"

NoticeProvider = Callable[[AsyncSession, Conversation, str], Awaitable[str | None]]


@dataclass
class LineProcessor:
    """Maps LINE event types to conversation actions and queues the replies."""

    engine: Engine
    events: ChannelEvents
    transcript: Transcript
    reply_token_seconds: float
    # Returns the consent notice to show on follow (and records it), or None.
    consent_notice: NoticeProvider | None = None
    # Called (not awaited by the turn) to show LINE's loading animation.
    show_loading: Callable[[str], Coroutine[Any, Any, bool]] | None = None

    async def __call__(self, session: AsyncSession, event: ClaimedEvent) -> None:
        """Handles one event; unknown kinds are completed without action."""
        payload = event.payload
        user_id = _user_id(payload)
        if user_id is None:
            log_event(logger, "line.event_skipped", kind=event.kind, reason="no_user")
            return
        kind = str(payload.get("type", ""))
        conversation: Conversation | None = None
        replies: list[Reply] = []
        if kind == "message":
            conversation, replies = await self._message(session, event, user_id)
        elif kind == "follow":
            conversation, replies = await self.events.follow(session, CHANNEL, user_id, notice=None)
            if self.consent_notice is not None:
                notice = await self.consent_notice(session, conversation, "line_follow")
                if notice:
                    await self.transcript.append(
                        session, conversation, direction="out", sender="bot", body=notice
                    )
                    replies.insert(0, Reply(text=notice))
        elif kind == "unfollow":
            await self.events.unfollow(session, CHANNEL, user_id)
        elif kind == "unsend":
            message_id = str((payload.get("unsend") or {}).get("messageId", ""))
            if message_id:
                await self.events.unsend(session, CHANNEL, user_id, message_id)
        else:
            log_event(logger, "line.event_ignored", kind=kind)
        if conversation is None:
            return
        await self._remember_address(session, conversation, user_id)
        if replies:
            await self._queue(session, conversation, replies, payload, event)

    async def _message(
        self, session: AsyncSession, event: ClaimedEvent, user_id: str
    ) -> tuple[Conversation | None, list[Reply]]:
        message = event.payload.get("message") or {}
        message_type = str(message.get("type", ""))
        external_id = str(message.get("id")) if message.get("id") else None
        if message_type == "text":
            text = str(message.get("text", ""))
            if not text.strip():
                return None, []
            if self.show_loading is not None:
                # Fire and forget: the resident sees "typing" while NLU runs.
                asyncio.get_running_loop().create_task(self.show_loading(user_id))
            result = await self.engine.handle(
                IncomingMessage(
                    channel=CHANNEL, user_ref=user_id, text=text, external_id=external_id
                ),
                session=session,
            )
            conversation = await session.get(Conversation, result.conversation_id)
            if conversation is None:
                return None, []
            return conversation, await self._with_notice(session, conversation, result.replies)
        if message_type in MEDIA_KINDS:
            conversation, replies = await self.events.media(
                session, CHANNEL, user_id, message_type, external_id=external_id
            )
            return conversation, await self._with_notice(session, conversation, replies)
        log_event(logger, "line.event_ignored", kind=f"message.{message_type}")
        return None, []

    async def _with_notice(
        self, session: AsyncSession, conversation: Conversation, replies: Sequence[Reply]
    ) -> list[Reply]:
        """First contact without a follow event: the consent notice rides on the first reply.

        It goes after the answer, so a resident in danger reads the safety message first.
        """
        out = list(replies)
        if not out or self.consent_notice is None:
            return out
        notice = await self.consent_notice(session, conversation, "line_first_message")
        if notice:
            await self.transcript.append(
                session, conversation, direction="out", sender="bot", body=notice
            )
            out.append(Reply(text=notice))
        return out

    async def _remember_address(
        self, session: AsyncSession, conversation: Conversation, user_id: str
    ) -> None:
        if conversation.address_ciphertext is not None:
            return
        blob, _ = await self.transcript.seal_item(
            session, conversation.id, purpose="address", item="address", data=user_id.encode()
        )
        conversation.address_ciphertext = blob

    async def _queue(
        self,
        session: AsyncSession,
        conversation: Conversation,
        replies: list[Reply],
        payload: dict[str, Any],
        event: ClaimedEvent,
    ) -> None:
        token = payload.get("replyToken")
        # The token's clock starts when LINE sent the event, not when we stored it.
        sent_ms = payload.get("timestamp")
        start = (
            datetime.fromtimestamp(float(sent_ms) / 1000, UTC)
            if isinstance(sent_ms, int | float)
            else datetime.fromtimestamp(event.received_at_epoch, UTC)
        )
        start = min(start, datetime.fromtimestamp(event.received_at_epoch, UTC))
        expires = start + timedelta(seconds=self.reply_token_seconds)
        for index, batch in enumerate(batches(replies)):
            await enqueue(
                session,
                self.transcript,
                conversation,
                sender="bot",
                payload=batch,
                # A token answers one request only: later batches are pushed.
                reply_token=str(token) if token and index == 0 else None,
                reply_token_expires_at=expires if token and index == 0 else None,
            )


def _user_id(payload: dict[str, Any]) -> str | None:
    source = payload.get("source") or {}
    user_id = source.get("userId")
    return str(user_id) if user_id else None
