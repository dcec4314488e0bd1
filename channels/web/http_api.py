"""Web chat over plain HTTP: sessions, messages (the fallback when no WebSocket opens), resume."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

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
    ReplyOut,
    SessionIn,
    SessionOut,
)
from channels.web.service import CHANNEL, Answer, Notice

router = APIRouter(prefix="/api/chat", tags=["web chat"])


def replies_of(answer: Answer) -> list[ReplyOut]:
    """The turn's replies in wire form (shared with the socket API)."""
    return [ReplyOut(text=r.text, quick_replies=list(r.quick_replies)) for r in answer.turn.replies]


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
        messages=[
            HistoryEntryOut.model_validate({"from": e.sender, "text": e.text, "at": e.at})
            for e in history.entries
        ],
        handed_off=history.handed_off,
        resume_until=history.resume_until,
    )
