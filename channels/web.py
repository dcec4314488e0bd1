"""Web chat channel: a plain HTTP API (the widget and WebSocket come with the channels issue)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.deps import EngineDep
from bot.types import IncomingMessage

router = APIRouter(prefix="/api/chat", tags=["web chat"])


class ChatMessageIn(BaseModel):
    """A resident's message from the web widget."""

    session_id: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    text: str = Field(min_length=1, max_length=2000)
    language: str | None = Field(default=None, pattern=r"^(ja|en)$")


class ReplyOut(BaseModel):
    """One bot message."""

    text: str
    quick_replies: list[str]


class ChatMessageOut(BaseModel):
    """The bot's answer; ``handed_off`` tells the widget a counselor will answer."""

    replies: list[ReplyOut]
    handed_off: bool


@router.post("/messages")
async def post_message(body: ChatMessageIn, engine: EngineDep) -> ChatMessageOut:
    """Sends one message and returns the bot's replies."""
    result = await engine.handle(
        IncomingMessage(
            channel="web", user_ref=body.session_id, text=body.text, language_hint=body.language
        )
    )
    return ChatMessageOut(
        replies=[
            ReplyOut(text=r.text, quick_replies=list(r.quick_replies)) for r in result.replies
        ],
        handed_off=result.case_id is not None,
    )
