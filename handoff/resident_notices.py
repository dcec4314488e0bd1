"""Keeping waiting residents informed: queue updates and the session cap notices.

A *sweep* looks at every open case and sends what is due:

* queued cases whose place changed: a short update, but only when the position went down or
  the estimate moved by ``resident_notices.wait_change_minutes``, and at most once per
  ``min_interval_seconds`` per case (a moving queue must not flood a resident in crisis);
  a queued case whose resident was never told (reopened, or transferred to another pool)
  gets the full status message;
* claimed cases: a gentle warning at ``session.warning_minutes`` and a warm close at
  ``session.cap_minutes``, each once per claim. The counselor still closes the case.

Several app workers sweep side by side, so every notice is guarded by a compare-and-set on
the case row (``notified_*``, ``session_*_for``) in the same transaction that stores the
message: of two workers only the one whose ``UPDATE … WHERE <old value>`` wins sends it.
Locks are taken in the order the ownership code uses (conversation, then case).

After commit the message's notice is published on the conversation topic (the web chat
delivers it from the transcript, in whichever worker holds the socket) and ``on_outbox``
wakes the LINE sender. Nothing here imports ``channels``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import EventBus, conversation_topic
from core.logging import log_event
from handoff.messaging import Delivery, send_system_message
from handoff.models import Case
from handoff.notice_texts import NoticeTexts
from handoff.pools import HandoffConfig, ResidentNoticeSettings
from handoff.queue import WaitEstimate, estimate_for, list_queue, wait_estimate
from handoff.session_clock import SessionPhase, session_clock
from storage.db import Database, as_utc, utcnow
from storage.models import Conversation
from storage.transcript import Transcript

logger = logging.getLogger(__name__)

# (language, safety categories of the conversation) -> the 24-hour lines, rendered.
HotlineText = Callable[[str, tuple[str, ...]], str]
UpdateKind = Literal["status", "forward", "update"]
SessionKind = Literal["warning", "close"]


@dataclass(frozen=True)
class SweepResult:
    """How many notices one sweep sent (0 when another worker got there first)."""

    updates: int = 0
    warnings: int = 0
    closes: int = 0

    @property
    def total(self) -> int:
        """All notices sent."""
        return self.updates + self.warnings + self.closes


def update_due(
    *,
    notified_position: int | None,
    notified_wait_minutes: int | None,
    notified_at: datetime | None,
    estimate: WaitEstimate,
    now: datetime,
    settings: ResidentNoticeSettings,
) -> UpdateKind | None:
    """Which queue message (if any) a queued case's resident should get now.

    The estimate compared is the queue part (``queue_minutes``): out of hours the full
    estimate shrinks as the opening nears, which is no news worth a message.
    """
    if notified_position is None:
        return "status"
    if notified_at is not None and now - as_utc(notified_at) < timedelta(
        seconds=settings.min_interval_seconds
    ):
        return None
    if estimate.position < notified_position:
        return "forward"
    new, old = estimate.queue_minutes, notified_wait_minutes
    if (new is None) != (old is None):
        return "update"
    if new is not None and old is not None and abs(new - old) >= settings.wait_change_minutes:
        return "update"
    return None


def session_due(case: Case, config: HandoffConfig, now: datetime) -> SessionKind | None:
    """Which session notice a claimed case's resident should get now (once per claim)."""
    if case.status != "claimed" or case.claimed_at is None:
        return None
    phase = session_clock(case.claimed_at, config.session, now).phase
    if phase is SessionPhase.OVER_CAP and case.session_closed_for != case.claimed_at:
        return "close"
    if phase is SessionPhase.WARNING and case.session_warned_for != case.claimed_at:
        return "warning"
    return None


