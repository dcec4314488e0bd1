"""Conversation events that are not resident text: follow, unfollow, unsend, media.

They change the conversation (reachability, hidden messages) and sometimes need a reply, but
never go through NLU. Each runs inside the caller's transaction, like ``Engine.handle``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine import EngineDeps, state_of
from bot.types import Reply
from storage.conversations import get_or_open
from storage.crypto import user_key
from storage.models import Conversation
from storage.outbox import drop_pending

MEDIA_KINDS = frozenset({"image", "video", "audio", "file", "sticker", "location"})


class ChannelEvents:
    """Handles non-text events for any channel."""

    def __init__(self, deps: EngineDeps) -> None:
        """Keeps the engine's collaborators; no I/O here."""
        self._d = deps

    async def conversation(
        self, session: AsyncSession, channel: str, user_ref: str, language: str = "ja"
    ) -> Conversation:
        """The resident's conversation (locked for this transaction), opened if needed."""
        key = user_key(self._d.pepper, channel, user_ref)
        return await get_or_open(session, channel=channel, user_key=key, language=language)

    async def follow(
        self, session: AsyncSession, channel: str, user_ref: str, *, notice: str | None
    ) -> tuple[Conversation, list[Reply]]:
        """A resident (re)added the account: pushes are allowed again; greet, with the notice."""
        conversation = await self.conversation(session, channel, user_ref)
        conversation.reachable = True
        replies = []
        if notice:
            replies.append(Reply(text=notice))
        replies.append(
            Reply(
                text=self._d.responses.text(conversation.language, "greeting"),
                quick_replies=self._d.responses.quick_replies(conversation.language),
            )
        )
        for reply in replies:
            await self._d.transcript.append(
                session, conversation, direction="out", sender="bot", body=reply.text
            )
        return conversation, replies

    async def unfollow(self, session: AsyncSession, channel: str, user_ref: str) -> int:
        """The resident blocked the account: nothing more may be pushed; returns dropped count."""
        conversation = await self.conversation(session, channel, user_ref)
        conversation.reachable = False
        return await drop_pending(session, conversation.id)

    async def unsend(
        self, session: AsyncSession, channel: str, user_ref: str, external_id: str
    ) -> int:
        """The resident withdrew a message: hide it from the transcript and the console."""
        conversation = await self.conversation(session, channel, user_ref)
        ref = user_key(self._d.pepper, f"{channel}-msg", external_id)
        return await self._d.transcript.hide(session, conversation.id, ref)

    async def media(
        self,
        session: AsyncSession,
        channel: str,
        user_ref: str,
        kind: str,
        *,
        external_id: str | None = None,
    ) -> tuple[Conversation, list[Reply]]:
        """A sticker, picture or sound: recorded (as its kind only) and answered kindly.

        In a counselor's conversation the bot stays silent, but the entry still appears in
        the transcript so the counselor knows something arrived. An escalated conversation
        gets its hotlines again rather than a cheerful request.
        """
        if kind not in MEDIA_KINDS:
            raise ValueError(f"unknown media kind {kind!r}")
        conversation = await self.conversation(session, channel, user_ref)
        ref = user_key(self._d.pepper, f"{channel}-msg", external_id) if external_id else None
        await self._d.transcript.append(
            session,
            conversation,
            direction="in",
            sender="resident",
            body=f"[{kind}]",
            external_ref=ref,
        )
        state = state_of(conversation)
        language = conversation.language
        responses = self._d.responses
        if state.owner != "bot":
            return conversation, []
        if state.sensitive:
            text = responses.text(language, "sensitive_followup")
            block = responses.hotline_block(language, state.categories, state.max_urgency)
            replies = [Reply(text=f"{text}\n\n{block}")]
        else:
            replies = [
                Reply(
                    text=responses.text(language, "ask_for_text"),
                    quick_replies=responses.quick_replies(language),
                )
            ]
        for reply in replies:
            await self._d.transcript.append(
                session, conversation, direction="out", sender="bot", body=reply.text
            )
        return conversation, replies
