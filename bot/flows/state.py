"""Where a resident is in a guide, stored as JSON on the conversation row.

Only ids, numbers and a timestamp: no message text ever goes in here, so the column can sit
beside the routing state without encryption. Unreadable or outdated JSON is treated as
"no guide in progress" — a resident is never stuck because of a stale row.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Phase = Literal["platform", "step", "resume"]
StepPlatform = Literal["any", "android", "iphone"]
SCHEMA_VERSION = 1
_PHASES: tuple[Phase, ...] = ("platform", "step", "resume")
_PLATFORMS: tuple[StepPlatform, ...] = ("any", "android", "iphone")


@dataclass(frozen=True)
class FlowState:
    """A guide in progress.

    ``phase`` is what the bot is waiting for: the platform answer, a control word for
    ``step`` (0-based), or the answer to 「つづきから はじめますか？」. ``failures`` counts
    「わからない」 (and unreadable answers) on the current step; two of them bring the offer
    to talk to a person. ``platform`` is None until the resident has said which phone.
    """

    guide_id: str
    phase: Phase
    step: int
    platform: StepPlatform | None
    failures: int
    language: str
    updated_at: datetime

    def moved(self, now: datetime, **changes: object) -> FlowState:
        """A copy with ``changes`` applied and the clock set to ``now``."""
        return replace(self, updated_at=now, **changes)  # type: ignore[arg-type]

    def to_json(self) -> str:
        """The column value."""
        data = asdict(self)
        data["updated_at"] = self.updated_at.astimezone(UTC).isoformat()
        data["v"] = SCHEMA_VERSION
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> FlowState | None:
        """Parses the column; None for empty, malformed or older-schema values."""
        data = _column(raw)
        if data is None or data.get("ended"):  # an EndedGuide note: no guide in progress
            return None
        try:
            phase, platform = data["phase"], data["platform"]
            if phase not in _PHASES or (platform is not None and platform not in _PLATFORMS):
                return None
            updated = _utc(data["updated_at"])
            return cls(
                guide_id=str(data["guide_id"]),
                phase=phase,
                step=max(0, int(data["step"])),
                platform=platform,
                failures=max(0, int(data["failures"])),
                language=str(data["language"]),
                updated_at=updated,
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class EndedGuide:
    """A note that the conversation's last guide has just ended (done, stopped or expired).

    Stored in the same column instead of nothing, so a bare 「できた」 or 「わからない」 a few
    minutes later is still read as an answer to the guide (the bot's last messages were the
    guide's) rather than classified alone — where 「できた」 looks like news of a pregnancy.
    Ids and a timestamp only, like :class:`FlowState`.
    """

    guide_id: str
    language: str
    ended_at: datetime

    def to_json(self) -> str:
        """The column value (never read as a :class:`FlowState`)."""
        data = {
            "ended": True,
            "ended_at": self.ended_at.astimezone(UTC).isoformat(),
            "guide_id": self.guide_id,
            "language": self.language,
            "v": SCHEMA_VERSION,
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> EndedGuide | None:
        """Parses the column; None for anything that is not an ended-guide note."""
        data = _column(raw)
        if data is None or data.get("ended") is not True:
            return None
        try:
            return cls(str(data["guide_id"]), str(data["language"]), _utc(data["ended_at"]))
        except (ValueError, KeyError, TypeError):
            return None

    def is_recent(self, now: datetime, window: timedelta) -> bool:
        """True while a bare button word still reads as a reply to the guide."""
        return now - self.ended_at <= window


def _column(raw: str | None) -> dict[str, Any] | None:
    """The column's JSON object if it is one of this schema version, else None."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("v") != SCHEMA_VERSION:
        return None
    return data


def _utc(value: object) -> datetime:
    """An ISO timestamp from the column; a naive one is taken as UTC (ValueError if bad)."""
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
