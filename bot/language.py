"""Choosing the reply language: English for messages with Latin letters and no Japanese."""

from __future__ import annotations

import re

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
_LATIN = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]")


def detect_language(text: str, hint: str | None = None) -> str:
    """Returns "en" or "ja"; a channel's explicit hint (the widget's language toggle) wins."""
    if hint in ("ja", "en"):
        return hint
    if _LATIN.search(text) and not _JAPANESE.search(text):
        return "en"
    return "ja"
