"""One widget socket's feed of its conversation: every outgoing message, once, in order.

A counselor's reply, a hand-over notice or a queue update may be stored by any app worker,
while the resident's socket is held by one of them. So delivery is driven by the
cross-worker event bus, not by whoever wrote the message: the feed subscribes to the
conversation's topic; any notice there ("a message was added", "the case moved", "the bus
reconnected, look again") makes it look for outgoing messages numbered after its cursor
that this socket has not carried yet, read them through the audited transcript reader, and
push them oldest first. Notices carry ids only; the text comes from the database.

Exactly once per socket: the socket's own turn holds :attr:`ConversationFeed.lock` while it
runs and marks the turn's bot replies as sent (they go out in the ``reply`` frame with their
quick-reply buttons), so the notice of that same turn finds nothing new. A turn's notice
names the outgoing messages it stored (``out``): when every one of them is already on this
socket, and no other notice came, the feed does not even look (one read per turn saved).
Pushes and replies never interleave, and a message is pushed only after it is committed and
visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from channels.web.hub import Connection
from channels.web.schemas import CounselorMessageFrame
from channels.web.service import HistoryEntry, WebChat
from core.events import EventBus, conversation_topic
from core.logging import log_event

logger = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT_SECONDS = 10.0


def push_frame(entry: HistoryEntry) -> dict[str, Any]:
    """The ``message`` frame of one stored outgoing message."""
    sender = entry.sender if entry.sender in ("counselor", "system", "bot") else "system"
    frame = CounselorMessageFrame.model_validate(
        {
            "from": sender,
            "text": entry.text,
            "id": entry.message_id,
            "seq": entry.seq,
            "at": entry.at,
        }
    )
    return frame.model_dump(mode="json", by_alias=True)


class ConversationFeed:
    """Pushes one conversation's outgoing messages to one socket (see the module docstring)."""

    def __init__(self, chat: WebChat, events: EventBus, connection: Connection) -> None:
        """Idle until :meth:`follow` names the conversation."""
        self._chat = chat
        self._events = events
        self._connection = connection
        self.lock = asyncio.Lock()
        """Held by the socket's turn, and by every push: the two never interleave."""
        self._conversation_id: str | None = None
        self._after = 0
        self._sent: set[str] = set()
        # Since the last look: messages named by turn notices, and whether any other notice
        # (or none that names its messages) came, which always means looking.
        self._named: set[str] = set()
        self._must_look = True
        self._wake = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._pusher: asyncio.Task[None] | None = None

    @property
    def conversation_id(self) -> str | None:
        """The conversation followed (None before the session's first message)."""
        return self._conversation_id

    async def follow(self, conversation_id: str, after: int) -> None:
        """Follows ``conversation_id`` from message number ``after`` on.

        Waits until the subscription is in place, then looks once for anything committed
        before it (a notice published in between would otherwise be missed). Switching to
        another conversation (after an erasure request) drops the old subscription.
        """
        if conversation_id == self._conversation_id:
            return
        await self._stop_listener()
        self._conversation_id, self._after = conversation_id, after
        self._sent.clear()
        self._must_look = True
        subscribed = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(conversation_id, subscribed))
        waiter = asyncio.create_task(subscribed.wait())
        await asyncio.wait(
            {waiter, self._listener},
            timeout=SUBSCRIBE_TIMEOUT_SECONDS,
            return_when=asyncio.FIRST_COMPLETED,
        )
        waiter.cancel()
        if self._pusher is None:
            self._pusher = asyncio.create_task(self._push_loop())
        self._wake.set()

    def mark_sent(self, message_ids: Iterable[str]) -> None:
        """Records messages the socket carried itself (a turn's replies)."""
        self._sent.update(message_ids)

    def wake(self) -> None:
        """Makes the feed look for new messages (as a notice would)."""
        self._must_look = True
        self._wake.set()

    async def _listen(self, conversation_id: str, subscribed: asyncio.Event) -> None:
        async with self._events.subscribe(conversation_topic(conversation_id)) as notices:
            subscribed.set()
            async for notice in notices:
                out = notice.get("out") if notice.get("kind") == "message" else None
                if isinstance(out, list) and all(isinstance(i, str) for i in out):
                    self._named.update(out)
                else:
                    # Any other notice on the topic may mean a new message.
                    self._must_look = True
                self._wake.set()

    async def _push_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # a failed read must not end the resident's socket
                log_event(
                    logger,
                    "web.push",
                    conversation_id=self._conversation_id,
                    channel="web",
                    status="failed",
                    error_type=type(exc).__name__,
                )
                await asyncio.sleep(1.0)
                self.wake()  # look again: what the failed look was for is still unsent

    async def flush(self) -> int:
        """Pushes every committed outgoing message not yet on this socket; returns how many."""
        async with self.lock:
            conversation_id = self._conversation_id
            if conversation_id is None:
                return 0
            # Taken together, with no await in between: a notice heard later wakes again.
            must_look = self._must_look or not self._named <= self._sent
            self._must_look = False
            self._named.clear()
            if not must_look:
                return 0
            pushed = 0
            for entry in await self._chat.unsent(conversation_id, self._after, self._sent):
                if not await self._connection.send(push_frame(entry)):
                    break
                self._sent.add(entry.message_id)
                pushed += 1
            if pushed:
                log_event(
                    logger,
                    "web.push",
                    conversation_id=conversation_id,
                    channel="web",
                    action="message",
                    status="delivered",
                    count=pushed,
                )
            return pushed

    async def _stop_listener(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None

    async def aclose(self) -> None:
        """Unsubscribes and stops pushing (the socket closed)."""
        await self._stop_listener()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pusher
            self._pusher = None
