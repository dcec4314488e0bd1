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
    # Connections each process keeps open, and how many more it may open at a peak. Above
    # the kept number every checkin closes a connection (and PostgreSQL forks a backend
    # for the next): a worker serving 100 residents kept only 5 and churned the rest.
    database_pool_size: int = Field(default=20, ge=1, le=200)
    database_max_overflow: int = Field(default=10, ge=0, le=200)
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

    # --- step-by-step guides (bot/flows) ------------------------------------------------------
    # A resident back in a guide after this many minutes is asked whether to continue.
    flow_resume_after_minutes: float = Field(default=10.0, gt=0)
    # A guide untouched for this many hours is dropped (with a kind note on a control word).
    flow_expire_after_hours: float = Field(default=24.0, gt=0)
    # Where the knowledge base's embedding model is cached (default: data_dir/kb/models);
    # lets several data directories (evals, tests, replicas) share one built model.
    kb_model_dir: Path | None = None

    # --- LINE (issue: channels) ---------------------------------------------------------------
    line_channel_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LINE_CHANNEL_SECRET")
    )
    line_channel_access_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LINE_CHANNEL_ACCESS_TOKEN")
    )
    # LINE's API hosts; point them at `tsunagu line standin` for development and tests.
    line_api_base_url: str = "https://api.line.me"
    line_api_data_base_url: str = "https://api-data.line.me"
    # Reply tokens are guaranteed for about a minute; after this many seconds we push instead.
    line_reply_token_seconds: float = 50.0
    # How long a worker may hold an inbox event or outbox message before another takes it over.
    worker_lease_seconds: float = 15.0
    # Run the inbox/outbox workers inside `tsunagu serve` (set false for API-only processes).
    run_workers: bool = True

    # --- web chat widget (issue: channels) ----------------------------------------------------
    # A reload within this many minutes of the last message shows the conversation again
    # (0 = never). The widget keeps its session in sessionStorage: closing the tab ends it.
    web_session_resume_minutes: int = Field(default=30, ge=0, le=24 * 60)
    # Where 「すぐに閉じる」 sends the resident, replacing the page (no history entry): our own
    # neutral page, or an https:// URL of the prefecture's choice.
    web_quick_exit_url: str = Field(default="/chat/neutral", pattern=r"^(/[^/\\]|https://)")
    # Origins allowed to show the widget in an iframe (embed.js), separated by spaces/commas.
    web_embed_origins: str = Field(
        default="", pattern=r"^([\s,]*https?://[A-Za-z0-9.:\[\]-]+)*[\s,]*$"
    )

    # --- privacy: retention in days, applied daily by `tsunagu retention run` ---------------
    # Transcripts are crypto-shredded this long after a conversation's last message.
    retention_transcript_days: int = Field(default=365, ge=1)
    # Text-free metadata (conversation and message rows, cases) is deleted after this.
    retention_analytics_days: int = Field(default=5 * 365, ge=1)
    # Processed inbox events; at least a day, LINE redeliveries are deduplicated on their ids.
    retention_inbox_days: int = Field(default=30, ge=1)
    # Sent or dropped outbox rows.
    retention_outbox_days: int = Field(default=30, ge=1)
    # The audit log (transcript reads, shreds, erasures) and consent records.
    retention_audit_days: int = Field(default=5 * 365, ge=1)

    # --- web security (app/security) ----------------------------------------------------------
    # Largest request body accepted (webhooks, chat); larger ones get 413.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Rate limits in `limits` notation, e.g. "20/minute;200/hour". LINE's webhook comes
    # from LINE's own servers, so its per-IP limit is generous; per-user limits apply
    # after the signature is verified.
    rate_limit_chat_ip: str = "60/minute;600/hour"
    rate_limit_chat_user: str = "20/minute;200/hour"
    rate_limit_webhook_ip: str = "3000/minute"
    rate_limit_line_user: str = "30/minute;300/hour"
    # Console sign-in attempts per client IP (on top of the per-account lockout), so one
    # address cannot try passwords across many logins.
    rate_limit_console_login_ip: str = "20/minute;200/hour"
    # Shared rate-limit counters for several workers (redis://127.0.0.1:6379/0); unset, each
    # process counts in memory.
    redis_url: SecretStr | None = None
    # Cross-worker notices for the console and widgets (core/event_buses.py): "auto" = Redis
    # if redis_url is set, else PostgreSQL LISTEN/NOTIFY on a PostgreSQL database, else local.
    event_bus: Literal["auto", "local", "redis", "postgres"] = "auto"

    @field_validator(
        "rate_limit_chat_ip",
        "rate_limit_chat_user",
        "rate_limit_webhook_ip",
        "rate_limit_line_user",
        "rate_limit_console_login_ip",
    )
    @classmethod
    def _rate_limit_syntax(cls, value: str) -> str:
        from limits import parse_many

        parse_many(value)  # raises ValueError on a typo, so start-up fails loudly
        return value

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
