"""Typed configuration read from the environment (``TSUNAGU_*`` plus LINE's own names)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All settings; every file the app writes goes under ``data_dir``."""

    model_config = SettingsConfigDict(
        env_prefix="TSUNAGU_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    # --- deployment -------------------------------------------------------------------------
    env: Literal["local", "production"] = "local"
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    # --- storage ------------------------------------------------------------------------------
    # Default: SQLite file in data_dir. PostgreSQL: postgresql://user@127.0.0.1:5432/db
    database_url: str | None = None
    # Master keys for transcript encryption, "version:base64key" entries separated by commas;
    # the highest version encrypts new data keys, older ones still decrypt. Local runs
    # generate one under data_dir/keys when unset.
    master_key: SecretStr | None = None
    # Secret pepper for HMAC user keys (raw LINE user IDs never reach analytics or logs).
    user_key_pepper: SecretStr | None = None

    # --- NLU service --------------------------------------------------------------------------
    # Set to use a running Rasa (e.g. http://nlu:5005); unset, `tsunagu serve` starts one.
    nlu_url: str | None = None
    nlu_port: int = 5005
    nlu_timeout_seconds: float = 2.0

    # --- LINE (issue: channels) ---------------------------------------------------------------
    line_channel_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LINE_CHANNEL_SECRET")
    )
    line_channel_access_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LINE_CHANNEL_ACCESS_TOKEN")
    )

    @field_validator("nlu_timeout_seconds")
    @classmethod
    def _positive_timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("TSUNAGU_NLU_TIMEOUT_SECONDS must be > 0")
        return value

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        if self.env == "production":
            missing = [
                name
                for name, value in (
                    ("TSUNAGU_MASTER_KEY", self.master_key),
                    ("TSUNAGU_USER_KEY_PEPPER", self.user_key_pepper),
                    ("TSUNAGU_DATABASE_URL", self.database_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(
                    "TSUNAGU_ENV=production needs " + ", ".join(missing) + " to be set"
                )
        return self

    @property
    def resolved_data_dir(self) -> Path:
        """The data directory as an absolute path."""
        return self.data_dir.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'tsunagu.db'}"

    @property
    def nlu_model_dir(self) -> Path:
        """Where trained Rasa models are cached."""
        return self.resolved_data_dir / "nlu" / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
