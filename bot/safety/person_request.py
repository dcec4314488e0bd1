"""Explicit requests for a person inside a longer message (``person_requests.yml``).

The 「人と話す」 button and the classifier's ``human_request`` cover most residents; a resident
who writes the request into a sentence the classifier files elsewhere ("Is there an actual
human I can chat with about it?") must still reach a counselor. Like the crisis lexicon this
can only add an escalation, never remove one.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.content_files import CONTENT_DIR, load_yaml
from bot.errors import ContentError
from nlu.normalize import matching_form

DEFAULT_PATTERNS = CONTENT_DIR / "safety" / "person_requests.yml"


class PersonRequests:
    """One compiled alternation of the reviewed patterns."""

    def __init__(self, pattern: re.Pattern[str] | None) -> None:
        """Keeps the compiled patterns (None: never matches); use :meth:`load`."""
        self._pattern = pattern

    @classmethod
    def load(cls, path: Path = DEFAULT_PATTERNS) -> PersonRequests:
        """Reads and compiles the file; a bad regex fails start-up with its position."""
        raw = load_yaml(path)
        patterns = raw.get("patterns")
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ContentError(f"{path}: 'patterns' must be a list of regexes")
        for number, pattern in enumerate(patterns, start=1):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ContentError(f"{path}: pattern {number} is not a regex: {exc}") from exc
        return cls(re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None)

    def asks_for_person(self, text: str) -> bool:
        """True when the message asks, in so many words, for a person."""
        return self._pattern is not None and self._pattern.search(matching_form(text)) is not None
