"""Privacy-preserving structured logs: JSON lines with allow-listed fields only.

Logs leave the encrypted transcript tier, so they must never carry message text or raw
LINE user ids. Events are logged with :func:`log_event`; any field not in
``ALLOWED_FIELDS`` raises, so a careless ``text=...`` fails in tests instead of leaking.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ALLOWED_FIELDS = frozenset(
    {
        "event",
        "conversation_id",
        "case_id",
        "channel",
        "user_key",
        "intent",
        "confidence",
        "urgency",
        "escalate",
        "reasons",
        "action",
        "pool",
        "language",
        "nlu_available",
        "duration_ms",
        "status",
        "count",
        "error_type",
        "port",
        "host",
        "model",
        "attempt",
        "kind",
        "reason",
        "http_status",
    }
)


class DisallowedLogField(ValueError):
    """A log call tried to record a field outside the privacy allow-list."""


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Logs one structured event; refuses any field not on the allow-list."""
    bad = set(fields) - ALLOWED_FIELDS
    if bad:
        raise DisallowedLogField(f"log fields not allowed: {sorted(bad)}")
    logger.log(level, event, extra={"tsunagu_fields": {"event": event, **fields}})


class JsonFormatter(logging.Formatter):
    """One JSON object per line; only allow-listed structured fields are written."""

    def format(self, record: logging.LogRecord) -> str:
        """Formats the record without its args (which could hold text) for non-event logs."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "tsunagu_fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        else:
            payload["message"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: exception messages can quote user input.
            payload["error_type"] = record.exc_info[0].__name__
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(data_dir: Path, level: str = "INFO") -> None:
    """JSON logs to stderr and to ``data_dir/logs/tsunagu.log`` (rotated)."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    formatter = JsonFormatter()
    file_handler = logging.handlers.RotatingFileHandler(
        log_dir / "tsunagu.log", maxBytes=10_000_000, backupCount=5, encoding="utf-8"
    )
    stream_handler = logging.StreamHandler()
    for handler in (file_handler, stream_handler):
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [file_handler, stream_handler]
    root.setLevel(level.upper())
    # httpx logs full URLs at INFO; keep third-party chatter at WARNING.
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
