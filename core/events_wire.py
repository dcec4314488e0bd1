"""What the cross-worker buses put on the wire: a topic and a small JSON notice.

Shared by :mod:`core.events_redis` and :mod:`core.events_pg`, so both transports accept and
reject the same notices. The size cap keeps notices what they are meant to be (ids and
codes, never message text) and stays under PostgreSQL's 8000-byte NOTIFY payload limit.
"""

from __future__ import annotations

import json
from typing import Any

from core.events import Notice

MAX_NOTICE_BYTES = 4000
"""Largest encoded envelope; a notice of ids and codes is a few hundred bytes at most."""

RECONNECTED: Notice = {"kind": "reconnected"}
"""Sent to every local subscriber after the transport reconnects: notices may have been
missed while it was down, so subscribers should look again (as after any notice)."""


class NoticeTooLarge(ValueError):
    """A notice exceeded :data:`MAX_NOTICE_BYTES` (it probably carries more than ids)."""


def encode(topic: str, notice: Notice) -> str:
    """The JSON envelope ``{"topic": ..., "notice": ...}``; raises :class:`NoticeTooLarge`."""
    text = json.dumps({"topic": topic, "notice": notice}, separators=(",", ":"))
    if len(text.encode()) > MAX_NOTICE_BYTES:
        raise NoticeTooLarge(f"notice on {topic!r} is over {MAX_NOTICE_BYTES} bytes")
    return text


def decode(text: str | bytes) -> tuple[str, Notice] | None:
    """The topic and notice of an envelope, or None if it is not one of ours."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    topic, notice = data.get("topic"), data.get("notice")
    if not isinstance(topic, str) or not isinstance(notice, dict):
        return None
    return topic, notice
