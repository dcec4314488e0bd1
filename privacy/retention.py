"""The daily retention job: shred expired transcripts, delete expired rows; safe to re-run.

Periods come from configuration (``TSUNAGU_RETENTION_*_DAYS``). Each run, in order:

1. conversations idle longer than the transcript period are crypto-shredded
   (:mod:`privacy.shredding`, one audit record each, actor ``system:retention``);
2. conversations idle longer than the analytics period are deleted with their text-free
   metadata (messages' intents, cases, keys, outbox rows go with them);
3. processed inbox events, finished outbox rows, audit records and consent records older
   than their periods are deleted, and so are console sign-ins that expired or were revoked
   more than a day ago (the audit log keeps who signed in; the rows only gate cookies).

Every step selects only what is still due, so a second run (or a run after a crash halfway)
finds nothing more to do. After shredding it scrubs the live files (see
:func:`scrub_destroyed_keys`), so a file copied after a run holds no destroyed key.

Backups: a copy taken *before* a key was destroyed still holds the wrapped key, which the
master key can unwrap. Backups must therefore be rotated within the transcript period, or
master keys rotated and old versions destroyed (README, "Privacy operations").
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.config import Settings
from core.logging import log_event
from handoff.models import ConsoleSession
from privacy.shredding import shred_conversation
from storage.db import Database, utcnow
from storage.models import AuditRecord, ConsentRecord, Conversation, InboxEvent, OutboxMessage
from storage.outbox import ACTIVE as OUTBOX_ACTIVE
from storage.transcript import Transcript

logger = logging.getLogger(__name__)

ACTOR = "system:retention"
ROLE = "system"
ACTION = "transcript.shred"
REASON = "retention.expired"
INBOX_FINISHED = ("done", "failed")
BATCH_SIZE = 200
# A finished console sign-in is kept this long, so a revocation is still visible the next day.
CONSOLE_SESSION_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class RetentionPolicy:
    """How many days each kind of data is kept."""

    transcript_days: int
    analytics_days: int
    inbox_days: int
    outbox_days: int
    audit_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        """The periods configured by ``TSUNAGU_RETENTION_*_DAYS``."""
        return cls(
            transcript_days=settings.retention_transcript_days,
            analytics_days=settings.retention_analytics_days,
            inbox_days=settings.retention_inbox_days,
            outbox_days=settings.retention_outbox_days,
            audit_days=settings.retention_audit_days,
        )


@dataclass(frozen=True)
class RetentionReport:
    """Counts of what a run did (or, with ``dry_run``, would do)."""

    dry_run: bool
    now: str
    shredded: int
    cases_closed: int
    outbox_dropped: int
    analytics_deleted: int
    inbox_deleted: int
    inbox_stuck: int
    outbox_deleted: int
    outbox_stuck: int
    audit_deleted: int
    consent_deleted: int
    console_sessions_deleted: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return asdict(self)


async def _count(session: AsyncSession, model: type[Any], *where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _expired_transcripts(cutoff: datetime) -> tuple[ColumnElement[bool], ...]:
    return (Conversation.updated_at < cutoff, Conversation.shredded_at.is_(None))


async def _shred_expired(
    database: Database, transcript: Transcript, cutoff: datetime, now: datetime
) -> tuple[int, int, int]:
    """Shreds in batches (short transactions); rows a live turn holds are left for tomorrow."""
    shredded = cases_closed = outbox_dropped = 0
    while True:
        async with database.session() as session:
            batch = (
                await session.scalars(
                    select(Conversation)
                    .where(*_expired_transcripts(cutoff))
                    .order_by(Conversation.updated_at)
                    .limit(BATCH_SIZE)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for conversation in batch:
                outcome = await shred_conversation(
                    session,
                    transcript,
                    conversation,
                    actor=ACTOR,
                    role=ROLE,
                    action=ACTION,
                    reason=REASON,
                    now=now,
                )
                shredded += 1
                cases_closed += outcome.cases_closed
                outbox_dropped += outcome.outbox_dropped
        if len(batch) < BATCH_SIZE:
            return shredded, cases_closed, outbox_dropped


async def _delete_in_batches(
    database: Database, model: type[Any], key: Any, *where: ColumnElement[bool]
) -> int:
    """Deletes matching rows a batch at a time, so no single transaction grows unbounded."""
    total = 0
    while True:
        async with database.session() as session:
            ids = (await session.scalars(select(key).where(*where).limit(BATCH_SIZE))).all()
            if ids:
                await session.execute(delete(model).where(key.in_(ids)))
        total += len(ids)
        if len(ids) < BATCH_SIZE:
            return total


async def scrub_destroyed_keys(database: Database) -> None:
    """Best effort to remove the bytes of destroyed keys from the live database files.

    SQLite: ``secure_delete`` already zeroed the old cells; truncating the write-ahead log
    drops its older page images. PostgreSQL: an update leaves the old row version in the
    table file until VACUUM prunes it (measured: the key bytes are gone from the heap file
    after a plain ``VACUUM``, which takes no exclusive lock). PostgreSQL's WAL and any
    backup keep old pages until they are recycled or rotated: see the module docstring.
    """
    dialect = database.engine.dialect.name
    async with database.engine.connect() as connection:
        if dialect == "sqlite":
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif dialect == "postgresql":
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM conversation_keys")


async def run_retention(
    database: Database,
    transcript: Transcript,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Applies ``policy`` once; with ``dry_run`` only counts. Idempotent."""
    now = now or utcnow()

    def cutoff(days: int) -> datetime:
        return now - timedelta(days=days)

    transcripts = _expired_transcripts(cutoff(policy.transcript_days))
    analytics = (Conversation.updated_at < cutoff(policy.analytics_days),)
    inbox_old = InboxEvent.received_at < cutoff(policy.inbox_days)
    inbox = (inbox_old, InboxEvent.status.in_(INBOX_FINISHED))
    outbox_old = OutboxMessage.created_at < cutoff(policy.outbox_days)
    outbox = (outbox_old, OutboxMessage.status.not_in(OUTBOX_ACTIVE))
    audit = (AuditRecord.at < cutoff(policy.audit_days),)
    consent = (ConsentRecord.recorded_at < cutoff(policy.audit_days),)
    finished_before = now - CONSOLE_SESSION_GRACE
    sign_ins = (
        (ConsoleSession.expires_at < finished_before)
        | (ConsoleSession.revoked_at < finished_before),
    )

    async with database.session() as session:
        inbox_stuck = await _count(
            session, InboxEvent, inbox_old, ~InboxEvent.status.in_(INBOX_FINISHED)
        )
        outbox_stuck = await _count(
            session, OutboxMessage, outbox_old, OutboxMessage.status.in_(OUTBOX_ACTIVE)
        )
        if dry_run:
            return RetentionReport(
                dry_run=True,
                now=now.isoformat(),
                shredded=await _count(session, Conversation, *transcripts),
                cases_closed=0,
                outbox_dropped=0,
                analytics_deleted=await _count(session, Conversation, *analytics),
                inbox_deleted=await _count(session, InboxEvent, *inbox),
                inbox_stuck=inbox_stuck,
                outbox_deleted=await _count(session, OutboxMessage, *outbox),
                outbox_stuck=outbox_stuck,
                audit_deleted=await _count(session, AuditRecord, *audit),
                consent_deleted=await _count(session, ConsentRecord, *consent),
                console_sessions_deleted=await _count(session, ConsoleSession, *sign_ins),
            )

    shredded, cases_closed, outbox_dropped = await _shred_expired(
        database, transcript, cutoff(policy.transcript_days), now
    )
    report = RetentionReport(
        dry_run=False,
        now=now.isoformat(),
        shredded=shredded,
        cases_closed=cases_closed,
        outbox_dropped=outbox_dropped,
        # Deleting a conversation cascades to its messages, key, cases and outbox rows.
        analytics_deleted=await _delete_in_batches(
            database, Conversation, Conversation.id, *analytics
        ),
        inbox_deleted=await _delete_in_batches(database, InboxEvent, InboxEvent.id, *inbox),
        inbox_stuck=inbox_stuck,
        outbox_deleted=await _delete_in_batches(database, OutboxMessage, OutboxMessage.id, *outbox),
        outbox_stuck=outbox_stuck,
        audit_deleted=await _delete_in_batches(database, AuditRecord, AuditRecord.id, *audit),
        consent_deleted=await _delete_in_batches(
            database, ConsentRecord, ConsentRecord.id, *consent
        ),
        console_sessions_deleted=await _delete_in_batches(
            database, ConsoleSession, ConsoleSession.id, *sign_ins
        ),
    )
    # Every run, so keys destroyed by erasure requests during the day are scrubbed too.
    await scrub_destroyed_keys(database)
    for action in ("shredded", "analytics_deleted", "inbox_deleted", "audit_deleted"):
        log_event(logger, "retention", action=action, count=getattr(report, action))
    if inbox_stuck or outbox_stuck:
        log_event(
            logger,
            "retention.stuck",
            logging.WARNING,
            count=inbox_stuck + outbox_stuck,
            status="pending",
        )
    return report
