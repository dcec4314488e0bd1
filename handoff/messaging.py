"""Messages from counselors (and Tsunagu's hand-over notices) to the resident.

The text goes into the encrypted transcript; for LINE a row is queued in the durable outbox
(the LINE sender delivers it, never suppressing counselor messages); for the web chat a
frame is returned for the caller to push through the web hub. Nothing here imports
``channels/``: dependencies point channels → bot → handoff → storage, so handoff returns data
and lets the channel layer deliver it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.errors import NotCaseOwner
from storage import outbox
from storage.models import Conversation
from storage.transcript import Transcript

MAX_TEXT_CHARS = 5000  # LINE's limit for one text message


@dataclass(frozen=True)
class Delivery:
    """What was stored for one outgoing message, and what the caller still has to deliver.

    ``outbox_id`` is set for LINE (wake the LINE sender); ``web_frame`` for the web chat
    (what the resident's widget shows; the widget sockets read the message itself from the
    transcript when the conversation's ``message`` notice arrives, in whichever worker).
    """

    message_id: str
    conversation_id: str
    channel: str
    outbox_id: str | None
    web_frame: dict[str, Any] | None


def owner_of(counselor_id: str) -> str:
    """The ``Conversation.owner`` value of a counselor."""
    return f"counselor:{counselor_id}"


def _check_text(text: str) -> str:
    if not text.strip():
        raise ValueError("a message needs text")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"a message is limited to {MAX_TEXT_CHARS} characters")
    return text


async def _deliver(
    session: AsyncSession,
    transcript: Transcript,
    conversation: Conversation,
    *,
    sender: str,
    text: str,
) -> Delivery:
    message = await transcript.append(
        session, conversation, direction="out", sender=sender, body=_check_text(text)
    )
    outbox_id: str | None = None
    web_frame: dict[str, Any] | None = None
    if conversation.channel == "line":
        row = await outbox.enqueue(
            session,
            transcript,
            conversation,
            sender=sender,
            payload=[{"type": "text", "text": text}],
        )
        outbox_id = row.id
    elif conversation.channel == "web":
        web_frame = {"type": "message", "from": sender, "text": text}
    return Delivery(
        message_id=message.id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        outbox_id=outbox_id,
        web_frame=web_frame,
    )


async def send_counselor_message(
    session: AsyncSession,
    transcript: Transcript,
    conversation: Conversation,
    counselor_id: str,
    text: str,
) -> Delivery:
    """Stores and queues a counselor's message; only the conversation's owner may send.

    The owner is re-read under a share lock, so a message cannot slip out after another
    worker released or transferred the conversation.
    """
    owner = await session.scalar(
        select(Conversation.owner)
        .where(Conversation.id == conversation.id)
        .with_for_update(read=True)
    )
    if owner != owner_of(counselor_id):
        raise NotCaseOwner(f"conversation {conversation.id} is not held by {counselor_id}")
    return await _deliver(session, transcript, conversation, sender="counselor", text=text)


async def send_system_message(
    session: AsyncSession, transcript: Transcript, conversation: Conversation, text: str
) -> Delivery:
    """Stores and queues a hand-over notice (sender ``system``; never suppressed on LINE)."""
    return await _deliver(session, transcript, conversation, sender="system", text=text)
