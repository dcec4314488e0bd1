"""Dependencies of the web chat routers (work for HTTP requests and WebSockets alike)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from app.wiring import Runtime
from channels.web.errors import InvalidSession
from channels.web.hub import Hub, hub_for
from channels.web.service import WebChat
from privacy.consent import current_notice

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="WebChatSession",
    description="The `session` token from `POST /api/chat/sessions`.",
)


def get_web_chat(connection: HTTPConnection) -> WebChat:
    """The process's :class:`WebChat`, built on first use from the app's runtime."""
    state = connection.app.state
    chat = getattr(state, "web_chat", None)
    if not isinstance(chat, WebChat):
        runtime: Runtime = state.runtime
        chat = WebChat(
            engine=runtime.engine,
            database=runtime.database,
            transcript=runtime.transcript,
            pepper=runtime.pepper,
            resume_minutes=runtime.settings.web_session_resume_minutes,
            notice=current_notice(runtime.settings),
            events=runtime.events,
        )
        state.web_chat = chat
    return chat


def get_hub(connection: HTTPConnection) -> Hub:
    """The app's socket hub."""
    return hub_for(connection.app)


WebChatDep = Annotated[WebChat, Depends(get_web_chat)]
HubDep = Annotated[Hub, Depends(get_hub)]


def get_resident(
    chat: WebChatDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The resident's ``user_ref`` from the bearer session token; 401 if not ours."""
    try:
        return chat.resident(credentials.credentials if credentials else None)
    except InvalidSession as exc:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="invalid or missing session: open one with POST /api/chat/sessions",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc


ResidentDep = Annotated[str, Depends(get_resident)]
