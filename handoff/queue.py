"""The counselor queue: putting escalated conversations in, listing and estimating waits.

Order is urgency first (highest first), then waiting time (longest first), then case id so
that every worker sees the same order.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.errors import CaseNotFound, RoutingConfigError
from handoff.models import Case
from handoff.pools import HandoffConfig
from storage.db import as_utc, utcnow

OPEN_STATUSES = ("queued", "claimed")
ROUTING_FILE = Path(__file__).resolve().parent / "config" / "routing.yml"


class PoolRouter:
    """Maps safety categories to counselor pools, from ``handoff/config/routing.yml``."""

    def __init__(self, routes: dict[str, str], default_pool: str) -> None:
        """Use :meth:`load`."""
        self._routes = routes
        self.default_pool = default_pool

    @classmethod
    def load(cls, path: Path = ROUTING_FILE) -> PoolRouter:
        """Reads the routing file and checks every route names a known pool."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RoutingConfigError(f"cannot read {path}: {exc}") from exc
        pools = set(data.get("pools") or [])
        routes = {str(k): str(v) for k, v in (data.get("routes") or {}).items()}
        default_pool = str(data.get("default_pool", "general"))
        unknown = {p for p in [*routes.values(), default_pool] if p not in pools}
        if unknown:
            raise RoutingConfigError(f"{path}: unknown pools {sorted(unknown)}")
        return cls(routes, default_pool)

    def pool_for(self, categories: list[str]) -> str:
        """The pool of the first (most important) category, or the default pool."""
        for category in categories:
            if category in self._routes:
                return self._routes[category]
        return self.default_pool


@dataclass(frozen=True)
class Enqueued:
    """What :func:`open_or_raise` did: the resident is told their place when either is true."""

    case: Case
    opened: bool
    raised: bool


async def enqueue(
    *,
    session: AsyncSession,
    conversation_id: str,
    urgency: int,
    pool: str,
    reasons: tuple[str, ...],
) -> Case:
    """Opens a case, or raises the urgency of the conversation's open case (never lowers it)."""
    done = await open_or_raise(
        session=session,
        conversation_id=conversation_id,
        urgency=urgency,
        pool=pool,
        reasons=reasons,
    )
    return done.case


async def open_or_raise(
    *,
    session: AsyncSession,
    conversation_id: str,
    urgency: int,
    pool: str,
    reasons: tuple[str, ...],
) -> Enqueued:
    """:func:`enqueue`, also saying whether a case was opened or its urgency raised."""
    case = await session.scalar(
        select(Case)
        .where(Case.conversation_id == conversation_id, Case.status.in_(OPEN_STATUSES))
        .with_for_update()
    )
    if case is None:
        case = Case(
            id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            status="queued",
            urgency=urgency,
            pool=pool,
            reasons=",".join(reasons)[:500],
        )
        session.add(case)
        opened, raised = True, False
    else:
        opened, raised = False, urgency > case.urgency
        case.urgency = max(case.urgency, urgency)
        merged = list(dict.fromkeys([*case.reasons.split(","), *reasons]))
        case.reasons = ",".join(r for r in merged if r)[:500]
        case.updated_at = utcnow()
    await session.flush()
    return Enqueued(case=case, opened=opened, raised=raised)


@dataclass(frozen=True)
class QueueItem:
    """One waiting case as the console lists it (no text, no LINE user id)."""

    case_id: str
    conversation_id: str
    pool: str
    urgency: int
    reasons: tuple[str, ...]
    created_at: datetime
    position: int


@dataclass(frozen=True)
class WaitEstimate:
    """Where a queued case stands, for the resident's 「あと何人」 message.

    ``minutes`` = position × average handling minutes ÷ counselors on duty in the pool,
    rounded up; when the pool is closed it is counted from ``opens_at`` instead of now.
    ``minutes`` is None when nobody serves the pool or it never opens.
    """

    case_id: str
    pool: str
    position: int
    on_duty: int
    open_now: bool
    opens_at: datetime | None
    minutes: int | None
    # The part of ``minutes`` due to the people ahead (without the time until the pool
    # opens): it changes only when the queue or the staff changes, not as the clock runs.
    queue_minutes: int | None = None


