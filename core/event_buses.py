"""Chooses this process's cross-worker event bus from the settings (``TSUNAGU_EVENT_BUS``).

``auto`` (the default) takes Redis when ``TSUNAGU_REDIS_URL`` is set, else PostgreSQL
LISTEN/NOTIFY when the database is PostgreSQL, else the in-process bus (the embedded
SQLite set-up runs one process, where nothing crosses workers).
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from core.config import Settings
from core.events import EventBus, LocalEventBus


def bus_kind(settings: Settings) -> str:
    """``local``, ``redis`` or ``postgres``; raises ValueError for an impossible choice."""
    postgres = make_url(settings.resolved_database_url).get_backend_name() == "postgresql"
    kind = settings.event_bus
    if kind == "auto":
        kind = "redis" if settings.redis_url else "postgres" if postgres else "local"
    if kind == "redis" and settings.redis_url is None:
        raise ValueError("TSUNAGU_EVENT_BUS=redis needs TSUNAGU_REDIS_URL")
    if kind == "postgres" and not postgres:
        raise ValueError("TSUNAGU_EVENT_BUS=postgres needs a PostgreSQL TSUNAGU_DATABASE_URL")
    return kind


def build_event_bus(settings: Settings) -> EventBus:
    """The bus :func:`bus_kind` selects; remote buses connect on ``start()`` or first use."""
    kind = bus_kind(settings)
    if kind == "redis":
        from core.events_redis import RedisEventBus

        assert settings.redis_url is not None
        return RedisEventBus(settings.redis_url.get_secret_value())
    if kind == "postgres":
        from core.events_pg import PostgresEventBus, libpq_url

        return PostgresEventBus(libpq_url(settings.resolved_database_url))
    return LocalEventBus()
