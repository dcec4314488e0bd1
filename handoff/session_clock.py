"""How far a counselor session is into its length cap (25 or 50 minutes are common).

The console shows the elapsed time, warns at ``session.warning_minutes`` and, at
``session.cap_minutes``, prompts the counselor for a warm close (canned ``closing_*``
replies); the case is never closed automatically.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from handoff.pools import SessionLimits
from storage.db import as_utc


class SessionPhase(enum.Enum):
    """Where a claimed session stands against its cap."""

    RUNNING = "running"
    WARNING = "warning"
    OVER_CAP = "over_cap"


@dataclass(frozen=True)
class SessionClock:
    """Elapsed and remaining minutes of a claimed session."""

    elapsed_minutes: int
    remaining_minutes: int
    phase: SessionPhase


def session_clock(claimed_at: datetime, limits: SessionLimits, now: datetime) -> SessionClock:
    """The session's clock at ``now`` (whole minutes, elapsed rounded down)."""
    elapsed = max(int((now - as_utc(claimed_at)).total_seconds() // 60), 0)
    if elapsed >= limits.cap_minutes:
        phase = SessionPhase.OVER_CAP
    elif elapsed >= limits.warning_minutes:
        phase = SessionPhase.WARNING
    else:
        phase = SessionPhase.RUNNING
    return SessionClock(elapsed, max(limits.cap_minutes - elapsed, 0), phase)