async def list_queue(session: AsyncSession, pools: Sequence[str] | None = None) -> list[QueueItem]:
    """Queued cases (optionally of some pools), most urgent first, then longest waiting.

    ``position`` counts within the case's own pool, as residents of one pool wait for the
    counselors of that pool.
    """
    query = select(Case).where(Case.status == "queued")
    if pools is not None:
        query = query.where(Case.pool.in_(list(pools)))
    query = query.order_by(Case.urgency.desc(), Case.created_at.asc(), Case.id.asc())
    rows = (await session.scalars(query)).all()
    seen: dict[str, int] = {}
    items: list[QueueItem] = []
    for case in rows:
        seen[case.pool] = seen.get(case.pool, 0) + 1
        items.append(
            QueueItem(
                case_id=case.id,
                conversation_id=case.conversation_id,
                pool=case.pool,
                urgency=case.urgency,
                reasons=tuple(r for r in case.reasons.split(",") if r),
                created_at=as_utc(case.created_at),
                position=seen[case.pool],
            )
        )
    return items


async def queue_position(session: AsyncSession, case_id: str) -> int | None:
    """1-based position of a queued case within its pool; None if it is not queued."""
    case = await session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    if case.status != "queued":
        return None
    ahead = await session.scalar(
        select(func.count())
        .select_from(Case)
        .where(
            Case.status == "queued",
            Case.pool == case.pool,
            or_(
                Case.urgency > case.urgency,
                and_(Case.urgency == case.urgency, Case.created_at < case.created_at),
                and_(
                    Case.urgency == case.urgency,
                    Case.created_at == case.created_at,
                    Case.id < case.id,
                ),
            ),
        )
    )
    return int(ahead or 0) + 1


def estimate_minutes(position: int, average_handling_minutes: float, on_duty: int) -> int | None:
    """Position × average handling minutes ÷ counselors on duty, rounded up (None if nobody)."""
    if on_duty <= 0:
        return None
    return math.ceil(position * average_handling_minutes / on_duty)


async def wait_estimate(
    session: AsyncSession,
    config: HandoffConfig,
    case_id: str,
    *,
    at: datetime | None = None,
    on_duty: int | None = None,
) -> WaitEstimate | None:
    """Position and estimated wait of a queued case; None if it is no longer queued.

    ``on_duty`` defaults to the roster size of the pool (``pools.yml``); the console can pass
    the number actually signed in.
    """
    position = await queue_position(session, case_id)
    if position is None:
        return None
    case = await session.get(Case, case_id)
    assert case is not None  # queue_position found it
    return estimate_for(config, case.id, case.pool, position, at=at or utcnow(), on_duty=on_duty)


def estimate_for(
    config: HandoffConfig,
    case_id: str,
    pool: str,
    position: int,
    *,
    at: datetime,
    on_duty: int | None = None,
) -> WaitEstimate:
    """The estimate of a known position (no database): see :class:`WaitEstimate`."""
    now = at
    staff = len(config.counselors_in(pool)) if on_duty is None else on_duty
    open_now = config.is_open(pool, now)
    opens_at = now if open_now else config.next_opening(pool, now)
    queue_minutes = estimate_minutes(position, config.queue.average_handling_minutes, staff)
    minutes = queue_minutes
    if minutes is not None and opens_at is None:
        minutes = None
    elif minutes is not None and opens_at is not None and not open_now:
        minutes += math.ceil((opens_at - now).total_seconds() / 60)
    return WaitEstimate(
        case_id=case_id,
        pool=pool,
        position=position,
        on_duty=staff,
        open_now=open_now,
        opens_at=opens_at,
        minutes=minutes,
        queue_minutes=queue_minutes,
    )
