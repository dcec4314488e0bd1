"""Cross-worker events: "something changed, look again" — ids and codes only, never text.

The console's live queue, a counselor's open conversation and a web resident's socket may
each be held by a different app worker than the one that made the change. Publishers send a
small notice on a topic; subscribers re-read what they need through the audited storage
functions. Because notices carry no message text, the transport (Redis, PostgreSQL NOTIFY)
never holds consultation content.

Topics: ``queue`` (a case was opened, claimed, released, closed, transferred) and
``conversation:<id>`` (a message was added or hidden, the owner changed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

Notice = dict[str, Any]


class EventBus(Protocol):
    """Publish/subscribe for notices; implementations must be safe to share across tasks."""

    async def publish(self, topic: str, notice: Notice) -> None:
        """Sends ``notice`` to every current subscriber of ``topic`` in every worker."""
        ...

    def subscribe(
        self, topic: str
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[Notice]]:
        """``async with bus.subscribe(t) as notices: async for n in notices: ...``."""
        ...


class LocalEventBus:
    """One process only (the embedded SQLite set-up): asyncio queues per subscriber."""

    def __init__(self, max_pending: int = 1000) -> None:
        """``max_pending`` bounds a slow subscriber's backlog (older notices are dropped)."""
        self._subscribers: dict[str, set[asyncio.Queue[Notice]]] = defaultdict(set)
        self._max_pending = max_pending

    async def publish(self, topic: str, notice: Notice) -> None:
        """Delivers to this process's subscribers of ``topic``."""
        for queue in list(self._subscribers.get(topic, ())):
            if queue.full():
                queue.get_nowait()  # a notice means "look again": the newest one suffices
            queue.put_nowait(notice)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[Notice]]:
        """Registers a queue for ``topic`` until the block ends."""
        queue: asyncio.Queue[Notice] = asyncio.Queue(self._max_pending)
        self._subscribers[topic].add(queue)

        async def notices() -> AsyncIterator[Notice]:
            while True:
                yield await queue.get()

        try:
            yield notices()
        finally:
            self._subscribers[topic].discard(queue)
            if not self._subscribers[topic]:
                del self._subscribers[topic]


def conversation_topic(conversation_id: str) -> str:
    """The topic of one conversation's changes."""
    return f"conversation:{conversation_id}"


QUEUE_TOPIC = "queue"
