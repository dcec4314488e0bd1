"""Loads and validates the knowledge content (``knowledge/content/``) into the public types.

Content is written by people, so every problem is reported with the file and the entry id
it concerns, and the loader refuses the whole set rather than serving a half-valid one.
The YAML layout is described in the module docstrings of the pydantic models below.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from knowledge.types import FaqEntry, Guide, GuideStep, Platform
from nlu.types import INTENTS

CONTENT_DIR = Path(__file__).resolve().parent / "content"
_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
MIN_JA_PHRASINGS = 3
MIN_EN_PHRASINGS = 2


class ContentError(ValueError):
    """The content set is invalid; the message names the file and the entry."""


Text = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _LocalText(_Strict):
    """A text in Japanese (required) and English (optional)."""

    ja: Text
    en: Text | None = None

    def as_dict(self) -> dict[str, str]:
        return {lang: value for lang, value in (("ja", self.ja), ("en", self.en)) if value}


class _Phrasings(_Strict):
    """How residents ask: at least three in Japanese, at least two in English if any."""

    ja: list[Text] = Field(min_length=MIN_JA_PHRASINGS)
    en: list[Text] | None = Field(default=None, min_length=MIN_EN_PHRASINGS)

    def as_dict(self) -> dict[str, tuple[str, ...]]:
        out = {"ja": tuple(self.ja)}
        if self.en:
            out["en"] = tuple(self.en)
        return out


class _Common(_Strict):
    """Fields shared by FAQ entries and guides."""

    id: str = Field(pattern=_ID.pattern)
    intent: str
    tags: list[Text] = Field(default_factory=list)
    title: _LocalText
    phrasings: _Phrasings
    source: Text
    last_reviewed: date

    @model_validator(mode="after")
    def _known_intent(self) -> _Common:
        if self.intent not in INTENTS:
            raise ValueError(f"unknown intent {self.intent!r} (known: {', '.join(INTENTS)})")
        return self


class _FaqModel(_Common):
    """One FAQ entry (``entries:`` item of knowledge/content/faq/<topic>.yml)."""

    answer: _LocalText

    @model_validator(mode="after")
    def _english_has_phrasings(self) -> _FaqModel:
        if self.answer.en and not self.phrasings.en:
            raise ValueError(
                f"answer.en is given, so phrasings.en needs at least {MIN_EN_PHRASINGS} entries"
            )
        return self

    def to_entry(self) -> FaqEntry:
        return FaqEntry(
            entry_id=self.id,
            intent=self.intent,
            title=self.title.as_dict(),
            answer=self.answer.as_dict(),
            phrasings=self.phrasings.as_dict(),
            tags=tuple(self.tags),
            source=self.source,
            last_reviewed=self.last_reviewed,
        )


class _FaqFile(_Strict):
    """A topic file: ``entries: [...]``."""

    entries: list[_FaqModel] = Field(min_length=1)


class _StepModel(_Strict):
    """One step and its slower re-explanation."""

    text: _LocalText
    simpler: _LocalText

    def to_step(self) -> GuideStep:
        return GuideStep(text=self.text.as_dict(), simpler=self.simpler.as_dict())


class _Steps(_Strict):
    """Either ``any`` alone, or both ``android`` and ``iphone``."""

    any: list[_StepModel] | None = Field(default=None, min_length=1)
    android: list[_StepModel] | None = Field(default=None, min_length=1)
    iphone: list[_StepModel] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _either_any_or_both(self) -> _Steps:
        if self.any is not None:
            if self.android is not None or self.iphone is not None:
                raise ValueError("steps: give either `any` or `android`+`iphone`, not both")
        elif self.android is None or self.iphone is None:
            raise ValueError("steps: without `any`, both `android` and `iphone` are required")
        return self

    def as_dict(self) -> dict[Platform, tuple[GuideStep, ...]]:
        out: dict[Platform, tuple[GuideStep, ...]] = {}
        for platform, steps in (
            ("any", self.any),
            ("android", self.android),
            ("iphone", self.iphone),
        ):
            if steps is not None:
                out[platform] = tuple(step.to_step() for step in steps)  # type: ignore[index]
        return out


class _GuideModel(_Common):
    """One guide file (knowledge/content/guides/<id>.yml)."""

    steps: _Steps

    def to_guide(self) -> Guide:
        return Guide(
            guide_id=self.id,
            intent=self.intent,
            title=self.title.as_dict(),
            phrasings=self.phrasings.as_dict(),
            steps=self.steps.as_dict(),
            tags=tuple(self.tags),
            source=self.source,
            last_reviewed=self.last_reviewed,
        )


@dataclass(frozen=True)
class Content:
    """A validated content set and the hash that keys every index built from it."""

    faqs: tuple[FaqEntry, ...]
    guides: tuple[Guide, ...]
    content_hash: str


def content_files(content_dir: Path) -> list[Path]:
    """The YAML files that make up a content set, in a stable order."""
    return sorted(
        [*(content_dir / "faq").glob("*.yml"), *(content_dir / "guides").glob("*.yml")],
        key=lambda p: p.relative_to(content_dir).as_posix(),
    )


def hash_files(files: Iterable[Path], root: Path) -> str:
    """A SHA-256 over relative names and bytes: any edit, rename or new file changes it."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def content_hash(content_dir: Path = CONTENT_DIR) -> str:
    """The hash of the content set without parsing it (cheap enough for every reload)."""
    return hash_files(content_files(content_dir), content_dir)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContentError(f"{path}: not valid YAML: {exc}") from exc


def _load_faq_file(path: Path) -> list[FaqEntry]:
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise ContentError(f"{path}: expected a mapping with an `entries:` list")
    entries = []
    for index, raw in enumerate(data["entries"]):
        name = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
        try:
            entries.append(_FaqModel.model_validate(raw).to_entry())
        except ValidationError as exc:
            raise ContentError(f"{path}: entry {name}: {_describe(exc)}") from exc
    if not entries:
        raise ContentError(f"{path}: `entries:` is empty")
    return entries


def _load_guide_file(path: Path) -> Guide:
    data = _read_yaml(path)
    name = data.get("id", path.stem) if isinstance(data, dict) else path.stem
    try:
        return _GuideModel.model_validate(data).to_guide()
    except ValidationError as exc:
        raise ContentError(f"{path}: guide {name}: {_describe(exc)}") from exc


def load_content(content_dir: Path = CONTENT_DIR) -> Content:
    """Loads every FAQ and guide file; raises :class:`ContentError` on the first problem.

    Ids must be unique across FAQ entries and guides (the bot addresses both by id).
    """
    files = content_files(content_dir)
    faqs: list[FaqEntry] = []
    guides: list[Guide] = []
    seen: dict[str, Path] = {}

    def claim(doc_id: str, path: Path) -> None:
        if doc_id in seen:
            raise ContentError(f"{path}: id {doc_id} is already used in {seen[doc_id]}")
        seen[doc_id] = path

    for path in files:
        if path.parent.name == "faq":
            for entry in _load_faq_file(path):
                claim(entry.entry_id, path)
                faqs.append(entry)
        else:
            guide = _load_guide_file(path)
            claim(guide.guide_id, path)
            guides.append(guide)
    if not faqs and not guides:
        raise ContentError(f"{content_dir}: no FAQ or guide files found")
    return Content(
        faqs=tuple(faqs), guides=tuple(guides), content_hash=hash_files(files, content_dir)
    )
