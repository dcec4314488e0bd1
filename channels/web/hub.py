"""The in-process registry of open widget sockets, by conversation.

Messages to the resident (counselor replies, hand-over and queue notices) do not go through
here: they are stored in the transcript and each socket's
:class:`~channels.web.feed.ConversationFeed` pushes them when the conversation's notice
arrives on the cross-worker event bus, whichever worker stored them. :meth:`Hub.deliver`
remains for ad-hoc frames to this worker's sockets (``status``); a False return means
nobody here is listening.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from starlette.applications import Starlette
from starlette.websockets import WebSocket, WebSocketState

from core.logging import log_event

logger = logging.getLogger(__name__)


class Connection:
    """One open socket; sends are serialised so a push never interleaves with a reply."""

    def __init__(self, websocket: WebSocket) -> None:
        """Wraps an accepted socket."""
        self._websocket = websocket
        self._lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> bool:
        """Sends one JSON frame; False if the socket is already closed or fails."""
        async with self._lock:
            if self._websocket.application_state is not WebSocketState.CONNECTED:
                return False
            try:
                await self._websocket.send_json(frame)
            except (RuntimeError, OSError):
                return False
            return True


class Hub:
    """Open sockets per conversation id (a reload may briefly leave two)."""

    def __init__(self) -> None:
        """Starts empty."""
        self._sockets: dict[str, set[Connection]] = defaultdict(set)

    def register(self, conversation_id: str, connection: Connection) -> None:
        """Routes pushes for ``conversation_id`` to ``connection``."""
        self._sockets[conversation_id].add(connection)

    def unregister(self, connection: Connection) -> None:
        """Forgets ``connection`` wherever it is registered (on close)."""
        for conversation_id in [c for c, conns in self._sockets.items() if connection in conns]:
            self._sockets[conversation_id].discard(connection)
            if not self._sockets[conversation_id]:
                del self._sockets[conversation_id]

    def listening(self, conversation_id: str) -> int:
        """How many sockets of this worker are open for ``conversation_id``."""
        return len(self._sockets.get(conversation_id, ()))

    async def deliver(self, conversation_id: str, frame: dict[str, Any]) -> bool:
        """Pushes ``frame`` to every socket of the conversation; True if any received it."""
        delivered = False
        for connection in list(self._sockets.get(conversation_id, ())):
            if await connection.send(frame):
                delivered = True
            else:
                self.unregister(connection)
        log_event(
            logger,
            "web.push",
            conversation_id=conversation_id,
            channel="web",
            action=str(frame.get("type", "")),
            status="delivered" if delivered else "no_socket",
        )
        return delivered


def hub_for(app: Starlette) -> Hub:
    """The app's hub, created on first use (one per app, so tests never share sockets)."""
    hub = getattr(app.state, "web_hub", None)
    if not isinstance(hub, Hub):
        hub = Hub()
        app.state.web_hub = hub
    return hub
