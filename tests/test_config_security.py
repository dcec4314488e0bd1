"""Secrets come only from the environment: no secret has a default, production refuses to start."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from core.config import Settings
from storage.crypto import generated_master_key_spec


def secret_fields() -> list[str]:
    return [
        name
        for name, field in Settings.model_fields.items()
        if SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
    ]


def test_no_secret_has_a_default() -> None:
    names = secret_fields()
    assert {"master_key", "user_key_pepper", "line_channel_secret", "redis_url"} <= set(names)
    for name in names:
        assert Settings.model_fields[name].default is None, name


def test_production_refuses_to_start_without_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TSUNAGU_MASTER_KEY", "TSUNAGU_USER_KEY_PEPPER", "TSUNAGU_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValidationError) as missing:
        Settings(_env_file=None, env="production")
    for var in ("TSUNAGU_MASTER_KEY", "TSUNAGU_USER_KEY_PEPPER", "TSUNAGU_DATABASE_URL"):
        assert var in str(missing.value)
    monkeypatch.setenv("TSUNAGU_MASTER_KEY", generated_master_key_spec())
    monkeypatch.setenv("TSUNAGU_USER_KEY_PEPPER", "from-the-environment")
    monkeypatch.setenv("TSUNAGU_DATABASE_URL", "postgresql://tsunagu@db/tsunagu")
    settings = Settings(_env_file=None, env="production")
    assert settings.user_key_pepper is not None
    assert "from-the-environment" not in repr(settings)  # secrets never print


def test_rate_limit_typos_fail_at_start() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, rate_limit_chat_ip="20 per minut")
