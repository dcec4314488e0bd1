"""Emergency alerts for the console: on-duty counselors of the pool and supervisors, at once.

A case opened or raised to ``emergency`` reaches every on-duty counselor of its pool and
every signed-in supervisor at once (issue 5; requirements §3 asks for at least two staff on
an emergency).

How it works across several app workers:

1. The engine publishes a ``queue`` notice (case id, pool, urgency) after its turn commits;
   console actions publish ``queue`` notices too (a transfer moves a case to another pool).
2. Every worker runs :func:`run_alerts`, which hears those notices (and sweeps the database
   every few seconds, for a notice missed while a bus reconnected). For an open emergency
   case it tries :func:`raise_alert`: under the case's row lock it checks the audit log for
   an alert of this case *in this pool*; only the first worker finds none, writes the
   ``case.alert`` audit record (case id, pool, number of staff reached; ids only) and
   commits. So an alert goes out once per case and pool, however many workers heard it.
3. The winner publishes an ``alerts`` notice (ids and codes only). Every open console socket,
   in every worker, hears it and sends an ``alert`` frame if its account serves the pool or
   is a supervisor/admin (``handoff/console/live.py``). The page shows it in its
   ``role="alert"`` region.

"On duty" = signed in (a live ``console_sessions`` row seen in the last few minutes, see
:data:`handoff.console_sessions.PRESENT_WITHIN`) and assigned to the pool by the account's
pools (the accounts are the source of truth; ``tsunagu users check`` compares the roster).
Until someone claims it, a waiting emergency case is also shown on every console page
(:func:`waiting_alerts`), so staff who sign in later see it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.wiring import Runtime
from core.events import QUEUE_TOPIC, Notice
from core.logging import log_event
from handoff import audit, console_sessions
from handoff.accounts import roster_problems
from handoff.console.auth import Staff
from handoff.console.resources import handoff_config
from handoff.console.texts import text
from handoff.console.views import pseudonym, urgency_label, visible_pools
from handoff.models import Case
from handoff.queue import OPEN_STATUSES
from storage.db import Database
from storage.models import AuditRecord

logger = logging.getLogger(__name__)

ALERT_TOPIC = "console:alerts"
ALERT_ACTION = "case.alert"
# bot.types.Urgency.EMERGENCY; handoff does not import bot (dependencies point bot → handoff).
EMERGENCY = 2
SWEEP_SECONDS = 5.0


@dataclass(frozen=True)
class AlertSent:
    """An alert this worker won the right to send: ids and codes only."""

    case_id: str
    conversation_id: str
    pool: str
    urgency: int
    status: str
    recipients: tuple[str, ...]

    def notice(self) -> Notice:
        """What goes on the ``alerts`` topic (no names, no text)."""
        return {
            "case_id": self.case_id,
            "pool": self.pool,
            "urgency": self.urgency,
            "status": self.status,
        }


def _audit_prefix(case_id: str, pool: str) -> str:
    return f"case:{case_id};pool:{pool};"


def _alertable(case: Case | None) -> bool:
    return case is not None and case.urgency >= EMERGENCY and case.status in OPEN_STATUSES


async def raise_alert(
    database: Database, case_id: str, *, now: datetime | None = None
) -> AlertSent | None:
    """Records the alert of an open emergency case once per pool; None if not (or not again).

    The case row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite runs one writer)
    while the audit log is checked and the record written, so two workers never both send.
    """
    # Most notices (a claim, a case that is not an emergency) end here, on one plain read:
    # the lock below is a transaction of its own in every worker for every notice.
    async with database.reads() as session:
        if not _alertable(await session.get(Case, case_id)):
            return None
    async with database.session() as session:
        case = await session.scalar(select(Case).where(Case.id == case_id).with_for_update())
        if case is None or not _alertable(case):
            return None
        prefix = _audit_prefix(case.id, case.pool)
        already = await session.scalar(
            select(AuditRecord.id)
            .where(
                AuditRecord.conversation_id == case.conversation_id,
                AuditRecord.action == ALERT_ACTION,
                AuditRecord.reason.like(prefix + "%"),
            )
            .limit(1)
        )
        if already is not None:
            return None
        present = await console_sessions.present_accounts(session, now=now)
        recipients = tuple(a.id for a in present if console_sessions.serves(a, case.pool))
        audit.record(
            session,
            actor="system",
            role="system",
            conversation_id=case.conversation_id,
            action=ALERT_ACTION,
            reason=f"{prefix}to:{len(recipients)}",
        )
        sent = AlertSent(
            case.id, case.conversation_id, case.pool, case.urgency, case.status, recipients
        )
    log_event(
        logger,
        "console.alert",
        logging.WARNING,
        case_id=sent.case_id,
        pool=sent.pool,
        urgency=sent.urgency,
        count=len(sent.recipients),
    )
    return sent


async def alert_case(runtime: Runtime, case_id: str) -> AlertSent | None:
    """:func:`raise_alert`, then tells every worker's consoles (after the commit)."""
    sent = await raise_alert(runtime.database, case_id)
    if sent is not None:
        await runtime.events.publish(ALERT_TOPIC, sent.notice())
    return sent


async def unalerted_cases(session: AsyncSession) -> list[str]:
    """Open emergency cases with no alert recorded for their current pool."""
    prefix = literal("case:") + Case.id + literal(";pool:") + Case.pool + literal(";%")
    alerted = exists().where(
        and_(
            AuditRecord.conversation_id == Case.conversation_id,
            AuditRecord.action == ALERT_ACTION,
            AuditRecord.reason.like(prefix),
        )
    )
    rows = await session.scalars(
        select(Case.id)
        .where(Case.urgency >= EMERGENCY, Case.status.in_(OPEN_STATUSES), ~alerted)
        .order_by(Case.created_at)
    )
    return list(rows.all())


