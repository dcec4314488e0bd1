"""The resident's queue and session notices, rendered from ``content/resident_notices.yml``.

Texts live in YAML (やさしい日本語 and English), never in Python. Phone numbers are not in
this file either: the caller passes the 24-hour lines already rendered from
``bot/content/hotlines.yml`` (handoff does not import the bot), so a number is written in
exactly one place.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from handoff.config_files import load_model
from handoff.queue import WaitEstimate

NOTICES_FILE = Path(__file__).resolve().parent / "content" / "resident_notices.yml"
DEFAULT_LANGUAGE = "ja"

# Every placeholder a text may use; a text using another one fails at load time.
_SAMPLE = {
    "position": 2,
    "minutes": 15,
    "wait": "…",
    "opens": "…",
    "hotlines": "…",
    "time": "9:00",
    "weekday": "…",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LanguageTexts(_Strict):
    """All notices in one language."""

    queued: str = Field(min_length=1)
    wait_minutes: str = Field(min_length=1)
    wait_unknown: str = Field(min_length=1)
    closed: str = Field(min_length=1)
    closed_no_hours: str = Field(min_length=1)
    danger_24h: str = Field(min_length=1)
    update_forward: str = Field(min_length=1)
    update: str = Field(min_length=1)
    update_closed: str = Field(min_length=1)
    session_warning: str = Field(min_length=1)
    session_close: str = Field(min_length=1)
    opens_today: str = Field(min_length=1)
    opens_tomorrow: str = Field(min_length=1)
    opens_later: str = Field(min_length=1)
    opens_next_week: str = Field(min_length=1)
    weekdays: tuple[str, str, str, str, str, str, str]

    @model_validator(mode="after")
    def _placeholders_known(self) -> LanguageTexts:
        for name, value in self:
            if isinstance(value, str):
                try:
                    value.format(**_SAMPLE)
                except (KeyError, IndexError, ValueError) as exc:
                    raise ValueError(f"{name}: bad placeholder ({exc})") from exc
        if "{hotlines}" not in self.danger_24h:
            raise ValueError("danger_24h must list the 24-hour lines ({hotlines})")
        return self


class NoticeTexts(_Strict):
    """The validated contents of ``resident_notices.yml``."""

    version: Literal[1]
    ja: LanguageTexts
    en: LanguageTexts

    @classmethod
    def load(cls, path: Path = NOTICES_FILE) -> NoticeTexts:
        """Reads and validates the file, naming it in every error."""
        return load_model(cls, path)

    def lang(self, language: str) -> LanguageTexts:
        """The texts of ``language``; unknown languages get Japanese."""
        return self.en if language == "en" else self.ja

    def opens(self, language: str, opens_at: datetime, now: datetime) -> str:
        """When counselors are back, as weekday + time in the pool's zone (``opens_at``'s).

        ``opens_at`` comes from :meth:`HandoffConfig.next_opening`, so it is aware and in the
        service's zone (Asia/Tokyo); ``now`` is converted to that zone to compare days.
        """
        t = self.lang(language)
        local_now = now.astimezone(opens_at.tzinfo)
        days = (opens_at.date() - local_now.date()).days
        values = {
            "time": f"{opens_at.hour}:{opens_at.minute:02d}",
            "weekday": t.weekdays[opens_at.weekday()],
        }
        if days <= 0:
            template = t.opens_today
        elif days == 1:
            template = t.opens_tomorrow
        elif days < 7:
            template = t.opens_later
        else:
            template = t.opens_next_week
        return template.format(**values)

    def _wait(self, t: LanguageTexts, minutes: int | None) -> str:
        return t.wait_minutes.format(minutes=minutes) if minutes is not None else t.wait_unknown

    def danger(self, language: str, hotlines: str) -> str:
        """For danger to life, call a 24-hour line: followed by the rendered lines."""
        return self.lang(language).danger_24h.format(hotlines=hotlines)

    def status(self, language: str, estimate: WaitEstimate, now: datetime, hotlines: str) -> str:
        """The message at escalation: position and wait.

        Out of hours: when counselors are back, and the 24-hour lines (named here even
        though the safety message may have listed them: the resident must not miss them).
        """
        t = self.lang(language)
        if estimate.open_now:
            return t.queued.format(position=estimate.position, wait=self._wait(t, estimate.minutes))
        if estimate.opens_at is None:
            lead = t.closed_no_hours
        else:
            lead = t.closed.format(
                opens=self.opens(language, estimate.opens_at, now), position=estimate.position
            )
        return f"{lead}\n\n{self.danger(language, hotlines)}"

    def update(self, language: str, estimate: WaitEstimate, now: datetime, *, forward: bool) -> str:
        """A short "your place changed" message (the 24-hour lines were given before)."""
        t = self.lang(language)
        if estimate.open_now:
            wait = self._wait(t, estimate.minutes)
        elif estimate.opens_at is not None:
            wait = t.update_closed.format(opens=self.opens(language, estimate.opens_at, now))
        else:
            wait = t.closed_no_hours
        template = t.update_forward if forward else t.update
        return template.format(position=estimate.position, wait=wait)

    def session_warning(self, language: str, remaining_minutes: int) -> str:
        """The gentle "about N minutes left today" notice."""
        return self.lang(language).session_warning.format(minutes=max(remaining_minutes, 1))

    def session_close(self, language: str, hotlines: str) -> str:
        """The warm close at the cap: thanks, write again any time, the 24-hour lines."""
        t = self.lang(language)
        return f"{t.session_close}\n\n{self.danger(language, hotlines)}"
