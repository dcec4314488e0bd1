"""Hybrid ranking: dense sentence vectors + BM25 + the NLU intent, fused into one score.

Every FAQ entry and guide is indexed as several short *units* (its title, each phrasing, its tags
and the sentences of its answer or steps). A document's dense and lexical scores are the best
over its units, weighted by field (a phrasing match says more than a match in the answer body).
The fused score is::

    dense_weight * dense + lexical_weight * bm25 + intent_boost * [entry intent == NLU intent]

and the result is ``confident`` only when the best fused score reaches ``threshold``. All
weights live in ``knowledge/retrieval.yml`` and were chosen on the dev set only.

A how-to question (「充電の やり方」, "how do I …", matched by ``howto_patterns``) asks for
steps: when a guide scores within ``howto_guide_margin`` of the best document, the guide is
ranked first (its own score still decides ``confident``). Without it a neighbouring FAQ that
shares the topic words (電池が すぐ なくなる for 充電) can outrank the guide by a hair.

A query written without kanji (「すまほの もじを おおきく したい」) is *ranked* with
``kana_dense_weight`` instead of ``dense_weight`` (the lexical weight takes the rest): the
student model learnt mostly from kanji text and places kana-only queries poorly, while the
BM25 terms over hiragana readings match them well (numbers in knowledge/README.md). The
chosen document's usual fused score still decides ``confident``: normalised BM25 runs lower
than cosine, so a lexical-heavy score would sink right answers under the threshold.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml
from numpy.typing import NDArray

from knowledge.content_loader import Content
from knowledge.lexical import Bm25Index, LexicalConfig
from knowledge.text import dictionary_form_text, has_japanese
from knowledge.types import DocKind, FaqEntry, Guide, Hit, SearchResult

CONFIG_FILE = Path(__file__).resolve().parent / "retrieval.yml"
FIELDS = ("title", "phrasing", "tag", "body")
MAX_QUERY_CHARS = 400
Vectors = NDArray[np.float32]


class Encoder(Protocol):
    """A sentence encoder returning L2-normalised rows (student or teacher)."""

    name: str

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embeds ``texts`` as normalised float32 rows."""
        ...

    def similarity(self, query: Vectors, units: Vectors) -> Vectors:
        """Cosine similarity of one query row against every unit row."""
        ...


