"""Recognising a resident's request to delete their data, and its explicit confirmation.

Stateless on purpose: the request is answered with a question and a confirmation button,
and only the button's exact text deletes. A typo cannot erase a DV victim's record, and no
half-finished state has to survive a restart.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path

from bot.content_files import CONTENT_DIR, load_yaml
from bot.errors import ContentError
from nlu.normalize import matching_form

_NOISE = re.compile(r"[\s、。,.!！?？「」『』\"']+")


class DataRequest(enum.Enum):
    """What the message asks for."""

    ASK = "ask"  # "please delete my data": answer with the question
    CONFIRM = "confirm"  # the confirmation button: delete now
    CANCEL = "cancel"  # the other button: keep everything


def _key(text: str) -> str:
    return _NOISE.sub("", matching_form(text).lower())


@dataclass(frozen=True)
class DataRequests:
    """Phrase lists from ``bot/content/data_requests.yml``."""

    requests: frozenset[str]
    confirms: frozenset[str]
    cancels: frozenset[str]
    max_length: int
    # Freely worded requests (a record of theirs + delete), anchored at the start.
    request_patterns: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def load(cls, path: Path = CONTENT_DIR / "data_requests.yml") -> DataRequests:
        """Reads the phrases; an empty list is a content error."""
        raw = load_yaml(path)
        requests = [str(p) for p in raw.get("request") or []]
        confirms = [str(p) for p in raw.get("confirm") or []]
        cancels = [str(p) for p in raw.get("cancel") or []]
        if not requests or not confirms or not cancels:
            raise ContentError(f"{path}: needs non-empty 'request', 'confirm' and 'cancel' lists")
        try:
            patterns = tuple(re.compile(str(p)) for p in raw.get("request_patterns") or [])
        except re.error as exc:
            raise ContentError(f"{path}: bad request pattern: {exc}") from exc
        return cls(
            frozenset(_key(p) for p in requests),
            frozenset(_key(p) for p in confirms),
            frozenset(_key(p) for p in cancels),
            int(raw.get("max_length", 24)),
            patterns,
        )

    def match(self, text: str) -> DataRequest | None:
        """Whether ``text`` is, as a whole, a deletion request or its confirmation."""
        if len(text.strip()) > self.max_length * 2:
            return None
        key = _key(text)
        if key in self.confirms:
            return DataRequest.CONFIRM
        if key in self.requests or any(p.match(key) for p in self.request_patterns):
            return DataRequest.ASK
        if key in self.cancels:
            return DataRequest.CANCEL
        return None
