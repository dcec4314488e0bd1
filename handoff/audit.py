"""Audit records for every change of a case's hands; codes and ids only, never text."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditRecord


def record(
    session: AsyncSession,
    *,
    actor: str,
    role: str,
    conversation_id: str,
    action: str,
    reason: str,
) -> None:
    """Adds one audit row (e.g. ``case.claim``) to the caller's transaction."""
    session.add(
        AuditRecord(
            actor=actor[:80],
            role=role[:20],
            conversation_id=conversation_id,
            action=action[:40],
            reason=reason[:80],
        )
    )
