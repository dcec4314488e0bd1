"""Web chat over a WebSocket: replies and server pushes (counselor messages, queue status).

Protocol (JSON text frames, see ``SocketProtocol`` in the OpenAPI schema): the client's first
frame is ``{"type": "auth", "session": ...}`` — the token never appears in a URL, so it is not
in access logs or browser history. Then ``{"type": "message", "text": ...}`` frames get
``{"type": "reply", ...}`` answers, and the server pushes ``message`` frames at any time:
every message to the resident stored by any worker (a counselor's reply, a hand-over or
queue notice) reaches the socket once, in order, through its
:class:`~channels.web.feed.ConversationFeed`, which follows the conversation's topic on the
cross-worker event bus. Ad-hoc ``status`` frames go through
:meth:`channels.web.hub.Hub.deliver` (this worker's sockets only).
"""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.security.rate_limit import rate_limiter
from channels.web.deps import HubDep, WebChatDep
from channels.web.errors import InvalidSession
from channels.web.feed import ConversationFeed
from channels.web.http_api import replies_of
from channels.web.hub import Connection, Hub
from channels.web.schemas import (
    AuthFrame,
    ClientFrame,
    CounselorMessageFrame,
    ErrorFrame,
    MessageFrame,
    ReadyFrame,
    ReplyFrame,
    ReplyOut,
    SocketProtocol,
    StatusFrame,
)
from channels.web.service import CHANNEL, WebChat
from core.events import EventBus
from storage.db import utcnow

router = APIRouter(prefix="/api/chat", tags=["web chat"])

AUTH_TIMEOUT_SECONDS = 10.0
# A 2,000-character message is at most ~8 kB of JSON-escaped UTF-8; anything far bigger is abuse.
MAX_FRAME_BYTES = 16_384
CLOSE_INVALID_SESSION = 4401
_client_frames: TypeAdapter[AuthFrame | MessageFrame] = TypeAdapter(ClientFrame)


def _wire(frame: BaseModel) -> dict[str, object]:
    return frame.model_dump(mode="json", by_alias=True)


