"""Cross-worker notices over Redis pub/sub (set ``TSUNAGU_REDIS_URL``).

Each process holds one pub/sub connection, whatever the number of subscribers: a reader task
receives every subscribed channel and hands notices to this process's subscribers through a
:class:`~core.events.LocalEventBus`. Only the reader touches that connection (redis-py's
pub/sub object is not safe for concurrent commands); a subscription change wakes it with a
message on a control channel private to this process, and it then SUBSCRIBEs/UNSUBSCRIBEs.

Redis pub/sub keeps nothing for absent listeners, so a notice published while the
connection is down is lost; after a reconnect every subscriber gets
:data:`~core.events_wire.RECONNECTED` and looks again. Publishing never raises on a
transport failure: a lost notice costs a refresh, never a resident's request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from core.events import LocalEventBus, Notice
from core.events_wire import RECONNECTED, decode, encode
from core.logging import log_event

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "tsunagu:events:"


class RedisEventBus:
    """:class:`~core.events.EventBus` over Redis pub/sub; one instance per process."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        confirm_seconds: float = 2.0,
        publish_seconds: float = 2.0,
        idle_seconds: float = 5.0,
        backoff_cap_seconds: float = 5.0,
        client_name: str = "tsunagu-events",
    ) -> None:
        """``prefix`` namespaces the channels (pub/sub ignores Redis database numbers)."""
        self._url = url
        self._prefix = prefix
        self._control = f"{prefix}__control:{uuid.uuid4().hex}"
        self._confirm_seconds = confirm_seconds
        self._publish_seconds = publish_seconds
        self._idle_seconds = idle_seconds
        self._backoff = ExponentialWithJitterBackoff(cap=backoff_cap_seconds, base=0.05)
        self._client_name = client_name
        self._local = LocalEventBus()
        self._wanted: Counter[str] = Counter()  # channel -> local subscriptions
        self._confirmed: dict[str, asyncio.Event] = {}
        self._client: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._control_confirmations = 0
        self._ready = asyncio.Event()  # set while the control channel is subscribed

    async def start(self) -> None:
        """Starts the reader (idempotent; needs a running loop). Redis may still be down."""
        if self._reader is not None:
            return
        self._client = Redis.from_url(
            self._url,
            decode_responses=True,
            client_name=self._client_name,
            socket_connect_timeout=self._confirm_seconds,
            health_check_interval=max(1, int(self._idle_seconds * 2)),
        )
        self._pubsub = self._client.pubsub()
        self._reader = asyncio.get_running_loop().create_task(self._read_forever())

    async def aclose(self) -> None:
        """Stops the reader and closes both connections."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._client.aclose()
        self._pubsub = self._client = None

    def listening(self) -> frozenset[str]:
        """The topics this process's pub/sub connection is subscribed to."""
        if self._pubsub is None:
            return frozenset()
        pending = self._pubsub.pending_unsubscribe_channels
        return frozenset(
            str(c).removeprefix(self._prefix)
            for c in self._pubsub.channels
            if c != self._control and c not in pending
        )

    async def publish(self, topic: str, notice: Notice) -> None:
        """Publishes to every worker; a transport failure is logged, not raised."""
        await self._publish(self._prefix + topic, encode(topic, notice))

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[Notice]]:
        """Subscribes this process to ``topic`` (once, however many local subscribers).

        Returns once Redis confirmed the subscription, so any notice published afterwards
        arrives; if Redis is down it returns after ``confirm_seconds`` and the reader
        subscribes when it reconnects.
        """
        await self.start()
        channel = self._prefix + topic
        with contextlib.suppress(TimeoutError):  # the reader must hear the wake-up below
            await asyncio.wait_for(self._ready.wait(), self._confirm_seconds)
        async with self._local.subscribe(topic) as notices:
            self._wanted[channel] += 1
            if self._wanted[channel] == 1:
                confirmed = self._confirmed[channel] = asyncio.Event()
                await self._publish(self._control, "")
                if self._ready.is_set():  # Redis is down otherwise: the reader will catch up
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(confirmed.wait(), self._confirm_seconds)
            try:
                yield notices
            finally:
                self._wanted[channel] -= 1
                if self._wanted[channel] <= 0:
                    del self._wanted[channel]
                    self._confirmed.pop(channel, None)
                    await self._publish(self._control, "")

    async def _publish(self, channel: str, payload: str) -> None:
        await self.start()
        assert self._client is not None
        try:
            async with asyncio.timeout(self._publish_seconds):
                await self._client.publish(channel, payload)
        except (RedisError, OSError, TimeoutError) as exc:
            log_event(
                logger,
                "events.publish_failed",
                level=logging.WARNING,
                kind="redis",
                error_type=type(exc).__name__,
            )

    async def _read_forever(self) -> None:
        """Reads messages; on a broken connection backs off, reconnects and resubscribes."""
        failures = 0
        this = asyncio.current_task()
        while True:
            if this is not None and this.cancelling():
                # redis-py can swallow a cancellation that lands mid-read: honour it here.
                raise asyncio.CancelledError
            try:
                pubsub = await self._sync()
                message = await pubsub.get_message(timeout=self._idle_seconds)
                failures = 0
                if message is not None:
                    await self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                failures += 1
                log_event(
                    logger,
                    "events.disconnected",
                    level=logging.WARNING,
                    kind="redis",
                    error_type=type(exc).__name__,
                    attempt=failures,
                )
                await self._reset()
                await asyncio.sleep(self._backoff.compute(failures))

    async def _sync(self) -> PubSub:
        """Makes the subscriptions match what this process's subscribers want."""
        pubsub = self._pubsub
        assert pubsub is not None, "start() first"
        wanted = {self._control, *self._wanted}
        missing = [c for c in wanted if c not in pubsub.channels]
        if missing:
            await pubsub.subscribe(*missing)
        pending = pubsub.pending_unsubscribe_channels
        extra = [c for c in pubsub.channels if c not in wanted and c not in pending]
        if extra:
            await pubsub.unsubscribe(*extra)
        return pubsub

    async def _reset(self) -> None:
        """Replaces the broken pub/sub connection; the next loop subscribes everything anew."""
        self._ready.clear()
        old = self._pubsub
        if self._client is not None:
            self._pubsub = self._client.pubsub()
        if old is not None:
            with contextlib.suppress(RedisError, OSError):
                await old.aclose()  # type: ignore[no-untyped-call]

    async def _dispatch(self, message: dict[str, Any]) -> None:
        channel = str(message.get("channel", ""))
        kind = message.get("type")
        if kind == "subscribe":
            if channel == self._control:
                self._control_confirmations += 1
                self._ready.set()
                if self._control_confirmations > 1:
                    await self._broadcast_reconnected()
            confirmed = self._confirmed.get(channel)
            if confirmed is not None:
                confirmed.set()
            return
        if kind != "message" or channel == self._control or channel not in self._wanted:
            return
        decoded = decode(message.get("data") or "")
        if decoded is None or self._prefix + decoded[0] != channel:
            log_event(logger, "events.bad_notice", level=logging.WARNING, kind="redis")
            return
        await self._local.publish(*decoded)

    async def _broadcast_reconnected(self) -> None:
        log_event(logger, "events.reconnected", kind="redis", count=len(self._wanted))
        for channel in list(self._wanted):
            await self._local.publish(channel.removeprefix(self._prefix), dict(RECONNECTED))