@dataclass
class ResidentNotices:
    """Sends the due queue updates and session notices; safe to run in every worker."""

    database: Database
    transcript: Transcript
    config: HandoffConfig
    texts: NoticeTexts
    hotlines: HotlineText
    events: EventBus | None = None
    # Called after a LINE message was committed to the outbox (wake the sender).
    on_outbox: Callable[[], None] | None = None
    clock: Callable[[], datetime] = utcnow

    async def sweep(self, *, at: datetime | None = None) -> SweepResult:
        """One pass over the open cases; returns what this worker sent."""
        # In UTC: SQLite keeps the wall time of what it is given, and every stamp is UTC.
        now = (at or self.clock()).astimezone(UTC)
        queue_candidates, session_candidates = await self._candidates(now)
        sent: list[str] = []
        for case_id, conversation_id in queue_candidates:
            if await self._guarded(self._queue_update, case_id, conversation_id, now):
                sent.append("update")
        for case_id, conversation_id in session_candidates:
            sent_kind = await self._guarded(self._session_notice, case_id, conversation_id, now)
            if sent_kind:
                sent.append(sent_kind)
        return SweepResult(sent.count("update"), sent.count("warning"), sent.count("close"))

    async def _candidates(
        self, now: datetime
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Cases that may need a notice, from one read (each is checked again under lock)."""
        async with self.database.reads() as session:
            items = await list_queue(session)
            rows = (
                await session.scalars(select(Case).where(Case.status.in_(("queued", "claimed"))))
            ).all()
        by_id = {case.id: case for case in rows}
        queued: list[tuple[str, str]] = []
        for item in items:
            case = by_id.get(item.case_id)
            if case is None or item.pool not in self.config.pools:
                continue
            estimate = estimate_for(self.config, case.id, case.pool, item.position, at=now)
            if self._update_kind(case, estimate, now):
                queued.append((case.id, case.conversation_id))
        claimed = [
            (case.id, case.conversation_id)
            for case in rows
            if session_due(case, self.config, now) is not None
        ]
        return queued, claimed

    async def _guarded(self, step: Callable[..., Any], *args: Any) -> str | None:
        """Runs one case's step and delivers its message; returns the kind sent, if any.

        A failure (e.g. a deadlock victim) skips that case only; the next sweep retries it.
        """
        try:
            done: tuple[Delivery, str] | None = await step(*args)
        except Exception as exc:  # other residents must still get theirs
            log_event(
                logger,
                "resident_notice.failed",
                level=logging.WARNING,
                case_id=args[0],
                error_type=type(exc).__name__,
            )
            return None
        if done is None:
            return None
        delivery, kind = done
        await self._after_commit(delivery)
        return kind

    async def _lock(self, session: AsyncSession, conversation_id: str) -> Conversation | None:
        """The conversation row, locked (the ownership code's lock order: conversation first)."""
        conversation = await session.scalar(
            select(Conversation)
            .where(Conversation.id == conversation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if conversation is None or conversation.shredded_at is not None:
            return None
        return conversation

    async def _locked_case(
        self, session: AsyncSession, conversation_id: str, case_id: str
    ) -> tuple[Conversation, Case] | None:
        """The locked conversation and its case re-read under that lock (None if either is gone)."""
        conversation = await self._lock(session, conversation_id)
        if conversation is None:
            return None
        case: Case | None = await session.scalar(
            select(Case).where(Case.id == case_id).execution_options(populate_existing=True)
        )
        return (conversation, case) if case is not None else None

    def _update_kind(self, case: Case, estimate: WaitEstimate, now: datetime) -> UpdateKind | None:
        """:func:`update_due` for what this case's resident was last told."""
        return update_due(
            notified_position=case.notified_position,
            notified_wait_minutes=case.notified_wait_minutes,
            notified_at=case.notified_at,
            estimate=estimate,
            now=now,
            settings=self.config.resident_notices,
        )

    async def _queue_update(
        self, case_id: str, conversation_id: str, now: datetime
    ) -> tuple[Delivery, str] | None:
        async with self.database.session() as session:
            found = await self._locked_case(session, conversation_id, case_id)
            if found is None or found[1].status != "queued":
                return None
            conversation, case = found
            estimate = await wait_estimate(session, self.config, case_id, at=now)
            if estimate is None:
                return None
            kind = self._update_kind(case, estimate, now)
            if kind is None:
                return None
            guard = [
                Case.id == case_id,
                Case.status == "queued",
                _same(Case.notified_position, case.notified_position),
                _same(Case.notified_at, case.notified_at),
            ]
            values = {
                "notified_position": estimate.position,
                "notified_wait_minutes": estimate.queue_minutes,
                "notified_at": now,
            }
            if not await _compare_and_set(session, guard, values):
                return None
            language = conversation.language
            if kind == "status":
                text = self.texts.status(
                    language, estimate, now, self.hotlines(language, _categories(conversation))
                )
            else:
                text = self.texts.update(language, estimate, now, forward=kind == "forward")
            delivery = await send_system_message(session, self.transcript, conversation, text)
        log_event(
            logger,
            "resident_notice.queue",
            case_id=case_id,
            conversation_id=conversation_id,
            channel=delivery.channel,
            kind=kind,
        )
        return delivery, "update"

    async def _session_notice(
        self, case_id: str, conversation_id: str, now: datetime
    ) -> tuple[Delivery, str] | None:
        async with self.database.session() as session:
            found = await self._locked_case(session, conversation_id, case_id)
            if found is None:
                return None
            conversation, case = found
            kind = session_due(case, self.config, now)
            if kind is None or case.claimed_at is None:
                return None
            guard = [
                Case.id == case_id,
                Case.status == "claimed",
                Case.claimed_at == case.claimed_at,
            ]
            values: dict[str, Any]
            if kind == "close":
                # The warning is never sent after the close, even if it was missed.
                guard.append(
                    or_(
                        Case.session_closed_for.is_(None),
                        Case.session_closed_for != case.claimed_at,
                    )
                )
                values = {
                    "session_closed_for": Case.claimed_at,
                    "session_warned_for": Case.claimed_at,
                }
            else:
                guard.append(
                    or_(
                        Case.session_warned_for.is_(None),
                        Case.session_warned_for != case.claimed_at,
                    )
                )
                values = {"session_warned_for": Case.claimed_at}
            if not await _compare_and_set(session, guard, values):
                return None
            language = conversation.language
            if kind == "close":
                text = self.texts.session_close(
                    language, self.hotlines(language, _categories(conversation))
                )
            else:
                remaining = session_clock(case.claimed_at, self.config.session, now)
                text = self.texts.session_warning(language, remaining.remaining_minutes)
            delivery = await send_system_message(session, self.transcript, conversation, text)
        log_event(
            logger,
            "resident_notice.session",
            case_id=case_id,
            conversation_id=conversation_id,
            channel=delivery.channel,
            kind=kind,
        )
        return delivery, kind

    async def _after_commit(self, delivery: Delivery) -> None:
        """Web: the transcript plus this notice reach the resident; LINE: wake the sender."""
        if delivery.outbox_id is not None and self.on_outbox is not None:
            self.on_outbox()
        if self.events is not None:
            await self.events.publish(
                conversation_topic(delivery.conversation_id),
                {"kind": "message", "message_id": delivery.message_id},
            )


def _same(column: Any, value: Any) -> Any:
    """``column = value`` that also matches NULL (compare-and-set on nullable columns)."""
    return column.is_(None) if value is None else column == value


async def _compare_and_set(session: AsyncSession, guard: list[Any], values: dict[str, Any]) -> bool:
    result = await session.execute(
        update(Case).where(*guard).values(values).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _categories(conversation: Conversation) -> tuple[str, ...]:
    return tuple(c for c in conversation.categories.split(",") if c)


@dataclass
class NoticeSweeper:
    """The background loop: sweeps every ``sweep_seconds`` and when woken (console actions)."""

    notices: ResidentNotices
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Asks for a sweep now (a case was claimed, closed, transferred or returned)."""
        self._wake.set()

    async def run(self) -> None:
        """Loops until cancelled; a failing sweep (database restarting) is retried later."""
        while True:
            # Cleared before the sweep: a wake-up during it triggers another one at once.
            self._wake.clear()
            try:
                await self.notices.sweep()
            except Exception as exc:
                log_event(
                    logger,
                    "resident_notice.loop_error",
                    level=logging.ERROR,
                    error_type=type(exc).__name__,
                )
            interval = self.notices.config.resident_notices.sweep_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
