"""Redis and PostgreSQL buses between two instances (two workers): delivery, isolation,
fan-out, unsubscribe and reconnect. Skipped, with the reason, when a server is unreachable."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
import pytest
import redis.asyncio

from core.event_buses import build_event_bus
from core.events import LocalEventBus
from core.events_pg import PostgresEventBus, channel_for
from core.events_redis import RedisEventBus
from core.events_wire import NoticeTooLarge
from tests.events.support import (
    GUARD_SECONDS,
    REDIS_URL,
    closing,
    next_notice,
    postgres_factory,
    redis_factory,
)


@pytest.fixture(params=["redis", "postgres"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Any]]:
    """Two independent bus instances of one backend, started."""
    make: Callable[[], Any]
    if request.param == "redis":
        make, _ = redis_factory()
    else:
        make = postgres_factory(request.getfixturevalue("postgres_url"))
    first, second = make(), make()
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await closing([first, second])


async def test_a_notice_published_by_one_worker_reaches_the_other(pair: tuple[Any, Any]) -> None:
    listener, publisher = pair
    async with listener.subscribe("queue") as notices:
        await publisher.publish("queue", {"case_id": "c-1", "status": "queued"})
        assert await next_notice(notices) == {"case_id": "c-1", "status": "queued"}


async def test_topics_are_isolated(pair: tuple[Any, Any]) -> None:
    listener, publisher = pair
    async with (
        listener.subscribe("conversation:a") as a,
        listener.subscribe("conversation:b") as b,
    ):
        await publisher.publish("conversation:b", {"kind": "message", "n": 1})
        await publisher.publish("conversation:a", {"kind": "message", "n": 2})
        await publisher.publish("conversation:other", {"kind": "message", "n": 3})
        await publisher.publish("conversation:a", {"kind": "message", "n": 4})
        assert [await next_notice(a), await next_notice(a)] == [
            {"kind": "message", "n": 2},
            {"kind": "message", "n": 4},
        ]
        assert await next_notice(b) == {"kind": "message", "n": 1}


async def test_every_subscriber_in_every_worker_gets_the_notice(pair: tuple[Any, Any]) -> None:
    first, second = pair
    async with contextlib.AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(first.subscribe("queue")) for _ in range(3)]
        streams += [await stack.enter_async_context(second.subscribe("queue")) for _ in range(2)]
        await first.publish("queue", {"case_id": "c-2"})
        await second.publish("queue", {"case_id": "c-3"})
        for stream in streams:
            assert [await next_notice(stream), await next_notice(stream)] == [
                {"case_id": "c-2"},
                {"case_id": "c-3"},
            ]


async def test_leaving_the_block_unsubscribes_the_worker(pair: tuple[Any, Any]) -> None:
    listener, publisher = pair
    async with listener.subscribe("queue"), listener.subscribe("queue") as second:
        assert listener.listening() == {"queue"}
        await publisher.publish("queue", {"case_id": "c-4"})
        assert await next_notice(second) == {"case_id": "c-4"}
    async with asyncio.timeout(GUARD_SECONDS):
        while listener.listening():
            await asyncio.sleep(0.02)
    if isinstance(listener, RedisEventBus):
        admin = redis.asyncio.Redis.from_url(REDIS_URL)
        channel = listener._prefix + "queue"
        assert await admin.pubsub_numsub(channel) == [(channel.encode(), 0)]
        await admin.aclose()
    # A later subscription works again and sees only what comes after it.
    async with listener.subscribe("queue") as again:
        await publisher.publish("queue", {"case_id": "c-5"})
        assert await next_notice(again) == {"case_id": "c-5"}


async def test_oversized_notices_are_refused(pair: tuple[Any, Any]) -> None:
    _, publisher = pair
    with pytest.raises(NoticeTooLarge):
        await publisher.publish("queue", {"case_id": "x" * 5000})


async def publish_until_heard(publisher: Any, notices: AsyncIterator[dict[str, Any]]) -> list[Any]:
    """Publishes numbered notices until one arrives; returns everything received.

    A task drains the subscription into a queue: cancelling ``anext`` itself would end the
    subscriber's generator.
    """
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def drain() -> None:
        async for notice in notices:
            inbox.put_nowait(notice)

    drainer = asyncio.get_running_loop().create_task(drain())
    received: list[Any] = []
    try:
        async with asyncio.timeout(GUARD_SECONDS):
            n = 0
            while True:
                n += 1
                await publisher.publish("queue", {"case_id": f"after-{n}"})
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.2):
                        while True:
                            notice = await inbox.get()
                            received.append(notice)
                            if notice.get("kind") != "reconnected":
                                return received
    finally:
        drainer.cancel()


async def test_redis_subscriber_survives_its_connection_being_killed() -> None:
    make, tag = redis_factory()
    listener, publisher = make("listener"), make("publisher")
    admin = redis.asyncio.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        async with listener.subscribe("queue") as notices:
            await publisher.publish("queue", {"case_id": "before"})
            assert await next_notice(notices) == {"case_id": "before"}
            killed = 0
            for client in await admin.client_list(_type="pubsub"):
                if client.get("name") == f"tsunagu-test-{tag}-listener":
                    await admin.client_kill_filter(_id=client["id"])
                    killed += 1
            assert killed == 1
            received = await publish_until_heard(publisher, notices)
            assert received[-1]["case_id"].startswith("after-")
            assert {"kind": "reconnected"} in received
    finally:
        await admin.aclose()
        await closing([listener, publisher])


async def test_postgres_subscriber_survives_its_backend_being_terminated(
    postgres_url: str,
) -> None:
    make = postgres_factory(postgres_url)
    listener, publisher = make(), make()
    try:
        async with listener.subscribe("queue") as notices:
            await publisher.publish("queue", {"case_id": "before"})
            assert await next_notice(notices) == {"case_id": "before"}
            async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as c:
                cursor = await c.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name LIKE %s",
                    ("tsunagu-events-%",),
                )
                assert len(await cursor.fetchall()) >= 2  # both listeners and a notifier
            received = await publish_until_heard(publisher, notices)
            assert received[-1]["case_id"].startswith("after-")
            assert {"kind": "reconnected"} in received
    finally:
        await closing([listener, publisher])


def test_postgres_channels_are_valid_identifiers_per_topic() -> None:
    a, b = channel_for("conversation:1f0e-Ä"), channel_for("conversation:1f0e-a")
    assert a != b
    for channel in (a, b):
        assert channel.isidentifier() and channel == channel.lower() and len(channel) < 63


def test_the_bus_follows_the_settings(tmp_path: Any, postgres_url: str) -> None:
    from core.config import Settings

    def settings(**values: Any) -> Settings:
        return Settings(_env_file=None, data_dir=tmp_path, **values)

    assert isinstance(build_event_bus(settings()), LocalEventBus)
    assert isinstance(build_event_bus(settings(database_url=postgres_url)), PostgresEventBus)
    assert isinstance(
        build_event_bus(settings(database_url=postgres_url, redis_url=REDIS_URL)), RedisEventBus
    )
    assert isinstance(
        build_event_bus(settings(database_url=postgres_url, event_bus="local")), LocalEventBus
    )
    with pytest.raises(ValueError, match="TSUNAGU_REDIS_URL"):
        build_event_bus(settings(event_bus="redis"))
    with pytest.raises(ValueError, match="PostgreSQL"):
        build_event_bus(settings(event_bus="postgres"))
