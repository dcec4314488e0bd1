"""The knowledge base the bot talks to: content + hybrid index, reloadable without a restart.

``KnowledgeBase`` implements :class:`knowledge.types.KnowledgeSource`. It holds one immutable
snapshot (content and index); :meth:`KnowledgeBase.reload` hashes the content files, and only
when the hash changed builds a new snapshot and swaps it in, so searches running meanwhile
finish on the old one. The encoder (the distilled student model) is loaded once per process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.logging import log_event
from knowledge.content_loader import CONTENT_DIR, Content, content_hash, load_content
from knowledge.embedding.build import Progress, current_model, ensure_model, load_student
from knowledge.encoders import StudentEncoder
from knowledge.retriever import Encoder, HybridIndex, RetrievalConfig
from knowledge.types import FaqEntry, Guide, SearchResult

if TYPE_CHECKING:
    from core.config import Settings

logger = logging.getLogger("tsunagu.knowledge")


@dataclass(frozen=True)
class KbPaths:
    """Where content is read from and where models and index vectors are cached."""

    content_dir: Path
    model_cache: Path
    index_cache: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> KbPaths:
        """Content from the package; caches under the data directory."""
        return cls.under(settings.resolved_data_dir, CONTENT_DIR)

    @classmethod
    def under(cls, data_dir: Path, content_dir: Path = CONTENT_DIR) -> KbPaths:
        """Caches in ``data_dir/kb``."""
        return cls(content_dir, data_dir / "kb" / "models", data_dir / "kb" / "index")


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did."""

    changed: bool
    content_hash: str
    faqs: int
    guides: int
    seconds: float


@dataclass(frozen=True)
class _Snapshot:
    content: Content
    index: HybridIndex
    faqs: dict[str, FaqEntry]
    guides: dict[str, Guide]


def load_encoder(model_cache: Path, *, progress: Progress | None = None) -> StudentEncoder:
    """The latest built student, building one first if the cache is empty.

    A reload never rebuilds the model: new content is embedded with the model already loaded
    (``tsunagu kb build-model`` or ``make run`` refresh the model itself).
    """
    path = current_model(model_cache)
    if path is None:
        path = ensure_model(model_cache, progress=progress).path
    return StudentEncoder(load_student(path), name=path.parent.name)


class KnowledgeBase:
    """FAQ entries and guides, searchable by the hybrid ranker (implements KnowledgeSource)."""

    def __init__(
        self,
        *,
        content_dir: Path,
        encoder: Encoder | None,
        config: RetrievalConfig | None = None,
        index_cache: Path | None = None,
    ) -> None:
        self.content_dir = content_dir
        self.encoder = encoder
        self.config = config or RetrievalConfig.load()
        self.index_cache = index_cache
        self._reload_lock = threading.Lock()
        self._snapshot = self._build(load_content(content_dir))

    @classmethod
    def load(
        cls,
        settings: Settings | None = None,
        *,
        paths: KbPaths | None = None,
        config: RetrievalConfig | None = None,
        progress: Progress | None = None,
    ) -> KnowledgeBase:
        """Loads content, the student model and the index (from caches when current)."""
        if paths is None:
            if settings is None:
                from core.config import get_settings

                settings = get_settings()
            paths = KbPaths.from_settings(settings)
        encoder = load_encoder(paths.model_cache, progress=progress)
        return cls(
            content_dir=paths.content_dir,
            encoder=encoder,
            config=config,
            index_cache=paths.index_cache,
        )

    def _build(self, content: Content) -> _Snapshot:
        index = HybridIndex(content, self.encoder, self.config, cache_dir=self.index_cache)
        return _Snapshot(
            content=content,
            index=index,
            faqs={f.entry_id: f for f in content.faqs},
            guides={g.guide_id: g for g in content.guides},
        )

    @property
    def content_hash(self) -> str:
        """The hash of the content set being served."""
        return self._snapshot.content.content_hash

    @property
    def index(self) -> HybridIndex:
        """The current index (read-only use: debugging and the bench)."""
        return self._snapshot.index

    def reload(self) -> ReloadResult:
        """Re-reads the content; rebuilds and swaps the index only if the files changed.

        Raises :class:`knowledge.content_loader.ContentError` on invalid content and keeps
        serving the previous snapshot in that case.
        """
        started = time.perf_counter()
        with self._reload_lock:
            current = self._snapshot
            changed = content_hash(self.content_dir) != current.content.content_hash
            if changed:
                current = self._build(load_content(self.content_dir))
                self._snapshot = current
        return ReloadResult(
            changed=changed,
            content_hash=current.content.content_hash,
            faqs=len(current.faqs),
            guides=len(current.guides),
            seconds=time.perf_counter() - started,
        )

    def search(
        self, query: str, *, intent: str | None = None, language: str = "ja", k: int = 5
    ) -> SearchResult:
        """Ranked FAQ entries and guides; ``confident`` False below the tuned threshold."""
        try:
            return self._snapshot.index.search(query, intent=intent, language=language, k=k)
        except Exception as exc:  # never let odd input break a conversation: say "not sure"
            log_event(
                logger, "kb_search_failed", level=logging.WARNING, error_type=type(exc).__name__
            )
            return SearchResult(hits=(), confident=False)

    def faq(self, entry_id: str) -> FaqEntry:
        """The FAQ entry with this id (KeyError if unknown)."""
        return self._snapshot.faqs[entry_id]

    def guide(self, guide_id: str) -> Guide:
        """The guide with this id (KeyError if unknown)."""
        return self._snapshot.guides[guide_id]


def build_knowledge_base(settings: Settings) -> KnowledgeBase:
    """What ``app/wiring.py`` calls: the knowledge base for this process's settings."""
    return KnowledgeBase.load(settings)