async def sweep(runtime: Runtime) -> int:
    """Alerts every open emergency case not alerted yet (a missed notice); returns how many."""
    async with runtime.database.reads() as session:
        pending = await unalerted_cases(session)
    count = 0
    for case_id in pending:
        if await alert_case(runtime, case_id) is not None:
            count += 1
    return count


def _is_candidate(notice: Notice) -> str | None:
    """The case id of a ``queue`` notice that may concern an emergency (else None)."""
    case_id = notice.get("case_id")
    if not isinstance(case_id, str):
        return None
    urgency = notice.get("urgency")
    if isinstance(urgency, int) and urgency < EMERGENCY:
        return None
    return case_id


@contextlib.asynccontextmanager
async def _notices(runtime: Runtime, topic: str) -> AsyncIterator[asyncio.Queue[Notice]]:
    """The topic's notices in a queue (cancelling a ``get`` then loses nothing)."""
    queue: asyncio.Queue[Notice] = asyncio.Queue(1000)
    async with runtime.events.subscribe(topic) as notices:

        async def pump() -> None:
            async for notice in notices:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(notice)

        task = asyncio.create_task(pump())
        try:
            yield queue
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _check_roster(runtime: Runtime) -> None:
    """Logs (counts only) whether the roster in ``pools.yml`` agrees with the accounts."""
    async with runtime.database.session() as session:
        problems = await roster_problems(session, handoff_config())
    log_event(
        logger,
        "console.roster_check",
        logging.WARNING if problems else logging.INFO,
        count=len(problems),
        status="mismatch" if problems else "ok",
    )


async def run_alerts(runtime: Runtime) -> None:
    """Runs a worker's alerter: reacts to ``queue`` notices, sweeps every few seconds."""
    with contextlib.suppress(Exception):
        await _check_roster(runtime)
    while True:
        try:
            async with _notices(runtime, QUEUE_TOPIC) as notices:
                await sweep(runtime)
                while True:
                    try:
                        notice = await asyncio.wait_for(notices.get(), SWEEP_SECONDS)
                    except TimeoutError:
                        await sweep(runtime)
                        continue
                    case_id = _is_candidate(notice)
                    if case_id is not None:
                        await alert_case(runtime, case_id)
                    elif notice.get("kind") == "reconnected":
                        await sweep(runtime)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database or bus hiccup must not end the alerter
            log_event(logger, "console.alert_error", logging.ERROR, error_type=type(exc).__name__)
            await asyncio.sleep(1.0)


# --- what a console shows -------------------------------------------------------------------


@dataclass(frozen=True)
class AlertView:
    """One alert as a page or a socket frame shows it (pseudonym and labels, no text)."""

    case_id: str
    name: str
    status: str
    title: str
    message: str
    open_label: str
    dismiss_label: str

    @property
    def href(self) -> str:
        """The case page."""
        return f"/console/cases/{self.case_id}"

    def as_frame(self) -> dict[str, Any]:
        """The socket frame (``type: alert``)."""
        return {
            "type": "alert",
            "case_id": self.case_id,
            "name": self.name,
            "status": self.status,
            "href": self.href,
            "title": self.title,
            "message": self.message,
            "open_label": self.open_label,
            "dismiss_label": self.dismiss_label,
        }


def receives(staff: Staff, pool: str) -> bool:
    """Whether ``staff`` is alerted for ``pool``: its counselors, supervisors and admins."""
    return staff.sees_all or pool in staff.pools


def alert_view(case_id: str, pool: str, urgency: int, status: str) -> AlertView:
    """The texts of one alert (``handoff/content/console_texts.yml``)."""
    config = handoff_config()
    found = config.pools.get(pool)
    name = pseudonym(case_id)
    return AlertView(
        case_id=case_id,
        name=name,
        status=status,
        title=text("alert_title"),
        message=text(
            "alert_message",
            urgency=urgency_label(urgency)[0],
            case=name,
            pool=found.name if found is not None else pool,
        ),
        open_label=text("alert_open", case=name),
        dismiss_label=text("alert_dismiss"),
    )


def frame_for(staff: Staff, notice: Notice) -> dict[str, Any] | None:
    """The ``alert`` frame of an ``alerts`` notice for ``staff``, or None if not theirs."""
    case_id, pool = notice.get("case_id"), notice.get("pool")
    urgency, status = notice.get("urgency"), notice.get("status")
    if not isinstance(case_id, str) or not isinstance(pool, str) or not receives(staff, pool):
        return None
    return alert_view(
        case_id,
        pool,
        urgency if isinstance(urgency, int) else EMERGENCY,
        status if isinstance(status, str) else "queued",
    ).as_frame()


async def waiting_alerts(session: AsyncSession, staff: Staff) -> list[AlertView]:
    """Emergency cases still waiting in ``staff``'s pools: shown on every console page."""
    query = select(Case).where(Case.status == "queued", Case.urgency >= EMERGENCY)
    pools = visible_pools(staff)
    if pools is not None:
        query = query.where(Case.pool.in_(list(pools)))
    cases = (await session.scalars(query.order_by(Case.created_at))).all()
    return [alert_view(c.id, c.pool, c.urgency, c.status) for c in cases]
