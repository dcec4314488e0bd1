"""Cross-worker notices over PostgreSQL LISTEN/NOTIFY (no Redis needed).

Each process holds one dedicated autocommit connection for LISTEN (a reader task fans
notices out to this process's subscribers through a :class:`~core.events.LocalEventBus`)
and one for NOTIFY. Topics such as ``conversation:<uuid>`` are not valid identifiers, so each
becomes a channel ``tsunagu_<sha256 prefix>``; the envelope repeats the topic, so a hash
collision cannot deliver a notice to the wrong subscribers. LISTEN needs a session-level
connection: point this at PostgreSQL itself, not at a transaction-pooling PgBouncer.

The reader waits in ``notifies()``; a subscription change wakes it with a NOTIFY on a
channel private to this process, so LISTEN/UNLISTEN run without delay. After a reconnect
every subscriber gets :data:`~core.events_wire.RECONNECTED` (notices may have been missed).
Publishing never raises on a transport failure; it is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from core.events import LocalEventBus, Notice
from core.events_wire import RECONNECTED, decode, encode
from core.logging import log_event

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "tsunagu_"


def channel_for(topic: str) -> str:
    """A valid, lower-case PostgreSQL identifier for ``topic`` (48 characters)."""
    return CHANNEL_PREFIX + hashlib.sha256(topic.encode()).hexdigest()[:40]


def libpq_url(database_url: str) -> str:
    """The configured (SQLAlchemy-style) URL as a libpq URL psycopg can connect with."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresEventBus:
    """:class:`~core.events.EventBus` over LISTEN/NOTIFY; one instance per process."""

    def __init__(
        self,
        conninfo: str,
        *,
        confirm_seconds: float = 2.0,
        publish_seconds: float = 2.0,
        idle_seconds: float = 10.0,
        backoff_cap_seconds: float = 5.0,
        application_name: str = "tsunagu-events",
    ) -> None:
        """``conninfo`` is a libpq URL (see :func:`libpq_url`)."""
        self._application_name = application_name
        self._listening: dict[str, str] = {}  # channel -> topic, as the reader LISTENs
        self._conninfo = conninfo
        self._confirm_seconds = confirm_seconds
        self._publish_seconds = publish_seconds
        self._idle_seconds = idle_seconds
        self._backoff_cap = backoff_cap_seconds
        self._local = LocalEventBus()
        self._wanted: Counter[str] = Counter()  # channel -> local subscriptions
        self._topics: dict[str, str] = {}  # channel -> topic
        self._confirmed: dict[str, asyncio.Event] = {}
        self._control = f"{CHANNEL_PREFIX}ctl_{uuid.uuid4().hex}"
        self._publisher: psycopg.AsyncConnection[object] | None = None
        self._publish_lock: asyncio.Lock | None = None
        self._subscribe_lock: asyncio.Lock | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts the reader (idempotent; needs a running loop). PostgreSQL may be down."""
        if self._reader is not None:
            return
        self._publish_lock = asyncio.Lock()
        self._subscribe_lock = asyncio.Lock()
        self._reader = asyncio.get_running_loop().create_task(self._read_forever())

    async def aclose(self) -> None:
        """Stops the reader and closes both connections."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await publisher.close()

    def listening(self) -> frozenset[str]:
        """The topics this process's connection currently LISTENs to."""
        return frozenset(self._listening.values())

    async def publish(self, topic: str, notice: Notice) -> None:
        """NOTIFYs every worker; a transport failure is logged, not raised."""
        await self._notify(channel_for(topic), encode(topic, notice))

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[Notice]]:
        """LISTENs on ``topic``'s channel (once per process) until the block ends.

        Returns once the LISTEN ran, so any notice published afterwards arrives; if
        PostgreSQL is down it returns after ``confirm_seconds`` and the reader LISTENs when
        it reconnects.
        """
        await self.start()
        channel = channel_for(topic)
        async with self._local.subscribe(topic) as notices:
            await self._add(channel, topic)
            try:
                yield notices
            finally:
                await self._remove(channel)

    async def _add(self, channel: str, topic: str) -> None:
        assert self._subscribe_lock is not None
        async with self._subscribe_lock:
            self._wanted[channel] += 1
            if self._wanted[channel] > 1:
                return
            self._topics[channel] = topic
            confirmed = self._confirmed[channel] = asyncio.Event()
            await self._notify(self._control, "")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(confirmed.wait(), self._confirm_seconds)

    async def _remove(self, channel: str) -> None:
        assert self._subscribe_lock is not None
        async with self._subscribe_lock:
            self._wanted[channel] -= 1
            if self._wanted[channel] > 0:
                return
            del self._wanted[channel]
            self._topics.pop(channel, None)
            self._confirmed.pop(channel, None)
            await self._notify(self._control, "")

    async def _notify(self, channel: str, payload: str) -> None:
        await self.start()
        assert self._publish_lock is not None
        async with self._publish_lock:
            for attempt in (1, 2):  # a connection dropped since the last notice: reconnect once
                try:
                    async with asyncio.timeout(self._publish_seconds):
                        if self._publisher is None or self._publisher.closed:
                            self._publisher = await psycopg.AsyncConnection.connect(
                                self._conninfo,
                                autocommit=True,
                                application_name=f"{self._application_name}-notify",
                            )
                        await self._publisher.execute(
                            "SELECT pg_notify(%s, %s)", (channel, payload)
                        )
                    return
                except (psycopg.Error, OSError, TimeoutError) as exc:
                    publisher, self._publisher = self._publisher, None
                    if publisher is not None:
                        with contextlib.suppress(psycopg.Error, OSError):
                            await publisher.close()
                    if attempt == 2:
                        log_event(
                            logger,
                            "events.publish_failed",
                            level=logging.WARNING,
                            kind="postgres",
                            error_type=type(exc).__name__,
                        )

    async def _read_forever(self) -> None:
        """Listens; on a broken connection backs off, reconnects and LISTENs again."""
        failures = 0
        connected_before = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo,
                    autocommit=True,
                    application_name=f"{self._application_name}-listen",
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._control)))
                    listening = self._listening = {}
                    await self._sync(conn, listening)
                    if connected_before:
                        await self._broadcast_reconnected()
                    connected_before, failures = True, 0
                    await self._listen(conn, listening)
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as exc:
                self._listening = {}
                failures += 1
                log_event(
                    logger,
                    "events.disconnected",
                    level=logging.WARNING,
                    kind="postgres",
                    error_type=type(exc).__name__,
                    attempt=failures,
                )
                await asyncio.sleep(min(self._backoff_cap, 0.05 * 2**failures) * random.random())

    async def _listen(
        self, conn: psycopg.AsyncConnection[object], listening: dict[str, str]
    ) -> None:
        while True:
            received = False
            async with contextlib.aclosing(conn.notifies(timeout=self._idle_seconds)) as stream:
                async for notify in stream:
                    received = True
                    if notify.channel == self._control:
                        break  # a subscription changed: LISTEN/UNLISTEN, then wait again
                    await self._dispatch(notify.channel, notify.payload)
            if not received:
                await conn.execute("SELECT 1")  # an idle connection may have died silently
            await self._sync(conn, listening)

    async def _sync(self, conn: psycopg.AsyncConnection[object], listening: dict[str, str]) -> None:
        """Makes the connection LISTEN to exactly the wanted channels."""
        wanted = set(self._wanted)
        for channel in sorted(wanted - listening.keys()):
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            listening[channel] = self._topics.get(channel, "")
        for channel in sorted(listening.keys() - wanted):
            await conn.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(channel)))
            del listening[channel]
        for channel in listening:
            confirmed = self._confirmed.get(channel)
            if confirmed is not None:
                confirmed.set()

    async def _dispatch(self, channel: str, payload: str) -> None:
        decoded = decode(payload)
        if decoded is None or channel_for(decoded[0]) != channel:
            log_event(logger, "events.bad_notice", level=logging.WARNING, kind="postgres")
            return
        if channel in self._wanted:
            await self._local.publish(*decoded)

    async def _broadcast_reconnected(self) -> None:
        log_event(logger, "events.reconnected", kind="postgres", count=len(self._wanted))
        for channel in list(self._wanted):
            topic = self._topics.get(channel)
            if topic is not None:
                await self._local.publish(topic, dict(RECONNECTED))