@dataclass(frozen=True)
class RetrievalConfig:
    """Fusion weights and the confidence threshold (see ``retrieval.yml``)."""

    dense_weight: float = 0.6
    lexical_weight: float = 0.4
    intent_boost: float = 0.1
    threshold: float = 0.5
    # Multipliers per unit field; 0 leaves that field out of the index.
    field_weights: dict[str, float] = field(
        default_factory=lambda: {"title": 1.0, "phrasing": 1.0, "tag": 0.9, "body": 0.85}
    )
    # Added when an English query meets an entry without English text.
    missing_language_penalty: float = 0.05
    # Also embed the query with kana-only nouns written in kanji, and average both views.
    dictionary_view: bool = True
    # NLU intents for which the knowledge base never answers confidently (small talk).
    unanswerable_intents: tuple[str, ...] = ()
    lexical: LexicalConfig = field(default_factory=LexicalConfig)
    # How-to questions prefer a guide that scores within this margin of the best document.
    howto_guide_margin: float = 0.0
    # Regular expressions (on the NFKC, lower-cased query) that mark a how-to question.
    howto_patterns: tuple[str, ...] = ()
    # Dense weight for queries with kana but no kanji (None: the same as ``dense_weight``).
    kana_dense_weight: float | None = None

    @classmethod
    def load(cls, path: Path = CONFIG_FILE) -> RetrievalConfig:
        """Reads the shipped configuration (a missing file means the defaults)."""
        if not path.exists():
            return cls()
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        lexical = data.pop("lexical", {}) or {}
        if "char_sizes" in lexical:
            lexical["char_sizes"] = tuple(lexical["char_sizes"])
        if "unanswerable_intents" in data:
            data["unanswerable_intents"] = tuple(data["unanswerable_intents"])
        if "howto_patterns" in data:
            data["howto_patterns"] = tuple(data["howto_patterns"])
        return cls(**data, lexical=LexicalConfig(**lexical))

    def with_weights(self, **changes: Any) -> RetrievalConfig:
        """A copy with some values changed (used by the bench's single-signal variants)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Signals:
    """Per-unit scores of one query, kept apart so tuning can re-fuse them cheaply."""

    dense: Vectors | None
    lexical: Vectors | None
    english: bool
    # The query asks how to do something (see ``RetrievalConfig.howto_patterns``).
    howto: bool = False
    # The query is written in kana without kanji (see ``RetrievalConfig.kana_dense_weight``).
    kana_only: bool = False


@dataclass(frozen=True)
class Unit:
    """One indexed text of one document."""

    doc: int
    field: str
    language: str
    text: str


@dataclass(frozen=True)
class Document:
    """One FAQ entry or guide as the ranker sees it."""

    kind: DocKind
    doc_id: str
    intent: str
    languages: frozenset[str]


def _split_sentences(text: str) -> list[str]:
    parts = [p.strip() for p in text.replace("。", "。\n").splitlines()]
    return [p for p in parts if len(p) > 1]


def documents_and_units(
    faqs: Sequence[FaqEntry], guides: Sequence[Guide], fields: dict[str, float]
) -> tuple[list[Document], list[Unit]]:
    """Flattens content into documents and the units indexed for them."""
    docs: list[Document] = []
    units: list[Unit] = []

    def add(
        kind: DocKind,
        doc_id: str,
        intent: str,
        texts: dict[str, list[tuple[str, str]]],
    ) -> None:
        index = len(docs)
        languages = set()
        for field_name, items in texts.items():
            if fields.get(field_name, 0.0) <= 0:
                continue
            for language, text in items:
                if text.strip():
                    units.append(Unit(index, field_name, language, text))
                    languages.add(language)
        docs.append(Document(kind, doc_id, intent, frozenset(languages)))

    for faq in faqs:
        add(
            "faq",
            faq.entry_id,
            faq.intent,
            {
                "title": list(faq.title.items()),
                "phrasing": [(lang, p) for lang, ps in faq.phrasings.items() for p in ps],
                "tag": [("ja", "、".join(faq.tags))] if faq.tags else [],
                "body": [
                    (lang, s) for lang, text in faq.answer.items() for s in _split_sentences(text)
                ],
            },
        )
    for guide in guides:
        steps = [
            (lang, text)
            for platform_steps in guide.steps.values()
            for step in platform_steps
            for lang, text in step.text.items()
        ]
        add(
            "guide",
            guide.guide_id,
            guide.intent,
            {
                "title": list(guide.title.items()),
                "phrasing": [(lang, p) for lang, ps in guide.phrasings.items() for p in ps],
                "tag": [("ja", "、".join(guide.tags))] if guide.tags else [],
                "body": list(dict.fromkeys(steps)),
            },
        )
    return docs, units


class HybridIndex:
    """The searchable form of one content set for one encoder and configuration."""

    def __init__(
        self,
        content: Content,
        encoder: Encoder | None,
        config: RetrievalConfig,
        *,
        cache_dir: Path | None = None,
        extra_faqs: Sequence[FaqEntry] = (),
    ) -> None:
        self.config = config
        self.encoder = encoder
        self.content_hash = content.content_hash
        self.documents, self.units = documents_and_units(
            [*content.faqs, *extra_faqs], content.guides, config.field_weights
        )
        self._unit_doc = np.array([u.doc for u in self.units], dtype=np.int64)
        self._unit_weight = self.unit_weights(config)
        # Segment starts for np.maximum.reduceat; valid when every document has a unit.
        self._starts = np.searchsorted(self._unit_doc, np.arange(len(self.documents)))
        self._contiguous = bool(
            len(self.units) and len(np.unique(self._unit_doc)) == len(self.documents)
        )
        self._intents = np.array([d.intent for d in self.documents])
        self._is_guide = np.array([d.kind == "guide" for d in self.documents], dtype=bool)
        self._howto = [re.compile(p) for p in config.howto_patterns]
        self._has_en = np.array(["en" in d.languages for d in self.documents])
        texts = [u.text for u in self.units]
        self.lexical = Bm25Index(texts, config.lexical) if config.lexical_weight > 0 else None
        self.vectors: Vectors | None = None
        if encoder is not None and config.dense_weight > 0:
            self.vectors = _cached_vectors(encoder, texts, cache_dir)

    @property
    def size(self) -> int:
        """Number of documents."""
        return len(self.documents)

    def _doc_max(self, unit_scores: Vectors, unit_weight: Vectors) -> Vectors:
        weighted = unit_scores * unit_weight
        if self._contiguous:  # units are stored doc by doc: one vectorised segment max
            result: Vectors = np.maximum.reduceat(weighted, self._starts)
            return result
        out = np.zeros(len(self.documents), dtype=np.float32)
        np.maximum.at(out, self._unit_doc, weighted)
        return out

    def unit_weights(self, config: RetrievalConfig) -> Vectors:
        """Per-unit field multipliers for ``config``."""
        return np.array(
            [config.field_weights.get(u.field, 0.0) for u in self.units], dtype=np.float32
        )

    def query_vector(self, query: str) -> Vectors:
        """The query's dense vector (with the dictionary-form view averaged in if enabled)."""
        assert self.encoder is not None
        views = [query]
        if self.config.dictionary_view and has_japanese(query):
            rewritten = dictionary_form_text(query)
            if rewritten != query:
                views.append(rewritten)
        vectors = self.encoder.encode(views)
        merged = vectors.mean(axis=0, keepdims=True)
        norm = float(np.linalg.norm(merged)) or 1.0
        result: Vectors = (merged / norm).astype(np.float32)
        return result

    def signals(self, query: str, timings: dict[str, float] | None = None) -> Signals:
        """Unit-level dense similarities and BM25 scores (None for a disabled signal)."""
        dense = lexical = None
        if self.vectors is not None and self.encoder is not None:
            mark = time.perf_counter()
            sims = self.encoder.similarity(self.query_vector(query), self.vectors)
            dense = np.clip(sims, 0.0, 1.0)
            if timings is not None:
                timings["dense"] = (time.perf_counter() - mark) * 1000
        if self.lexical is not None:
            mark = time.perf_counter()
            lexical = self.lexical.scores(query)
            if timings is not None:
                timings["lexical"] = (time.perf_counter() - mark) * 1000
        return Signals(
            dense,
            lexical,
            english=not has_japanese(query),
            howto=self.is_howto(query),
            kana_only=is_kana_only(query),
        )

    def is_howto(self, query: str) -> bool:
        """True when the query asks how to do something (「〜の やり方」, "how do I …")."""
        folded = unicodedata.normalize("NFKC", query).lower()
        return any(pattern.search(folded) for pattern in self._howto)

    def fuse(
        self,
        signals: Signals,
        config: RetrievalConfig,
        *,
        intent: str | None,
        language: str,
        unit_weight: Vectors | None = None,
    ) -> Vectors:
        """Document scores for one query under ``config`` (see the module docstring)."""
        weight = self.unit_weights(config) if unit_weight is None else unit_weight
        fused = np.zeros(len(self.documents), dtype=np.float32)
        if signals.dense is not None and config.dense_weight:
            fused += config.dense_weight * self._doc_max(signals.dense, weight)
        if signals.lexical is not None and config.lexical_weight:
            fused += config.lexical_weight * self._doc_max(signals.lexical, weight)
        if intent and config.intent_boost:
            fused += config.intent_boost * (self._intents == intent)
        if language == "en" or signals.english:
            fused -= config.missing_language_penalty * (~self._has_en)
        return fused

    def rank(self, fused: Vectors, k: int) -> list[int]:
        """Indices of the ``k`` best documents, best first."""
        k = max(1, min(k, len(self.documents)))
        top = np.argpartition(-fused, k - 1)[:k]
        return [int(i) for i in top[np.argsort(-fused[top], kind="stable")]]

    def ranked(
        self,
        signals: Signals,
        config: RetrievalConfig,
        *,
        intent: str | None,
        language: str,
        k: int,
        unit_weight: Vectors | None = None,
    ) -> tuple[list[int], Vectors]:
        """The ``k`` best documents (kana and how-to rules applied) and the fused scores."""
        fused = self.fuse(
            signals, config, intent=intent, language=language, unit_weight=unit_weight
        )
        ranking = fused
        if signals.kana_only and config.kana_dense_weight is not None and config.dense_weight:
            total = config.dense_weight + config.lexical_weight
            kana = replace(
                config,
                dense_weight=config.kana_dense_weight,
                lexical_weight=total - config.kana_dense_weight,
            )
            ranking = self.fuse(
                signals, kana, intent=intent, language=language, unit_weight=unit_weight
            )
        return self.order(ranking, signals, config, k), fused

    def order(self, fused: Vectors, signals: Signals, config: RetrievalConfig, k: int) -> list[int]:
        """``rank``, with a close guide moved first for a how-to question (module docstring)."""
        ranked = self.rank(fused, k)
        if not (signals.howto and config.howto_guide_margin > 0) or self._is_guide[ranked[0]]:
            return ranked
        guides = np.where(self._is_guide, fused, -np.inf)
        best_guide = int(np.argmax(guides))
        if not self._is_guide[best_guide]:
            return ranked
        if fused[ranked[0]] - fused[best_guide] > config.howto_guide_margin:
            return ranked
        rest = [i for i in ranked if i != best_guide]
        return [best_guide, *rest][: len(ranked)]

    def search(
        self, query: str, *, intent: str | None = None, language: str = "ja", k: int = 5
    ) -> SearchResult:
        """Ranks documents for ``query``; see the module docstring for the score."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        query = query.strip()[:MAX_QUERY_CHARS]
        if not query or not self.documents:
            return SearchResult(hits=(), confident=False, timings_ms={"total": 0.0})
        signals = self.signals(query, timings)
        order, fused = self.ranked(
            signals,
            self.config,
            intent=intent,
            language=language,
            k=k,
            unit_weight=self._unit_weight,
        )
        hits = tuple(
            Hit(self.documents[i].kind, self.documents[i].doc_id, float(fused[i])) for i in order
        )
        timings["total"] = (time.perf_counter() - started) * 1000
        return SearchResult(
            hits=hits,
            confident=self.is_confident(hits[0].score, intent),
            timings_ms=timings,
        )

    def is_confident(self, best_score: float, intent: str | None) -> bool:
        """The answer rule: above the threshold and not an intent the KB never answers."""
        if intent is not None and intent in self.config.unanswerable_intents:
            return False
        return best_score >= self.config.threshold


_KANA = re.compile(r"[\u3041-\u30ff\uff66-\uff9f]")
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_kana_only(query: str) -> bool:
    """True for a query with kana and no kanji (「らいんの ともだち ついか」)."""
    return bool(_KANA.search(query)) and not _KANJI.search(query)


def _cached_vectors(encoder: Encoder, texts: list[str], cache_dir: Path | None) -> Vectors:
    """Unit vectors, read from ``cache_dir`` when the same texts were embedded before."""
    if cache_dir is None:
        return encoder.encode(texts)
    digest = hashlib.sha256(encoder.name.encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    path = cache_dir / f"{digest.hexdigest()[:24]}.npy"
    if path.exists():
        vectors: Vectors = np.load(path)
        if vectors.shape[0] == len(texts):
            return vectors
    vectors = encoder.encode(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{time.monotonic_ns()}.tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors
