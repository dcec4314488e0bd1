"""Pools, staffed hours, the counselor roster and session limits, from ``config/pools.yml``.

Hours are wall-clock ranges in the configured time zone (Asia/Tokyo), so the published plan
of a service (e.g. 妊娠SOSみえ: Mon/Wed 15:00–18:00, Sat 9:00–12:00) is copied as written.
"""

from __future__ import annotations

import itertools
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from handoff.config_files import read_yaml
from handoff.errors import HandoffConfigError

POOLS_FILE = Path(__file__).resolve().parent / "config" / "pools.yml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Role = Literal["counselor", "supervisor", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Strict):
    """One staffed range within a day, start inclusive, end exclusive."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Interval:
        """Reads ``"HH:MM-HH:MM"``; the end must be after the start (no overnight ranges)."""
        try:
            start_text, end_text = (part.strip() for part in text.split("-"))
            start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
        except ValueError as exc:
            raise ValueError(f"hours must look like '15:00-18:00', got {text!r}") from exc
        if end <= start:
            raise ValueError(f"range {text!r} ends before it starts (split overnight ranges)")
        return cls(start=start, end=end)


class Pool(_Strict):
    """A specialist pool and its weekly hours."""

    id: str
    name: str
    hours: dict[str, tuple[Interval, ...]] = Field(default_factory=dict)

    @field_validator("hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: object) -> object:
        if not isinstance(value, dict):
            raise ValueError("hours must map weekdays (mon..sun) to lists of 'HH:MM-HH:MM'")
        parsed: dict[str, tuple[Interval, ...]] = {}
        for day, ranges in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            if not isinstance(ranges, list) or not all(isinstance(r, str) for r in ranges):
                raise ValueError(f"{day}: expected a list of 'HH:MM-HH:MM' strings")
            intervals = sorted((Interval.parse(r) for r in ranges), key=lambda i: i.start)
            for earlier, later in itertools.pairwise(intervals):
                if later.start < earlier.end:
                    raise ValueError(f"{day}: ranges overlap")
            parsed[day] = tuple(intervals)
        return parsed


class Counselor(_Strict):
    """One counselor of the roster."""

    id: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1)
    role: Role
    pools: tuple[str, ...] = ()


class SessionLimits(_Strict):
    """How long one counselor session may last, and when the console warns."""

    cap_minutes: int = Field(gt=0, le=240)
    warning_minutes: int = Field(gt=0)

    @model_validator(mode="after")
    def _warning_before_cap(self) -> SessionLimits:
        if self.warning_minutes >= self.cap_minutes:
            raise ValueError("session.warning_minutes must be less than session.cap_minutes")
        return self


class QueueSettings(_Strict):
    """Inputs of the wait estimate."""

    average_handling_minutes: float = Field(gt=0)


class ResidentNoticeSettings(_Strict):
    """How often a waiting resident hears that their place in the queue changed.

    An update goes out when the position went down, or when the estimate moved by at least
    ``wait_change_minutes``; never more than once per ``min_interval_seconds`` per case.
    ``sweep_seconds`` is how often each app process looks for changes made elsewhere.
    """

    min_interval_seconds: float = Field(default=120, ge=0)
    wait_change_minutes: int = Field(default=10, ge=1)
    sweep_seconds: float = Field(default=15, gt=0)


class HandoffConfig(_Strict):
    """The validated contents of ``pools.yml``."""

    version: Literal[1]
    timezone: str
    session: SessionLimits
    queue: QueueSettings
    resident_notices: ResidentNoticeSettings = Field(default_factory=ResidentNoticeSettings)
    pools: dict[str, Pool]
    counselors: tuple[Counselor, ...]

    @field_validator("pools", mode="before")
    @classmethod
    def _pool_ids(cls, value: object) -> object:
        if not isinstance(value, dict) or not value:
            raise ValueError("pools must be a non-empty mapping")
        return {
            key: {"id": key, **body} if isinstance(body, dict) else body
            for key, body in value.items()
        }

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _roster_consistent(self) -> HandoffConfig:
        ids = [c.id for c in self.counselors]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate counselor ids: {duplicates}")
        for counselor in self.counselors:
            unknown = sorted(set(counselor.pools) - set(self.pools))
            if unknown:
                raise ValueError(f"counselor {counselor.id}: unknown pools {unknown}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The zone the hours are written in."""
        return ZoneInfo(self.timezone)

    def pool(self, pool_id: str) -> Pool:
        """The pool, or a config error naming the known ones."""
        try:
            return self.pools[pool_id]
        except KeyError:
            raise HandoffConfigError(
                f"unknown pool {pool_id!r}; known: {sorted(self.pools)}"
            ) from None

    def counselor(self, counselor_id: str) -> Counselor | None:
        """The roster entry of a counselor id, if any."""
        return next((c for c in self.counselors if c.id == counselor_id), None)

    def counselors_in(self, pool_id: str) -> list[Counselor]:
        """Counselors and supervisors who serve a pool."""
        return [c for c in self.counselors if pool_id in c.pools and c.role != "admin"]

    def is_open(self, pool_id: str, at: datetime) -> bool:
        """Whether the pool is staffed at ``at`` (an aware datetime)."""
        local = _aware(at).astimezone(self.zone)
        day = WEEKDAYS[local.weekday()]
        now = local.time().replace(tzinfo=None)
        return any(i.start <= now < i.end for i in self.pool(pool_id).hours.get(day, ()))

    def next_opening(self, pool_id: str, at: datetime) -> datetime | None:
        """When the pool is next staffed: ``at`` itself if open now; None if it never opens.

        The answer is an aware datetime in the configured zone.
        """
        pool = self.pool(pool_id)
        local = _aware(at).astimezone(self.zone)
        if self.is_open(pool_id, local):
            return local
        for offset in range(8):
            date = (local + timedelta(days=offset)).date()
            for interval in pool.hours.get(WEEKDAYS[date.weekday()], ()):
                start = datetime.combine(date, interval.start, tzinfo=self.zone)
                if start > local:
                    return start
        return None


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("pass an aware datetime (naive times are ambiguous)")
    return at


def load_config(path: Path = POOLS_FILE) -> HandoffConfig:
    """Reads and validates ``pools.yml``; every problem is reported with the file name."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise HandoffConfigError(f"{path}: expected a mapping at the top level")
    try:
        return HandoffConfig.model_validate(data)
    except ValidationError as exc:
        raise HandoffConfigError(f"{path}: {exc}") from exc
