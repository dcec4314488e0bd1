"""The knowledge base's public types: what the bot may ask and what it gets back.

The bot depends on these and on :class:`KnowledgeSource` only, so retrieval can change
(dense, lexical, hybrid) without the conversation engine noticing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

Language = Literal["ja", "en"]
Platform = Literal["any", "android", "iphone"]
DocKind = Literal["faq", "guide"]


@dataclass(frozen=True)
class FaqEntry:
    """One reviewed answer; ``en`` texts exist for the most common entries only."""

    entry_id: str
    intent: str
    title: dict[str, str]
    answer: dict[str, str]
    phrasings: dict[str, tuple[str, ...]]
    tags: tuple[str, ...]
    source: str
    last_reviewed: date


@dataclass(frozen=True)
class GuideStep:
    """One short step; ``simpler`` is said again, more slowly, after 「わからない」."""

    text: dict[str, str]
    simpler: dict[str, str]


@dataclass(frozen=True)
class Guide:
    """A step-by-step smartphone guide.

    ``steps`` is keyed by platform: ``{"any": ...}`` when iPhone and Android do the same,
    ``{"android": ..., "iphone": ...}`` when they differ (the flow asks which one first).
    """

    guide_id: str
    intent: str
    title: dict[str, str]
    phrasings: dict[str, tuple[str, ...]]
    steps: dict[Platform, tuple[GuideStep, ...]]
    tags: tuple[str, ...]
    source: str
    last_reviewed: date

    @property
    def asks_platform(self) -> bool:
        """True when the steps differ between iPhone and Android."""
        return "any" not in self.steps


@dataclass(frozen=True)
class Hit:
    """One retrieved document with its fused score (higher is better)."""

    kind: DocKind
    doc_id: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits; ``confident`` is False when the best hit is below the answer threshold."""

    hits: tuple[Hit, ...]
    confident: bool
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> Hit | None:
        """The top hit, if any."""
        return self.hits[0] if self.hits else None


class KnowledgeSource(Protocol):
    """What the conversation engine needs from the knowledge base."""

    def search(
        self, query: str, *, intent: str | None = None, language: str = "ja", k: int = 5
    ) -> SearchResult:
        """Ranks FAQ entries and guides for ``query``; never raises on odd input."""
        ...

    def faq(self, entry_id: str) -> FaqEntry:
        """The entry with this id (KeyError if unknown)."""
        ...

    def guide(self, guide_id: str) -> Guide:
        """The guide with this id (KeyError if unknown)."""
        ...
