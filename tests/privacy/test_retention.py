"""The retention job on real SQLite and PostgreSQL: shreds what expired, nothing else, once."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from handoff import console_sessions
from handoff.accounts import create_account
from handoff.models import Case, ConsoleSession
from privacy.rekey import rewrap_data_keys
from privacy.retention import ACTOR, REASON, RetentionPolicy, run_retention
from storage.conversations import get_or_open
from storage.crypto import Keyring, generated_master_key_spec
from storage.db import Database, utcnow
from storage.errors import ConversationShredded, DecryptionError
from storage.models import (
    AuditRecord,
    ConsentRecord,
    Conversation,
    ConversationKey,
    InboxEvent,
    Message,
    OutboxMessage,
)
from storage.transcript import Transcript
from tests.conftest import PG_ADMIN_URL
from tests.privacy.seed import seed_conversation

POLICY = RetentionPolicy(
    transcript_days=365, analytics_days=5 * 365, inbox_days=30, outbox_days=30, audit_days=1825
)
CopyDatabase = Callable[[Database], Awaitable[Database]]


async def read_all(transcript: Transcript, database: Database, conversation_id: str) -> list[str]:
    async with database.sessions() as s:
        entries = await transcript.read(
            s, conversation_id, actor="counselor:1", role="counselor", reason="case.review"
        )
    return [e.text for e in entries]


async def snapshot(database: Database) -> dict[str, object]:
    """Everything retention may change, to compare two runs."""
    async with database.sessions() as s:
        keys = (
            await s.execute(
                select(ConversationKey.conversation_id, ConversationKey.wrapped_key).order_by(
                    ConversationKey.conversation_id
                )
            )
        ).all()
        conversations = (
            await s.execute(
                select(Conversation.id, Conversation.shredded_at).order_by(Conversation.id)
            )
        ).all()
        return {
            "keys": [(cid, key is None) for cid, key in keys],
            "conversations": [(cid, at is None) for cid, at in conversations],
            "messages": await s.scalar(select(func.count()).select_from(Message)),
            "audit": await s.scalar(select(func.count()).select_from(AuditRecord)),
            "cases": sorted((await s.scalars(select(Case.status))).all()),
        }


@pytest.fixture
async def copy_database(tmp_path: Path) -> AsyncIterator[CopyDatabase]:
    """Takes a full copy of a database, the way a backup would (SQLite backup API, PG template)."""
    copies: list[Database] = []
    pg_names: list[str] = []

    async def copy(database: Database) -> Database:
        url = make_url(database.url)
        if url.get_backend_name() == "sqlite":
            target = tmp_path / f"copy-{uuid.uuid4().hex[:8]}.db"
            with sqlite3.connect(str(url.database)) as src, sqlite3.connect(target) as dst:
                src.backup(dst)
            copied = Database(f"sqlite:///{target}")
        else:
            await database.dispose()  # a template database must have no open connections
            name = f"{url.database}_copy_{uuid.uuid4().hex[:6]}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
            pg_names.append(name)
            copied = Database(url.set(database=name).render_as_string(hide_password=False))
        copies.append(copied)
        return copied

    yield copy
    for copied in copies:
        await copied.dispose()
    for name in pg_names:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_expired_shredded_fresh_untouched_and_second_run_changes_nothing(
    database: Database, keyring: Keyring
) -> None:
    transcript = Transcript(keyring)
    now = utcnow()
    expired = await seed_conversation(database, transcript, last_activity=now - timedelta(days=400))
    fresh = await seed_conversation(database, transcript, last_activity=now - timedelta(days=10))

    first = await run_retention(database, transcript, POLICY, now=now)
    assert (first.shredded, first.cases_closed, first.outbox_dropped) == (1, 1, 1)
    assert first.analytics_deleted == 0
    after_first = await snapshot(database)

    second = await run_retention(database, transcript, POLICY, now=now)
    assert (second.shredded, second.cases_closed, second.outbox_dropped) == (0, 0, 0)
    assert await snapshot(database) == after_first  # idempotent: same state, no new audit rows

    with pytest.raises(ConversationShredded):
        await read_all(transcript, database, expired.conversation_id)
    assert await read_all(transcript, database, fresh.conversation_id) == list(fresh.texts)

    async with database.session() as s:
        conversation = await s.get(Conversation, expired.conversation_id)
        assert conversation is not None
        assert conversation.shredded_at is not None
        assert conversation.address_ciphertext is None and not conversation.reachable
        # Text-free metadata stays for analytics until its own period ends.
        intents = (
            await s.scalars(
                select(Message.intent).where(Message.conversation_id == expired.conversation_id)
            )
        ).all()
        assert intents == ["dv", "dv"]
        statuses = dict((await s.execute(select(Case.conversation_id, Case.status))).tuples().all())
        assert statuses == {expired.conversation_id: "closed", fresh.conversation_id: "queued"}
        outbox = dict(
            (await s.execute(select(OutboxMessage.conversation_id, OutboxMessage.status)))
            .tuples()
            .all()
        )
        assert outbox == {expired.conversation_id: "dropped", fresh.conversation_id: "pending"}
        audits = (
            await s.scalars(select(AuditRecord).where(AuditRecord.action == "transcript.shred"))
        ).all()
        assert [(a.conversation_id, a.actor, a.role, a.reason) for a in audits] == [
            (expired.conversation_id, ACTOR, "system", REASON)
        ]
        # The resident's next message starts a new conversation with a new key.
        renewed = await get_or_open(s, channel="line", user_key=expired.user_key)
        assert renewed.id != expired.conversation_id
        await transcript.append(s, renewed, direction="in", sender="resident", body="また来ました")
        renewed_id = renewed.id
    assert await read_all(transcript, database, renewed_id) == ["また来ました"]


async def test_dry_run_counts_without_changing(database: Database, keyring: Keyring) -> None:
    transcript = Transcript(keyring)
    now = utcnow()
    expired = await seed_conversation(database, transcript, last_activity=now - timedelta(days=366))
    await seed_conversation(database, transcript, last_activity=now - timedelta(days=6 * 365))
    before = await snapshot(database)
    report = await run_retention(database, transcript, POLICY, now=now, dry_run=True)
    assert report.dry_run
    assert (report.shredded, report.analytics_deleted) == (2, 1)
    assert await snapshot(database) == before
    assert await read_all(transcript, database, expired.conversation_id) == list(expired.texts)


async def test_analytics_expiry_deletes_conversation_rows(
    database: Database, keyring: Keyring
) -> None:
    transcript = Transcript(keyring)
    now = utcnow()
    ancient = await seed_conversation(
        database, transcript, last_activity=now - timedelta(days=1900)
    )
    kept = await seed_conversation(database, transcript, last_activity=now - timedelta(days=400))
    report = await run_retention(database, transcript, POLICY, now=now)
    assert (report.shredded, report.analytics_deleted) == (2, 1)
    async with database.session() as s:
        ids = set((await s.scalars(select(Conversation.id))).all())
        assert ids == {kept.conversation_id}
        for model in (Message, ConversationKey, Case, OutboxMessage):
            orphans = await s.scalar(
                select(func.count())
                .select_from(model)
                .where(model.conversation_id == ancient.conversation_id)
            )
            assert orphans == 0, model.__name__


async def test_inbox_outbox_audit_and_consent_periods(database: Database, keyring: Keyring) -> None:
    transcript = Transcript(keyring)
    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(days=2)
    seeded = await seed_conversation(
        database, transcript, last_activity=recent, with_case=False, with_outbox=False
    )
    async with database.session() as s:
        for i, (status, at) in enumerate(
            [("done", old), ("failed", old), ("pending", old), ("done", recent)]
        ):
            s.add(
                InboxEvent(
                    channel="line",
                    event_id=f"ev{i}",
                    user_key=seeded.user_key,
                    kind="message",
                    received_at=at,
                    payload_ciphertext=b"sealed" if status != "done" else None,
                    master_version=1,
                    status=status,
                    attempts=0,
                )
            )
        conversation = await s.get(Conversation, seeded.conversation_id)
        assert conversation is not None
        from storage import outbox

        for status, at in [("sent", old), ("dropped", old), ("pending", old), ("sent", recent)]:
            row = await outbox.enqueue(
                s, transcript, conversation, sender="bot", payload=[{"type": "text"}]
            )
            row.status, row.created_at = status, at
        for at in (now - timedelta(days=1900), now - timedelta(days=100)):
            s.add(
                AuditRecord(
                    at=at,
                    actor="c",
                    role="counselor",
                    conversation_id="x",
                    action="transcript.read",
                    reason="r",
                )
            )
            s.add(
                ConsentRecord(
                    user_key="k",
                    channel="web",
                    notice_version="v",
                    method="web_first_message",
                    recorded_at=at,
                )
            )

    report = await run_retention(database, transcript, POLICY, now=now)
    assert (report.inbox_deleted, report.inbox_stuck) == (2, 1)
    assert (report.outbox_deleted, report.outbox_stuck) == (2, 1)
    assert (report.audit_deleted, report.consent_deleted) == (1, 1)
    assert report.shredded == 0
    async with database.session() as s:
        inbox_left = sorted((await s.scalars(select(InboxEvent.event_id))).all())
        assert inbox_left == ["ev2", "ev3"]  # the stuck pending event is reported, not lost
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == 2
        assert await s.scalar(select(func.count()).select_from(AuditRecord)) == 1
        assert await s.scalar(select(func.count()).select_from(ConsentRecord)) == 1
    again = await run_retention(database, transcript, POLICY, now=now)
    assert (again.inbox_deleted, again.outbox_deleted, again.audit_deleted) == (0, 0, 0)


async def test_backups_copy_before_shred_still_readable_copy_after_is_not(
    database: Database, keyring: Keyring, copy_database: CopyDatabase
) -> None:
    """What crypto-shredding does and does not do to copies.

    A copy taken BEFORE the shred still holds the wrapped key, and the master key unwraps
    it: backups must be rotated (or the master key version that wrapped them destroyed)
    within the retention window. A copy taken AFTER the shred cannot be read.
    """
    transcript = Transcript(keyring)
    now = utcnow()
    seeded = await seed_conversation(database, transcript, last_activity=now - timedelta(days=400))
    before = await copy_database(database)

    assert (await run_retention(database, transcript, POLICY, now=now)).shredded == 1
    after = await copy_database(database)

    assert await read_all(transcript, before, seeded.conversation_id) == list(seeded.texts)
    with pytest.raises(ConversationShredded):
        await read_all(transcript, after, seeded.conversation_id)
    async with after.sessions() as s:
        key = await s.get(ConversationKey, seeded.conversation_id)
        assert key is not None and key.wrapped_key is None


async def test_sqlite_files_hold_no_trace_of_a_shredded_key(
    sqlite_url: str, keyring: Keyring, copy_database: CopyDatabase
) -> None:
    """secure_delete + WAL truncation: the bytes of the destroyed key are gone from disk."""
    database = Database(sqlite_url)
    database.migrate()
    try:
        transcript = Transcript(keyring)
        now = utcnow()
        seeded = await seed_conversation(
            database, transcript, last_activity=now - timedelta(days=400)
        )
        path = Path(str(make_url(sqlite_url).database))

        def on_disk() -> bytes:
            wal = path.with_name(path.name + "-wal")
            return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

        assert seeded.wrapped_key in on_disk()  # the check below can fail
        await run_retention(database, transcript, POLICY, now=now)
        assert seeded.wrapped_key not in on_disk()
        copied = await copy_database(database)
        copy_path = Path(str(make_url(copied.url).database))
        assert seeded.wrapped_key not in copy_path.read_bytes()
    finally:
        await database.dispose()


async def test_postgres_vacuums_the_key_table_after_a_run(
    postgres_url: str, keyring: Keyring
) -> None:
    """An UPDATE leaves the old row (with the key) in the heap file until VACUUM prunes it."""
    database = Database(postgres_url)
    database.migrate()
    try:
        transcript = Transcript(keyring)
        now = utcnow()
        await seed_conversation(database, transcript, last_activity=now - timedelta(days=400))
        with psycopg.connect(postgres_url) as conn:
            query = (
                "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'conversation_keys'"
            )
            assert conn.execute(query).fetchone() == (None,)
            await run_retention(database, transcript, POLICY, now=now)
            conn.rollback()  # a fresh snapshot of the statistics
            (last_vacuum,) = conn.execute(query).fetchone() or (None,)
        assert last_vacuum is not None
    finally:
        await database.dispose()


async def test_rewrap_then_dropping_the_old_master_key_makes_older_copies_unreadable(
    database: Database, copy_database: CopyDatabase
) -> None:
    """How shredding reaches backups: re-wrap live keys, then destroy the old master key."""
    old_spec = generated_master_key_spec()
    new_spec = "2:" + generated_master_key_spec().split(":", 1)[1]
    old_only = Keyring.parse(old_spec)
    both = Keyring.parse(f"{old_spec},{new_spec}")
    new_only = Keyring.parse(new_spec)
    now = utcnow()
    live = await seed_conversation(database, Transcript(old_only), last_activity=now)
    shredded = await seed_conversation(
        database, Transcript(old_only), last_activity=now - timedelta(days=400)
    )
    backup = await copy_database(database)  # taken before the shred, under master key 1
    await run_retention(database, Transcript(both), POLICY, now=now)

    assert await rewrap_data_keys(database, both) == 1  # only the live key is left to move
    assert await rewrap_data_keys(database, both) == 0  # idempotent
    assert await read_all(Transcript(new_only), database, live.conversation_id) == list(live.texts)
    # With master key 1 destroyed, the old backup's wrapped keys cannot be opened any more.
    with pytest.raises(DecryptionError):
        await read_all(Transcript(new_only), backup, shredded.conversation_id)


async def test_finished_console_sign_ins_are_deleted_after_a_day(
    database: Database, keyring: Keyring
) -> None:
    transcript = Transcript(keyring)
    now = utcnow()
    async with database.session() as s:
        account = await create_account(
            s,
            login="suzuki",
            display_name="鈴木",
            role="counselor",
            pools=["general"],
            password="a long enough pass phrase",
        )
        expired = await console_sessions.start(s, account.id, now=now - timedelta(days=3))
        revoked = await console_sessions.start(s, account.id, now=now - timedelta(hours=2))
        revoked_yesterday = await console_sessions.start(s, account.id, now=now)
        live = await console_sessions.start(s, account.id, now=now)
        ids = (expired.id, revoked.id, revoked_yesterday.id, live.id)
    async with database.session() as s:
        await console_sessions.revoke(s, ids[1], now=now - timedelta(hours=2))
        await console_sessions.revoke(s, ids[2], now=now - timedelta(days=2))

    dry = await run_retention(database, transcript, POLICY, now=now, dry_run=True)
    report = await run_retention(database, transcript, POLICY, now=now)
    assert dry.console_sessions_deleted == report.console_sessions_deleted == 2
    async with database.session() as s:
        left = set((await s.scalars(select(ConsoleSession.id))).all())
    assert left == {ids[1], ids[3]}  # revoked two hours ago: kept for the day; live: kept
    again = await run_retention(database, transcript, POLICY, now=now)
    assert again.console_sessions_deleted == 0
