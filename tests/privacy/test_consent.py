"""The consent notice (content in both languages, periods from configuration) and its records."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from core.config import Settings
from privacy.consent import (
    NOTICE_FILE,
    ConsentContentError,
    ConsentNotice,
    consent_notice,
    current_notice,
    has_consent,
    notice_version,
    record_consent,
)
from storage.db import Database


def settings_with(**retention: int) -> Settings:
    return Settings(_env_file=None, **retention)  # type: ignore[arg-type]


def test_japanese_notice_covers_every_required_point() -> None:
    text = consent_notice("ja", settings_with())
    assert "暗号化" in text and "相談員" in text  # what is stored, who can read it
    assert "1年" in text and "5年" in text  # how long (transcript, statistics)
    assert "警察" in text and "児童相談所" in text  # the life-threatening exception
    assert "AI" in text and "ありません" in text  # never used for commercial training
    assert "データを けして" in text  # how to ask for erasure


def test_english_notice_covers_every_required_point() -> None:
    text = consent_notice("en", settings_with())
    assert "encrypted" in text and "counselors" in text
    assert "kept for 1 year" in text and "kept for 5 years" in text
    assert "police" in text and "child guidance center" in text
    assert "never use your consultation to train commercial AI" in text
    assert "delete my data" in text


def test_periods_come_from_configuration() -> None:
    settings = settings_with(retention_transcript_days=90, retention_analytics_days=730)
    assert "90日" in consent_notice("ja", settings) and "2年" in consent_notice("ja", settings)
    en = current_notice(settings)
    assert "kept for 90 days" in en.body("en") and "kept for 2 years" in en.body("en")
    assert en.text("en").startswith(f"【{en.title('en')}】")
    assert consent_notice("pt", settings) == consent_notice("ja", settings)  # fallback


def test_notice_file_is_checked(tmp_path: Path) -> None:
    data = yaml.safe_load(NOTICE_FILE.read_text(encoding="utf-8"))
    data["notice"]["en"]["body"] = "Kept for {transcript_period}; {audit_period}."
    bad = tmp_path / "notice.yml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConsentContentError, match="audit_period"):
        ConsentNotice.load(transcript_days=365, analytics_days=1825, path=bad)
    del data["notice"]["en"]
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConsentContentError, match="'en'"):
        ConsentNotice.load(transcript_days=365, analytics_days=1825, path=bad)


async def test_record_and_check_consent(database: Database) -> None:
    key = uuid.uuid4().hex * 2
    version = notice_version(settings_with())
    async with database.session() as s:
        assert not await has_consent(s, key, "line", version)
        record = await record_consent(
            s, user_key=key, channel="line", conversation_id=None, method="line_follow"
        )
        assert record.id is not None and record.notice_version == version
    async with database.session() as s:
        assert await has_consent(s, key, "line", version)
        assert not await has_consent(s, key, "web", version)  # per channel
        assert not await has_consent(s, key, "line", "1999-01-01.1")  # a newer notice asks again
        assert not await has_consent(s, uuid.uuid4().hex, "line", version)


async def test_record_refuses_raw_ids_and_unknown_methods(database: Database) -> None:
    async with database.session() as s:
        with pytest.raises(ValueError, match="pseudonym"):
            await record_consent(
                s,
                user_key="U" + "0" * 32,
                channel="line",
                conversation_id=None,
                method="line_follow",
            )
        with pytest.raises(ValueError, match="method"):
            await record_consent(
                s, user_key="ab" * 32, channel="web", conversation_id=None, method="implied"
            )
