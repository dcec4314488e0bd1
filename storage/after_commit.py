"""Notices that may only be published once the transaction that caused them has committed.

A subscriber that hears "case opened" re-reads the queue at once; published before the
commit, it would not find the case. So code that changes things inside a caller's
transaction (the engine's turn) *defers* its notices on the session, and whoever commits
that transaction publishes them afterwards with :func:`publish_deferred`. A rolled-back
transaction never reaches that call, so its notices are dropped with it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.events import EventBus, Notice

_KEY = "tsunagu.deferred_notices"


def defer_notice(session: AsyncSession, topic: str, notice: Notice) -> None:
    """Remembers ``notice`` on the session for after its commit (duplicates are dropped)."""
    pending: list[tuple[str, Notice]] = session.info.setdefault(_KEY, [])
    if (topic, notice) not in pending:
        pending.append((topic, notice))


def take_deferred(session: AsyncSession) -> list[tuple[str, Notice]]:
    """The session's deferred notices, removing them (so they are published once)."""
    pending: list[tuple[str, Notice]] = session.info.pop(_KEY, [])
    return pending


async def publish_deferred(events: EventBus | None, session: AsyncSession) -> None:
    """Publishes the deferred notices of a committed session (no bus: drops them)."""
    for topic, notice in take_deferred(session):
        if events is not None:
            await events.publish(topic, notice)