async def _receive_text(websocket: WebSocket) -> str:
    """The next text frame; a binary frame reads as "" (refused as an invalid frame)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    return text if isinstance(text, str) else ""


def _parse(raw: str) -> AuthFrame | MessageFrame | ErrorFrame:
    """A client frame, or the error frame to answer with."""
    if len(raw.encode("utf-8")) > MAX_FRAME_BYTES:
        return ErrorFrame(
            code="frame_too_large", detail=f"frames are limited to {MAX_FRAME_BYTES} bytes"
        )
    try:
        return _client_frames.validate_json(raw)
    except ValidationError as exc:
        frame_id = None
        try:
            data = json.loads(raw)
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                frame_id = data["id"][:64]
        except ValueError:
            pass
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'frame'}: {e['msg']}" for e in exc.errors()
        )
        return ErrorFrame(code="invalid_frame", detail=problems[:500], id=frame_id)


@router.get(
    "/ws",
    status_code=status.HTTP_426_UPGRADE_REQUIRED,
    summary="WebSocket chat (connect with a WebSocket client)",
    response_model=SocketProtocol,
    responses={426: {"description": "A plain GET: the body shows sample frames."}},
)
async def socket_protocol() -> JSONResponse:
    """Describes the WebSocket at this path; a plain HTTP GET gets 426 and sample frames.

    Send ``auth`` first (within 10 s; ``after`` = the ``seq`` of the last message shown, to
    catch up after a reconnect), then ``message`` frames; each gets a ``reply`` with the
    same ``id``. The server pushes ``message`` frames (counselor, system, or a bot reply to a
    message sent elsewhere; each once per socket, in ``seq`` order) and ``status`` frames.
    Text is limited to 2,000 characters; a bad frame gets an ``error`` frame and the socket
    stays open; a bad session closes it with code 4401.
    """
    now = utcnow()
    protocol = SocketProtocol(
        detail="This path speaks WebSocket (JSON text frames); connect with ws:// or wss://.",
        client_frames=[
            AuthFrame(type="auth", session="<session from POST /api/chat/sessions>"),
            MessageFrame(type="message", text="…", language="ja", id="m1"),
        ],
        server_frames=[
            ReadyFrame(handed_off=False, resume_until=now, cursor=4),
            ReplyFrame(
                id="m1",
                replies=[ReplyOut(text="…", quick_replies=["…"])],
                handed_off=False,
                resume_until=now,
            ),
            CounselorMessageFrame(text="…", id="<message id>", seq=5, at=now),
            StatusFrame(state="queued", queue_position=2),
            ErrorFrame(code="invalid_frame", detail="text: …", id="m1"),
        ],
    )
    return JSONResponse(
        status_code=status.HTTP_426_UPGRADE_REQUIRED,
        content=_wire(protocol),
        headers={"Upgrade": "websocket"},
    )


async def _authenticate(
    websocket: WebSocket, connection: Connection, chat: WebChat
) -> tuple[str, int | None] | None:
    """The resident's ``user_ref`` and the ``after`` cursor of a valid auth frame."""
    try:
        raw = await asyncio.wait_for(_receive_text(websocket), timeout=AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        return None
    frame = _parse(raw)
    if isinstance(frame, AuthFrame):
        try:
            return chat.resident(frame.session), frame.after
        except InvalidSession:
            pass
    await connection.send(
        _wire(
            ErrorFrame(
                code="invalid_session" if isinstance(frame, AuthFrame) else "not_authenticated",
                detail='send {"type": "auth", "session": <token>} first',
            )
        )
    )
    return None


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket, chat: WebChatDep, hub: HubDep) -> None:
    """One widget's socket: authenticate, then answer messages until it closes."""
    await websocket.accept()
    connection = Connection(websocket)
    events: EventBus = websocket.app.state.runtime.events
    feed = ConversationFeed(chat, events, connection)
    try:
        authenticated = await _authenticate(websocket, connection, chat)
        if authenticated is None:
            await websocket.close(code=CLOSE_INVALID_SESSION)
            return
        user_ref, requested_after = authenticated
        session = await chat.status(user_ref)
        cursor: int | None = None
        async with feed.lock:  # "ready" first, then any catch-up pushes
            if session.conversation_id:
                hub.register(session.conversation_id, connection)
                cursor = await chat.latest_seq(session.conversation_id)
                # Catching up from an earlier cursor shows old messages: only within the same
                # resume window as the history (an old token replays nothing).
                if requested_after is not None and session.resume_until >= utcnow():
                    cursor = min(cursor, requested_after)
                await feed.follow(session.conversation_id, cursor)
            await connection.send(
                _wire(
                    ReadyFrame(
                        handed_off=session.handed_off,
                        resume_until=session.resume_until,
                        cursor=cursor,
                    )
                )
            )
        await _serve(websocket, connection, chat, hub, feed, user_ref)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unregister(connection)
        await feed.aclose()


async def _serve(
    websocket: WebSocket,
    connection: Connection,
    chat: WebChat,
    hub: Hub,
    feed: ConversationFeed,
    user_ref: str,
) -> None:
    while True:
        frame = _parse(await _receive_text(websocket))
        if isinstance(frame, ErrorFrame):
            await connection.send(_wire(frame))
            continue
        if isinstance(frame, AuthFrame):
            await connection.send(
                _wire(ErrorFrame(code="invalid_frame", detail="already authenticated"))
            )
            continue
        limit = await rate_limiter(websocket).hit_user(CHANNEL, chat.user_key(user_ref))
        if not limit.allowed:
            await connection.send(
                _wire(
                    ErrorFrame(
                        code="rate_limited",
                        detail=f"too many messages; try again in {limit.retry_after} s",
                        id=frame.id,
                    )
                )
            )
            continue
        # The turn holds the feed's lock: a push that its own notice (or any other) wakes
        # waits for the reply frame, and finds the turn's replies already marked as sent.
        async with feed.lock:
            answer = await chat.send(user_ref, frame.text, frame.language)
            conversation_id = answer.turn.conversation_id
            hub.register(conversation_id, connection)
            await feed.follow(conversation_id, 0)
            feed.mark_sent(answer.reply_ids)
            await connection.send(
                _wire(
                    ReplyFrame(
                        id=frame.id,
                        replies=replies_of(answer),
                        handed_off=answer.handed_off,
                        resume_until=answer.resume_until,
                    )
                )
            )
