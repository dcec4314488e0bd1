"""The consent notice shown on first contact, and the record that a resident was shown it.

The text lives in ``privacy/content/consent_notice.yml`` (やさしい日本語 and English) with a
``version``; the retention periods in it are filled from configuration, so the notice says
exactly what the retention job does. The LINE follow handler and the web widget call
:func:`has_consent` / :func:`consent_notice` / :func:`record_consent`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings, get_settings
from storage.models import ConsentRecord

NOTICE_FILE = Path(__file__).resolve().parent / "content" / "consent_notice.yml"
LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"
PLACEHOLDERS = frozenset({"transcript_period", "analytics_period"})
# How the notice reached the resident; stored with the record.
CONSENT_METHODS = frozenset({"line_follow", "line_first_message", "web_first_message"})
DAYS_PER_YEAR = 365


class ConsentContentError(ValueError):
    """The notice file is missing a language, a version, or uses an unknown placeholder."""


@dataclass(frozen=True)
class ConsentNotice:
    """The rendered notice (title and body) in every language, and its version."""

    version: str
    titles: dict[str, str]
    bodies: dict[str, str]

    def _language(self, language: str) -> str:
        return language if language in self.titles else DEFAULT_LANGUAGE

    def title(self, language: str) -> str:
        """The heading, for UIs that show it apart (the web widget)."""
        return self.titles[self._language(language)]

    def body(self, language: str) -> str:
        """The notice without its heading."""
        return self.bodies[self._language(language)]

    def text(self, language: str) -> str:
        """Heading and body as one message (LINE); Japanese for a language we lack."""
        return f"【{self.title(language)}】\n\n{self.body(language)}"

    @classmethod
    def load(
        cls, *, transcript_days: int, analytics_days: int, path: Path = NOTICE_FILE
    ) -> ConsentNotice:
        """Reads, checks and renders the notice for the given retention periods."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConsentContentError(f"cannot read {path}: {exc}") from exc
        version = str(data.get("version") or "")
        if not version or len(version) > 20:
            raise ConsentContentError(f"{path}: version must be 1-20 characters")
        notice, periods = data.get("notice") or {}, data.get("periods") or {}
        titles: dict[str, str] = {}
        bodies: dict[str, str] = {}
        for language in LANGUAGES:
            section = notice.get(language) or {}
            title, template = section.get("title"), section.get("body")
            units = periods.get(language)
            if not (
                isinstance(title, str) and isinstance(template, str) and isinstance(units, dict)
            ):
                raise ConsentContentError(
                    f"{path}: missing title, body or periods for {language!r}"
                )
            used = {name for _, name, _, _ in string.Formatter().parse(template) if name}
            if used != PLACEHOLDERS:
                raise ConsentContentError(
                    f"{path}: {language} notice must use exactly {sorted(PLACEHOLDERS)}, "
                    f"found {sorted(used)}"
                )
            titles[language] = title
            bodies[language] = template.format(
                transcript_period=format_period(transcript_days, units),
                analytics_period=format_period(analytics_days, units),
            )
        return cls(version=version, titles=titles, bodies=bodies)


def format_period(days: int, units: dict[str, str]) -> str:
    """``365`` → "1 year" / "1年"; whole years in years, anything else in days."""
    if days % DAYS_PER_YEAR == 0:
        n, unit = days // DAYS_PER_YEAR, "year"
    else:
        n, unit = days, "day"
    return units[unit if n == 1 else unit + "s"].format(n=n)


@lru_cache(maxsize=8)
def _notice(transcript_days: int, analytics_days: int) -> ConsentNotice:
    return ConsentNotice.load(transcript_days=transcript_days, analytics_days=analytics_days)


def current_notice(settings: Settings | None = None) -> ConsentNotice:
    """The notice for the configured retention periods (read once per configuration)."""
    settings = settings or get_settings()
    return _notice(settings.retention_transcript_days, settings.retention_analytics_days)


def consent_notice(language: str, settings: Settings | None = None) -> str:
    """The notice text to show a resident in ``language`` ("ja" or "en")."""
    return current_notice(settings).text(language)


def notice_version(settings: Settings | None = None) -> str:
    """The version residents consent to now; pass it to :func:`has_consent`."""
    return current_notice(settings).version


async def record_consent(
    session: AsyncSession,
    *,
    user_key: str,
    channel: str,
    conversation_id: str | None,
    method: str,
    version: str | None = None,
) -> ConsentRecord:
    """Records that the resident was shown the notice (current version unless given).

    ``user_key`` is the HMAC pseudonym, never a raw LINE user id. Runs in the caller's
    transaction, so the record commits together with the message that showed the notice.
    """
    if method not in CONSENT_METHODS:
        raise ValueError(f"unknown consent method {method!r}; one of {sorted(CONSENT_METHODS)}")
    if not user_key or len(user_key) > 64 or user_key.startswith("U"):
        raise ValueError("user_key must be the HMAC pseudonym (hex), not a raw channel user id")
    record = ConsentRecord(
        user_key=user_key,
        channel=channel,
        conversation_id=conversation_id,
        notice_version=version or notice_version(),
        method=method,
    )
    session.add(record)
    await session.flush()
    return record


async def has_consent(session: AsyncSession, user_key: str, channel: str, version: str) -> bool:
    """Whether this resident, on this channel, was already shown notice ``version``."""
    found = await session.scalar(
        select(ConsentRecord.id)
        .where(
            ConsentRecord.user_key == user_key,
            ConsentRecord.channel == channel,
            ConsentRecord.notice_version == version,
        )
        .limit(1)
    )
    return found is not None
