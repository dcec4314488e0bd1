"""The console's composed texts (``handoff/content/console_texts.yml``), Japanese and English.

Texts live in the content file so that wording is reviewed there, never in code; the
console shows Japanese.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from handoff.config_files import read_yaml
from handoff.errors import HandoffConfigError

TEXTS_FILE = Path(__file__).resolve().parents[1] / "content" / "console_texts.yml"
LANGUAGES = ("ja", "en")


@cache
def _texts(path: Path = TEXTS_FILE) -> dict[str, dict[str, str]]:
    data = read_yaml(path)
    raw = data.get("texts") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        raise HandoffConfigError(f"{path}: 'texts' must be a mapping")
    texts: dict[str, dict[str, str]] = {}
    for key, labels in raw.items():
        if not isinstance(labels, dict) or not all(
            isinstance(labels.get(lang), str) for lang in LANGUAGES
        ):
            raise HandoffConfigError(f"{path}: text {key!r} needs 'ja' and 'en'")
        texts[str(key)] = {lang: str(labels[lang]) for lang in LANGUAGES}
    return texts


def text(key: str, language: str = "ja", **values: str) -> str:
    """The text ``key`` in ``language``, with ``{name}`` placeholders filled from ``values``."""
    try:
        template = _texts()[key][language]
    except KeyError:
        raise HandoffConfigError(f"{TEXTS_FILE}: no text {key!r} in {language!r}") from None
    return template.format(**values) if values else template
