"""The console's configuration, content and templates, loaded once per process."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from fastapi.templating import Jinja2Templates

from handoff.canned import CannedReplies
from handoff.outcomes import Outcomes
from handoff.pools import HandoffConfig, load_config
from handoff.read_reasons import ReadReasons
from storage.db import as_utc

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
STATIC_PATH = "/console/static"

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def local_time(value: datetime) -> str:
    """``HH:MM`` in the service's time zone (pools.yml), for message and note times."""
    return as_utc(value).astimezone(handoff_config().zone).strftime("%H:%M")


@cache
def handoff_config() -> HandoffConfig:
    """Pools, hours, roster and session limits (``handoff/config/pools.yml``)."""
    return load_config()


@cache
def canned_replies() -> CannedReplies:
    """Counselors' canned replies and Tsunagu's hand-over notices."""
    return CannedReplies.load()


@cache
def outcomes() -> Outcomes:
    """The outcome codes a close must choose from."""
    return Outcomes.load()


@cache
def read_reasons() -> ReadReasons:
    """The reasons a counselor may give for opening a case outside their pools."""
    return ReadReasons.load()


templates.env.globals["local_time"] = local_time
