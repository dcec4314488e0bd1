"""Server-side console sessions: created at sign-in, checked on every request, revocable.

A signed cookie alone cannot be taken back: a stolen or logged-out cookie would work until
it expired. So the cookie names a ``console_sessions`` row, and a request is signed in only
while that row is neither revoked nor expired. Logout revokes one row; a password change, a
lockout or removing the account revokes every row of the account at once.

``last_seen`` is touched at most once a minute (pages and the open live socket), so
:func:`present_accounts` can tell who has the console open — the staff an emergency alert
reaches.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import ConsoleSession, CounselorAccount
from storage.db import as_utc, utcnow

SESSION_LIFETIME = timedelta(hours=8)  # one working shift
TOUCH_EVERY = timedelta(minutes=1)
# An open console page touches its session every minute; one not seen for this long is
# taken as closed (the counselor has left) even though it has not expired.
PRESENT_WITHIN = timedelta(minutes=5)


@dataclass(frozen=True)
class LiveSession:
    """A valid session and its account, as a request needs them."""

    session_id: str
    account: CounselorAccount
    expires_at: datetime


async def start(
    session: AsyncSession, account_id: str, *, now: datetime | None = None
) -> ConsoleSession:
    """A new session row with a random id (the caller commits and signs the id)."""
    now = now or utcnow()
    row = ConsoleSession(
        id=secrets.token_urlsafe(32),
        account_id=account_id,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
        last_seen=now,
    )
    session.add(row)
    await session.flush()
    return row


async def check(
    session: AsyncSession, session_id: str, *, now: datetime | None = None
) -> LiveSession | None:
    """The session and its account if the row exists, is not revoked and has not expired.

    Touches ``last_seen`` when it is over a minute old (the caller commits).
    """
    now = now or utcnow()
    row = (
        await session.execute(
            select(ConsoleSession, CounselorAccount)
            .join(CounselorAccount, CounselorAccount.id == ConsoleSession.account_id)
            .where(ConsoleSession.id == session_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        return None
    console_session, account = row
    if console_session.revoked_at is not None or as_utc(console_session.expires_at) <= now:
        return None
    if now - as_utc(console_session.last_seen) >= TOUCH_EVERY:
        await session.execute(
            update(ConsoleSession).where(ConsoleSession.id == session_id).values(last_seen=now)
        )
    return LiveSession(session_id, account, as_utc(console_session.expires_at))


async def revoke(session: AsyncSession, session_id: str, *, now: datetime | None = None) -> bool:
    """Revokes one session (logout); False if it was unknown or already revoked."""
    result = await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def revoke_all(session: AsyncSession, account_id: str, *, now: datetime | None = None) -> int:
    """Revokes every open session of an account; returns how many were open."""
    result = await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.account_id == account_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def present_accounts(
    session: AsyncSession, *, now: datetime | None = None
) -> list[CounselorAccount]:
    """Accounts with a live session seen within :data:`PRESENT_WITHIN` (each once)."""
    now = now or utcnow()
    accounts = (
        await session.scalars(
            select(CounselorAccount)
            .join(ConsoleSession, ConsoleSession.account_id == CounselorAccount.id)
            .where(
                ConsoleSession.revoked_at.is_(None),
                ConsoleSession.expires_at > now,
                ConsoleSession.last_seen >= now - PRESENT_WITHIN,
            )
            .distinct()
            .order_by(CounselorAccount.id)
        )
    ).all()
    return list(accounts)


def serves(account: CounselorAccount, pool: str) -> bool:
    """Whether an account is on duty for ``pool``: supervisors and admins for every pool."""
    if account.role in ("supervisor", "admin"):
        return True
    return pool in {p.strip() for p in account.pools.split(",")}
