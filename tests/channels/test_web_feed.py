"""A widget socket's feed: what makes it read the conversation again, and what does not.

The feed's reads are real work in every worker for every turn (bench handoff), so a turn's
own notice, naming replies the socket already carried, must not cost one; every other notice
must, or a counselor's message would wait for the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from channels.web.feed import ConversationFeed
from channels.web.service import HistoryEntry
from core.events import LocalEventBus, conversation_topic

TOPIC = conversation_topic("conv-1")


class StoredOutgoing:
    """The conversation's outgoing messages, as :meth:`WebChat.unsent` would return them."""

    def __init__(self) -> None:
        self.messages: list[HistoryEntry] = []
        self.reads = 0

    def add(self, message_id: str, sender: str = "bot") -> None:
        seq = len(self.messages) + 1
        at = datetime(2026, 11, 22, tzinfo=UTC)
        self.messages.append(HistoryEntry(sender, f"text {message_id}", at, message_id, seq))

    async def unsent(
        self, conversation_id: str, after: int, sent: Collection[str] = ()
    ) -> list[HistoryEntry]:
        assert conversation_id == "conv-1"
        self.reads += 1
        return [m for m in self.messages if m.seq > after and m.message_id not in sent]


class Socket:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> bool:
        self.frames.append(frame)
        return True


async def _settle() -> None:
    """Lets the listener and the push loop run everything already delivered to them."""
    for _ in range(20):
        await asyncio.sleep(0.01)


async def test_own_turns_cost_no_read_and_everything_else_does() -> None:
    bus, chat, socket = LocalEventBus(), StoredOutgoing(), Socket()
    feed = ConversationFeed(chat, bus, socket)  # type: ignore[arg-type]
    try:
        await feed.follow("conv-1", 0)
        await _settle()
        assert chat.reads == 1  # the first look after subscribing

        # The socket's own turn: its replies went out in the reply frame.
        async with feed.lock:
            chat.add("r1")
            chat.add("r2")
            await bus.publish(TOPIC, {"kind": "message", "out": ["r1", "r2"]})
            feed.mark_sent(["r1", "r2"])
        await _settle()
        assert chat.reads == 1 and socket.frames == []

        # A turn the resident ran elsewhere (another tab, the HTTP fallback): pushed here.
        chat.add("r3")
        await bus.publish(TOPIC, {"kind": "message", "out": ["r3"]})
        await _settle()
        assert chat.reads == 2 and [f["id"] for f in socket.frames] == ["r3"]

        # A counselor's message names no turn: always a look.
        chat.add("c1", sender="counselor")
        await bus.publish(TOPIC, {"kind": "message", "message_id": "c1"})
        await _settle()
        assert chat.reads == 3 and [f["id"] for f in socket.frames] == ["r3", "c1"]

        # An own turn's notice and a case notice heard together: the case notice wins.
        async with feed.lock:
            chat.add("r4")
            await bus.publish(TOPIC, {"kind": "message", "out": ["r4"]})
            await bus.publish(TOPIC, {"kind": "claimed", "case_id": "case-1"})
            feed.mark_sent(["r4"])
        await _settle()
        assert chat.reads == 4 and [f["id"] for f in socket.frames] == ["r3", "c1"]
    finally:
        await feed.aclose()


async def test_a_failed_read_is_tried_again_even_after_an_own_turn() -> None:
    bus, chat, socket = LocalEventBus(), StoredOutgoing(), Socket()
    feed = ConversationFeed(chat, bus, socket)  # type: ignore[arg-type]
    failures = [RuntimeError("database away")]
    read = chat.unsent

    async def flaky(conversation_id: str, after: int, sent: Collection[str] = ()) -> Any:
        if failures:
            raise failures.pop()
        return await read(conversation_id, after, sent)

    chat.add("c1", sender="counselor")
    chat.unsent = flaky  # type: ignore[method-assign]
    try:
        await feed.follow("conv-1", 0)
        for _ in range(300):  # the retry comes after a pause of about a second
            if socket.frames:
                break
            await asyncio.sleep(0.01)
        assert [f["id"] for f in socket.frames] == ["c1"]
    finally:
        await feed.aclose()
