"""What the console shows of a case: pseudonyms, urgency labels, queue rows (no text, no ids).

Counselors never see the LINE user id, display name or profile photo (requirements §3); a
case is named by a short pseudonym derived from its random case id, e.g. 「ケース A7K2」.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.console.auth import Staff
from handoff.models import Case
from handoff.pools import HandoffConfig
from handoff.queue import OPEN_STATUSES, list_queue
from storage.db import as_utc, utcnow

# Crockford's base32 without look-alikes (no I, L, O, U): easy to read out on the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
URGENCY_LABELS = {2: ("緊急", "emergency"), 1: ("高", "high"), 0: ("通常", "normal")}
STATUS_LABELS = {
    "queued": "待機中",
    "claimed": "対応中",
    "returned": "ボットに戻した",
    "closed": "終了",
}


def pseudonym(case_id: str) -> str:
    """A short stable name for a case: 「ケース A7K2」 (4 symbols from the case id's hash)."""
    digest = hashlib.sha256(case_id.encode()).digest()
    return "ケース " + "".join(_ALPHABET[b % 32] for b in digest[:4])


def urgency_label(urgency: int) -> tuple[str, str]:
    """The Japanese label and a CSS class for an urgency level (text, never colour only)."""
    return URGENCY_LABELS.get(max(0, min(urgency, 2)), URGENCY_LABELS[0])


def waited_minutes(since: datetime, now: datetime | None = None) -> int:
    """Whole minutes since ``since``."""
    return max(int(((now or utcnow()) - as_utc(since)).total_seconds() // 60), 0)


@dataclass(frozen=True)
class CaseRow:
    """One case as the queue and the supervisor list show it."""

    case_id: str
    name: str
    urgency: int
    urgency_label: str
    urgency_class: str
    pool: str
    pool_name: str
    status: str
    status_label: str
    counselor: str | None
    waited_minutes: int
    reasons: tuple[str, ...]

    def as_frame(self) -> dict[str, Any]:
        """The row for the live queue socket (codes and labels only)."""
        return {
            "case_id": self.case_id,
            "name": self.name,
            "urgency": self.urgency,
            "urgency_label": self.urgency_label,
            "urgency_class": self.urgency_class,
            "pool_name": self.pool_name,
            "status_label": self.status_label,
            "counselor": self.counselor,
            "waited_minutes": self.waited_minutes,
        }


def _pool_name(config: HandoffConfig, pool: str) -> str:
    found = config.pools.get(pool)
    return found.name if found is not None else pool


def case_row(case: Case, config: HandoffConfig, now: datetime | None = None) -> CaseRow:
    """The displayable facts of one case."""
    label, css = urgency_label(case.urgency)
    return CaseRow(
        case_id=case.id,
        name=pseudonym(case.id),
        urgency=case.urgency,
        urgency_label=label,
        urgency_class=css,
        pool=case.pool,
        pool_name=_pool_name(config, case.pool),
        status=case.status,
        status_label=STATUS_LABELS.get(case.status, case.status),
        counselor=case.counselor,
        waited_minutes=waited_minutes(case.created_at, now),
        reasons=tuple(r for r in case.reasons.split(",") if r),
    )


def visible_pools(staff: Staff) -> tuple[str, ...] | None:
    """The pools whose cases ``staff`` sees (None = all)."""
    return None if staff.sees_all else staff.pools


def may_see(staff: Staff, case: Case) -> bool:
    """Whether ``staff`` may open ``case``: supervisors any; counselors their own and queued.

    A counselor sees the cases they hold and the cases waiting in their pools (to decide
    whether to claim), never a colleague's conversation.
    """
    if staff.sees_all:
        return True
    if case.status == "claimed":
        return case.counselor == staff.id
    return case.status == "queued" and case.pool in staff.pools


async def queue_rows(session: AsyncSession, config: HandoffConfig, staff: Staff) -> list[CaseRow]:
    """Queued cases visible to ``staff``: urgency first, then longest waiting."""
    items = await list_queue(session, visible_pools(staff))
    if not items:
        return []
    cases = {
        c.id: c
        for c in (
            await session.scalars(select(Case).where(Case.id.in_([i.case_id for i in items])))
        ).all()
    }
    now = utcnow()
    return [case_row(cases[i.case_id], config, now) for i in items if i.case_id in cases]


async def open_rows(session: AsyncSession, config: HandoffConfig, staff: Staff) -> list[CaseRow]:
    """Claimed cases: a counselor's own; for supervisors every open claim (to watch/reassign)."""
    query = select(Case).where(Case.status == "claimed")
    if not staff.sees_all:
        query = query.where(Case.counselor == staff.id)
    rows = (await session.scalars(query.order_by(Case.urgency.desc(), Case.created_at))).all()
    now = utcnow()
    return [case_row(c, config, now) for c in rows]


def is_open(case: Case) -> bool:
    """Whether the case is still queued or claimed."""
    return case.status in OPEN_STATUSES
