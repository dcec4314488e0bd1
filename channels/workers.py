"""Background workers: the inbox processor and the outbox sender.

Several app processes may run these side by side against PostgreSQL; the storage layer's
leases and ``SKIP LOCKED`` keep them from doing the same work. They are woken in-process
when the webhook stores an event and otherwise poll, so a worker started after a crash
picks up whatever was left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.line.api import LineApi
from channels.line.delivery import backoff, deliver
from core.events import EventBus
from core.logging import log_event
from core.metrics import INBOX_PROCESSED, OUTBOX_RESULTS, PROCESS_SECONDS
from storage import inbox, outbox
from storage.after_commit import publish_deferred
from storage.crypto import Keyring
from storage.db import Database, utcnow
from storage.models import Conversation
from storage.transcript import Transcript

logger = logging.getLogger(__name__)

EventProcessor = Callable[[AsyncSession, inbox.ClaimedEvent], Awaitable[None]]


def new_worker_id() -> str:
    """A unique lease owner name for this process's worker."""
    return f"w-{uuid.uuid4().hex[:12]}"


@dataclass
class InboxWorker:
    """Claims stored events and runs each through its channel's processor exactly once."""

    database: Database
    keyring: Keyring
    processors: dict[str, EventProcessor]
    lease_seconds: float = 15.0
    idle_seconds: float = 0.5
    concurrency: int = 8
    on_processed: Callable[[], None] | None = None
    # Publishes the turns' notices (new case, new message) once each event has committed.
    events: EventBus | None = None
    worker_id: str = field(default_factory=new_worker_id)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Asks the loop to look for work now."""
        self._wake.set()

    async def run_once(self) -> int:
        """Processes one batch; returns how many events were claimed."""
        async with self.database.session() as session:
            claimed = await inbox.claim(
                session,
                self.keyring,
                worker_id=self.worker_id,
                lease_seconds=self.lease_seconds,
            )
        if not claimed:
            return 0
        # A batch holds at most one event per user, so their turns can run side by side.
        limit = asyncio.Semaphore(self.concurrency)

        async def one(event: inbox.ClaimedEvent) -> None:
            async with limit:
                await self._process(event)

        await asyncio.gather(*(one(e) for e in claimed))
        if self.on_processed is not None:
            self.on_processed()
        return len(claimed)

    async def _process(self, event: inbox.ClaimedEvent) -> None:
        processor = self.processors.get(event.channel)
        try:
            async with self.database.session() as session:
                if processor is not None:
                    await processor(session, event)
                await inbox.complete(session, event, worker_id=self.worker_id)
        except inbox.LeaseLost:
            INBOX_PROCESSED.labels(event.channel, "lease_lost").inc()
            return
        except Exception as exc:  # a bug must not stop the loop; the event is retried
            async with self.database.session() as session:
                status = await inbox.fail(
                    session,
                    event,
                    worker_id=self.worker_id,
                    error=type(exc).__name__,
                    retry_in=backoff(event.attempts, None),
                )
            INBOX_PROCESSED.labels(event.channel, status).inc()
            log_event(
                logger,
                "inbox.failed",
                level=logging.ERROR,
                channel=event.channel,
                kind=event.kind,
                error_type=type(exc).__name__,
                attempt=event.attempts,
                status=status,
            )
            return
        # Committed: now the console may hear of it (outside the try: the event is done).
        await publish_deferred(self.events, session)
        INBOX_PROCESSED.labels(event.channel, "done").inc()
        PROCESS_SECONDS.labels(event.channel).observe(max(time.time() - event.received_at_epoch, 0))

    async def run(self) -> None:
        """Loops until cancelled."""
        await _poll_forever("inbox", self.run_once, self._wake, self.idle_seconds)


@dataclass
class LineSender:
    """Sends the LINE outbox, one message per conversation at a time, in order."""

    database: Database
    transcript: Transcript
    api: LineApi
    lease_seconds: float = 15.0
    idle_seconds: float = 0.5
    concurrency: int = 8
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Asks the loop to look for work now."""
        self._wake.set()

    async def run_once(self) -> int:
        """Sends one batch; returns how many messages were attempted."""
        async with self.database.session() as session:
            leased = await outbox.claim(
                session, self.transcript, channel="line", lease_seconds=self.lease_seconds
            )
        limit = asyncio.Semaphore(self.concurrency)

        async def one(item: outbox.Outgoing) -> None:
            async with limit:
                await self._send(item)

        await asyncio.gather(*(one(i) for i in leased))
        return len(leased)

    async def _send(self, item: outbox.Outgoing) -> None:
        async with self.database.session() as session:
            # Read the owner under a share lock held across the HTTP call: a counselor's
            # claim (which updates the row) waits for this send, so nothing the bot sends
            # can arrive after the claim is committed.
            row = (
                await session.execute(
                    select(Conversation.owner, Conversation.reachable)
                    .where(Conversation.id == item.conversation_id)
                    .with_for_update(read=True)
                )
            ).one_or_none()
            owner, reachable = (row[0], row[1]) if row is not None else ("gone", False)
            verdict = await deliver(self.api, item, owner=owner, reachable=reachable, now=utcnow())
            await outbox.finish(
                session,
                item.message_id,
                status=verdict.status,
                via=verdict.via,
                http_status=verdict.http_status,
                retry_in=verdict.retry_in,
            )
        OUTBOX_RESULTS.labels("line", verdict.status).inc()
        if verdict.status in ("pending", "failed"):
            log_event(
                logger,
                "outbox.not_sent",
                level=logging.WARNING,
                channel="line",
                status=verdict.status,
                http_status=verdict.http_status,
                attempt=item.attempts,
            )

    async def run(self) -> None:
        """Loops until cancelled."""
        await _poll_forever("outbox", self.run_once, self._wake, self.idle_seconds)


async def _poll_forever(
    name: str, run_once: Callable[[], Awaitable[int]], wake: asyncio.Event, idle_seconds: float
) -> None:
    """Runs batches back to back while there is work; otherwise waits for a wake-up or a poll.

    A failing batch (e.g. the database restarting) is logged and retried a second later.
    """
    while True:
        try:
            handled = await run_once()
        except Exception as exc:
            log_event(
                logger, f"{name}.loop_error", level=logging.ERROR, error_type=type(exc).__name__
            )
            handled = 0
            await asyncio.sleep(1.0)
        if handled == 0:
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=idle_seconds)
