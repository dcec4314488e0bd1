"""Two event-bus instances per test, as two app workers would hold them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis

from core.events import Notice
from core.events_pg import PostgresEventBus, libpq_url
from core.events_redis import RedisEventBus

REDIS_URL = "redis://127.0.0.1:6379/0"
GUARD_SECONDS = 10.0  # a hang guard, not a speed requirement


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def require_redis() -> None:
    if not redis_available():
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")


BusFactory = Callable[..., Any]


def redis_factory() -> tuple[BusFactory, str]:
    """Buses on a prefix and client name of their own, so parallel tests never mix."""
    require_redis()
    tag = uuid.uuid4().hex[:12]
    prefix = f"tsunagu-test:{tag}:"

    def make(name: str = "bus") -> RedisEventBus:
        return RedisEventBus(REDIS_URL, prefix=prefix, client_name=f"tsunagu-test-{tag}-{name}")

    return make, tag


def postgres_factory(postgres_url: str) -> BusFactory:
    def make() -> PostgresEventBus:
        return PostgresEventBus(libpq_url(postgres_url))

    return make


async def next_notice(notices: AsyncIterator[Notice], *, skip_reconnected: bool = True) -> Notice:
    """The next notice (by default ignoring "look again after a reconnect")."""
    async with asyncio.timeout(GUARD_SECONDS):
        while True:
            notice = await anext(notices)
            if not (skip_reconnected and notice.get("kind") == "reconnected"):
                return notice


async def closing(buses: list[Any]) -> None:
    for bus in buses:
        await bus.aclose()
