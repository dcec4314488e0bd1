"""The web chat's wire format: HTTP bodies and WebSocket frames (all in the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TEXT_CHARS = 2000

Language = Literal["ja", "en"]
Sender = Literal["resident", "bot", "counselor", "system"]
MessageText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description=f"What the resident wrote: 1 to {MAX_TEXT_CHARS} characters.",
    ),
]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text must contain something other than spaces")
    return value


class SessionIn(BaseModel):
    """Opening a chat session; the language selects the consent notice's language."""

    language: Language = "ja"


class ConsentNoticeOut(BaseModel):
    """The notice shown before the first message: what is stored, for how long, who may see it."""

    version: str
    title: str
    body: str


class SessionOut(BaseModel):
    """A new session: the bearer token for every other call and how long a reload may resume."""

    session: str = Field(description="Send as `Authorization: Bearer <session>`.")
    resume_until: datetime
    resume_minutes: int
    notice: ConsentNoticeOut


class MessageIn(BaseModel):
    """A resident's message over plain HTTP (the fallback when a WebSocket cannot open)."""

    text: MessageText
    language: Language | None = Field(
        default=None, description="The widget's language; the bot answers in it."
    )

    _text_not_blank = field_validator("text")(_not_blank)


class ReplyOut(BaseModel):
    """One bot message; quick replies are shown as buttons."""

    text: str
    quick_replies: list[str]
    id: str | None = Field(
        default=None, description="The message's id (the same id `GET /api/chat/messages` shows)."
    )


class MessageOut(BaseModel):
    """The bot's answer; ``handed_off`` tells the widget that a counselor will answer."""

    replies: list[ReplyOut]
    handed_off: bool
    resume_until: datetime


class HistoryEntryOut(BaseModel):
    """One earlier message of the session."""

    model_config = ConfigDict(populate_by_name=True)

    sender: Sender = Field(alias="from")
    text: str
    at: datetime
    id: str | None = None
    seq: int | None = Field(
        default=None, description="The message's number in the conversation (a cursor)."
    )


class HistoryOut(BaseModel):
    """The session's conversation so far, for showing it again after a reload."""

    messages: list[HistoryEntryOut]
    handed_off: bool
    resume_until: datetime


class OutgoingOut(BaseModel):
    """Messages to the resident after a cursor: what a socket would have pushed."""

    messages: list[HistoryEntryOut] = Field(
        description="Bot, counselor and system messages numbered after `after`, oldest first."
    )
    cursor: int = Field(description="Pass as `after` next time.")
    handed_off: bool
    resume_until: datetime


# --- WebSocket frames (JSON text frames) --------------------------------------------------------


class AuthFrame(BaseModel):
    """Client → server, first frame: the session token (kept out of URLs and logs).

    ``after``: the ``seq`` of the last message the widget shows; messages to the resident
    numbered after it are pushed at once (a reconnect misses nothing). Without it, pushes
    start with messages stored after the socket opened (older ones are in the history).
    """

    type: Literal["auth"]
    session: str = Field(max_length=100)
    after: int | None = Field(default=None, ge=0)


class MessageFrame(BaseModel):
    """Client → server: a resident's message; ``id`` comes back on the reply or error."""

    type: Literal["message"]
    text: MessageText
    language: Language | None = None
    id: str | None = Field(default=None, max_length=64)

    _text_not_blank = field_validator("text")(_not_blank)


ClientFrame = Annotated[AuthFrame | MessageFrame, Field(discriminator="type")]


class ReadyFrame(BaseModel):
    """Server → client after a valid ``auth``: the socket now carries messages both ways."""

    type: Literal["ready"] = "ready"
    handed_off: bool
    resume_until: datetime
    cursor: int | None = Field(
        default=None, description="Pushes follow messages numbered after this `seq`."
    )


class ReplyFrame(BaseModel):
    """Server → client: the bot's answer to one ``message`` frame."""

    type: Literal["reply"] = "reply"
    id: str | None = None
    replies: list[ReplyOut]
    handed_off: bool
    resume_until: datetime


class CounselorMessageFrame(BaseModel):
    """Server → client push: a message to the resident that was not a reply on this socket.

    A counselor's message, a hand-over or queue notice (``system``), or a bot reply to a
    message the resident sent elsewhere (another tab, the HTTP fallback). Each is pushed
    once per socket, in ``seq`` order.
    """

    type: Literal["message"] = "message"
    sender: Literal["counselor", "system", "bot"] = Field(default="counselor", alias="from")
    text: str
    id: str | None = None
    seq: int | None = None
    at: datetime | None = None

    model_config = ConfigDict(populate_by_name=True)


class StatusFrame(BaseModel):
    """Server → client push: where the resident's case stands."""

    type: Literal["status"] = "status"
    state: Literal["queued", "with_counselor", "returned_to_bot", "closed"] | None = None
    queue_position: int | None = Field(default=None, ge=1)


class ErrorFrame(BaseModel):
    """Server → client: a frame was refused; the socket stays open unless the session is bad."""

    type: Literal["error"] = "error"
    code: Literal[
        "invalid_frame", "invalid_session", "not_authenticated", "frame_too_large", "rate_limited"
    ]
    detail: str
    id: str | None = None


ServerFrame = Annotated[
    ReadyFrame | ReplyFrame | CounselorMessageFrame | StatusFrame | ErrorFrame,
    Field(discriminator="type"),
]


class SocketProtocol(BaseModel):
    """Documentation of ``/api/chat/ws``: sample frames each side may send (JSON text frames)."""

    detail: str
    client_frames: list[ClientFrame]
    server_frames: list[ServerFrame]
