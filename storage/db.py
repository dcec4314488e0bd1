"""Database engines, sessions and migrations for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base for every table."""


def utcnow() -> datetime:
    """Timezone-aware now; all timestamps are stored in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored timestamp is UTC, so say so."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _with_driver(url: str, *, sqlite: str) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    drivers = {"sqlite": sqlite, "postgresql": "postgresql+psycopg"}
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed.set(drivername=drivers[backend]).render_as_string(hide_password=False)


def async_url(url: str) -> str:
    """Maps a configured URL to its asyncio driver (aiosqlite, psycopg 3)."""
    return _with_driver(url, sqlite="sqlite+aiosqlite")


def sync_url(url: str) -> str:
    """Maps a configured URL to its blocking driver, used by Alembic (psycopg 3 does both)."""
    return _with_driver(url, sqlite="sqlite")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets the webhook acknowledge while a worker writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Overwrite deleted content with zeros, so a shredded data key leaves no trace in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


# A pooled connection idle longer than this is pinged before use (see _ping_if_idle).
PING_AFTER_IDLE_SECONDS = 5.0


def _mark_idle(_dbapi_connection: object, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(
    dialect: Dialect,
) -> Callable[[DBAPIConnection, ConnectionPoolEntry, object], None]:
    """``pool_pre_ping``, but only for connections that sat idle.

    A ping is a round trip on every checkout, and under load each round trip is a chance to
    wait for a CPU: it was one of four on the LINE webhook's acknowledgement (issue 4). A
    connection used moments ago is alive; one that sat in the pool may have been dropped
    (server restart, idle timeout), so it is checked and, if dead, replaced by the pool
    before anyone uses it. A failure on a busy connection right after a server restart
    still invalidates the whole pool at once; the webhook retries such a failure once.
    """

    def checkout(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _: object) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("stale pooled connection") from exc
        if not alive:
            raise DisconnectionError("stale pooled connection")

    return checkout


# Kept and extra connections per process (``TSUNAGU_DATABASE_POOL_SIZE`` / ``_MAX_OVERFLOW``).
DEFAULT_POOL_SIZE = 20
DEFAULT_MAX_OVERFLOW = 10


def create_engine(
    url: str, *, pool_size: int = DEFAULT_POOL_SIZE, max_overflow: int = DEFAULT_MAX_OVERFLOW
) -> AsyncEngine:
    """Creates the async engine; SQLite files get their folder and sane pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # LIFO: the hot connection is reused (and skips the ping); spares go idle. The kept
    # pool is sized for a busy worker: SQLAlchemy's default of 5 closed every connection
    # above it on checkin, so under load each turn paid a new connection (bench handoff).
    engine = create_async_engine(
        async_url(url), pool_use_lifo=True, pool_size=pool_size, max_overflow=max_overflow
    )
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "checkin", _mark_idle)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle(engine.sync_engine.dialect))
    return engine


def migrate(url: str) -> None:
    """Brings the schema to the newest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    command.upgrade(config, "head")


class Database:
    """An engine plus its session factory; one per process."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
    ) -> None:
        """Creates the engine; call :meth:`migrate` before first use."""
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Same pool; each statement commits on its own (no BEGIN/COMMIT round trips).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_sessions = async_sessionmaker(self._autocommit, expire_on_commit=False)

    def migrate(self) -> None:
        """Applies migrations (blocking; call at start-up, outside the event loop)."""
        migrate(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncSession]:
        """An ORM session whose statements each commit on their own, for reads on hot paths.

        A lone SELECT in a transaction is three round trips (BEGIN, SELECT, COMMIT or
        ROLLBACK); here it is one. Every console socket, widget feed and alerter reads on
        each notice, so under load those round trips were a third of all statements and
        each one waited for the busy event loop (bench handoff, issue 5). Reads see what
        they would in a transaction: PostgreSQL's READ COMMITTED takes a snapshot per
        statement anyway. Nothing is locked between statements, and a write (an audit
        record, a ``last_seen`` touch) is committed as it executes: use this only where
        each write stands alone.
        """
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in autocommit mode, for single-statement writes on hot paths.

        One statement is one transaction, so it needs no BEGIN and no COMMIT: the LINE
        webhook stores a request's events with one round trip before it answers.
        """
        async with self._autocommit.connect() as connection:
            yield connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in a transaction (commit on success), without an ORM session."""
        async with self.engine.begin() as connection:
            yield connection

    async def dispose(self) -> None:
        """Closes pooled connections."""
        await self.engine.dispose()
