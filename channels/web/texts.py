"""The widget's interface texts (``static/i18n/<lang>.json``), shared by the server and the JS.

The server renders the first page in the chosen language from these files; the widget's
language toggle fetches the other file and swaps the texts without a reload.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
CONTENT_DIR = WEB_DIR / "content"
LANGUAGES = ("ja", "en")


@lru_cache(maxsize=len(LANGUAGES))
def ui_texts(language: str) -> dict[str, Any]:
    """The widget texts in ``language`` (unknown languages get Japanese)."""
    lang = language if language in LANGUAGES else "ja"
    data: dict[str, Any] = json.loads((STATIC_DIR / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


@lru_cache(maxsize=1)
def neutral_page() -> dict[str, Any]:
    """The harmless page that 「すぐに閉じる」 shows (``content/neutral.yml``)."""
    data: dict[str, Any] = yaml.safe_load((CONTENT_DIR / "neutral.yml").read_text("utf-8"))
    return data
