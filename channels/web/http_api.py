"""Web chat over plain HTTP: sessions, messages (the fallback when no WebSocket opens), resume."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status

from app.security.rate_limit import enforce_user_limit
from channels.web.deps import ResidentDep, WebChatDep
from channels.web.errors import SessionExpired
from channels.web.schemas import (
    ConsentNoticeOut,
    HistoryEntryOut,
    HistoryOut,
    Language,
    MessageIn,
    MessageOut,
    OutgoingOut,
    ReplyOut,
    SessionIn,
    SessionOut,
)
from channels.web.service import CHANNEL, Answer, HistoryEntry, Notice

router = APIRouter(prefix="/api/chat", tags=["web chat"])
# The widget sends the ids of its last few replies; more would only make URLs long (the
# server then reads those again, audited, and the widget drops what it already shows).
MAX_SKIP = 20


def replies_of(answer: Answer) -> list[ReplyOut]:
    """The turn's replies in wire form (shared with the socket API), with their message ids."""
    replies = answer.turn.replies
    ids: list[str | None] = (
        list(answer.reply_ids) if len(answer.reply_ids) == len(replies) else [None] * len(replies)
    )
    return [
        ReplyOut(text=r.text, quick_replies=list(r.quick_replies), id=i)
        for r, i in zip(replies, ids, strict=True)
    ]


def _entry_out(entry: HistoryEntry) -> HistoryEntryOut:
    return HistoryEntryOut.model_validate(
        {
            "from": entry.sender,
            "text": entry.text,
            "at": entry.at,
            "id": entry.message_id or None,
            "seq": entry.seq or None,
        }
    )


@router.post("/sessions", status_code=status.HTTP_201_CREATED)
async def open_session(chat: WebChatDep, body: SessionIn | None = None) -> SessionOut:
    """Issues a session token; the widget keeps it in sessionStorage (gone when the tab closes)."""
    opened = chat.open_session((body or SessionIn()).language)
    return SessionOut(
        session=opened.token,
        resume_until=opened.resume_until,
        resume_minutes=chat.resume_minutes,
        notice=_notice_out(opened.notice),
    )


def _notice_out(notice: Notice) -> ConsentNoticeOut:
    return ConsentNoticeOut(version=notice.version, title=notice.title, body=notice.body)


@router.get("/notice")
async def get_notice(chat: WebChatDep, language: Language = "ja") -> ConsentNoticeOut:
    """The consent notice in ``language`` (the widget's language toggle re-fetches it)."""
    return _notice_out(chat.notice(language))


@router.post("/messages", responses={429: {"description": "Too many messages; see Retry-After."}})
async def post_message(
    request: Request, body: MessageIn, chat: WebChatDep, resident: ResidentDep
) -> MessageOut:
    """Sends one message and returns the bot's replies."""
    await enforce_user_limit(request, CHANNEL, chat.user_key(resident))
    answer = await chat.send(resident, body.text, body.language)
    return MessageOut(
        replies=replies_of(answer), handed_off=answer.handed_off, resume_until=answer.resume_until
    )


@router.get("/history", responses={410: {"description": "The resume window has passed."}})
async def get_history(chat: WebChatDep, resident: ResidentDep) -> HistoryOut:
    """The session's messages, for showing them again after a reload (audited read)."""
    try:
        history = await chat.history(resident)
    except SessionExpired as exc:
        raise HTTPException(status_code=status.HTTP_410_GONE, detail="session expired") from exc
    return HistoryOut(
        messages=[_entry_out(e) for e in history.entries],
        handed_off=history.handed_off,
        resume_until=history.resume_until,
    )


@router.get("/messages", responses={410: {"description": "The resume window has passed."}})
async def get_messages(
    chat: WebChatDep,
    resident: ResidentDep,
    after: Annotated[
        int, Query(ge=0, description="The `cursor` of the last answer (or a message's `seq`).")
    ] = 0,
    skip: Annotated[
        list[UUID],
        Query(
            max_length=MAX_SKIP,
            description="Ids of messages the widget already shows (its own POSTs' replies).",
        ),
    ] = [],  # noqa: B006 - FastAPI copies query defaults; this is never mutated
) -> OutgoingOut:
    """Messages to the resident after a cursor: the plain-HTTP fallback's way to get pushes.

    A widget without a WebSocket polls this for counselor, hand-over and queue messages.
    Bot replies to its own POSTs are included too unless their ids are in ``skip``: then a
    poll right after a turn reads and sends nothing again. Reading new messages is audited
    like the history (reason ``resident.delivery``); a poll that finds nothing new, or only
    skipped ids, reads nothing and leaves no audit record (the cursor still moves on).
    """
    try:
        outgoing = await chat.outgoing(resident, after, {str(i) for i in skip})
    except SessionExpired as exc:
        raise HTTPException(status_code=status.HTTP_410_GONE, detail="session expired") from exc
    return OutgoingOut(
        messages=[_entry_out(e) for e in outgoing.entries],
        cursor=outgoing.cursor,
        handed_off=outgoing.handed_off,
        resume_until=outgoing.resume_until,
    )
