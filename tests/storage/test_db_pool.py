"""Pooled connections on real PostgreSQL: a connection the server dropped is never handed out."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage import db as db_module
from storage.db import Database
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres


async def _backend_pid(database: Database) -> int:
    async with database.session() as s:
        return int((await s.execute(text("select pg_backend_pid()"))).scalar_one())


def _terminate(pid: int) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        assert admin.execute("select pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


async def test_idle_connection_dropped_by_the_server_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(postgres_url)
    try:
        dropped = await _backend_pid(database)
        _terminate(dropped)
        # Count every pooled connection as idle: the checkout pings, finds it dead and
        # the pool opens a new one, so the caller never sees the dead connection.
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        assert await _backend_pid(database) != dropped
    finally:
        await database.dispose()


async def test_autocommit_connection_commits_each_statement(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        async with database.autocommit() as connection:
            await connection.execute(text("create table t (n int)"))
            await connection.execute(text("insert into t values (1)"))
        # Visible from another connection: nothing was left uncommitted.
        with psycopg.connect(postgres_url) as other:
            assert other.execute("select n from t").fetchall() == [(1,)]
    finally:
        await database.dispose()


async def test_a_busy_worker_keeps_its_connections_instead_of_reconnecting(
    postgres_url: str,
) -> None:
    """Twelve concurrent sessions, then again: the second round opens no new connection.

    SQLAlchemy's default kept 5 and closed the rest on checkin, so every burst of turns paid
    new PostgreSQL backends (bench handoff); the kept pool is now sized for a busy worker.
    """
    import asyncio

    database = Database(postgres_url)
    try:
        gate = asyncio.Event()

        async def hold() -> int:
            async with database.session() as s:
                pid = int((await s.execute(text("select pg_backend_pid()"))).scalar_one())
                await gate.wait()
                return pid

        async def burst() -> set[int]:
            gate.clear()
            tasks = [asyncio.create_task(hold()) for _ in range(12)]
            await asyncio.sleep(0.3)
            gate.set()
            return set(await asyncio.gather(*tasks))

        first = await burst()
        second = await burst()
        assert len(first) == 12 and second == first
    finally:
        await database.dispose()


def test_pool_size_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import Settings

    monkeypatch.setenv("TSUNAGU_DATABASE_POOL_SIZE", "7")
    monkeypatch.setenv("TSUNAGU_DATABASE_MAX_OVERFLOW", "3")
    settings = Settings()
    database = Database(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    assert database.engine.pool.size() == 7  # type: ignore[attr-defined]
    assert database.engine.pool._max_overflow == 3  # type: ignore[attr-defined]


async def _transaction_status(session: AsyncSession) -> psycopg.pq.TransactionStatus:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    assert isinstance(raw.driver_connection, psycopg.AsyncConnection)
    return raw.driver_connection.info.transaction_status


async def test_read_sessions_open_no_transaction(postgres_url: str) -> None:
    """A read in :meth:`Database.reads` is one round trip: no BEGIN, so no COMMIT either.

    psycopg sends BEGIN before the first statement of a transaction; a connection that is
    idle (not in a transaction) after a SELECT never sent one. A plain session is in one.
    """
    database = Database(postgres_url)
    try:
        async with database.reads() as s:
            assert (await s.execute(text("select 41 + 1"))).scalar_one() == 42
            assert await _transaction_status(s) is psycopg.pq.TransactionStatus.IDLE
            await s.execute(text("create table touched (n int)"))
            await s.execute(text("insert into touched values (1)"))
            # Committed as it executed: another connection sees it while the session is open.
            with psycopg.connect(postgres_url) as other:
                assert other.execute("select n from touched").fetchall() == [(1,)]
        async with database.sessions() as s:
            await s.execute(text("select 1"))
            assert await _transaction_status(s) is psycopg.pq.TransactionStatus.INTRANS
        # The pooled connection went back to transactions: the read left no autocommit behind.
        async with database.session() as s:
            await s.execute(text("insert into touched values (2)"))
            assert await _transaction_status(s) is psycopg.pq.TransactionStatus.INTRANS
            with psycopg.connect(postgres_url) as other:
                assert other.execute("select count(*) from touched").fetchall() == [(1,)]
    finally:
        await database.dispose()
