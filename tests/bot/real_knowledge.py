"""The real knowledge base (knowledge/content with the distilled student), built once per run.

For bot tests that must hold against the shipped content, e.g. that every menu button leads
to an answer the retriever also finds.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from knowledge.base import KnowledgeBase
from knowledge.content_loader import CONTENT_DIR
from knowledge.embedding.build import ensure_model, load_student
from knowledge.encoders import StudentEncoder
from knowledge.retriever import RetrievalConfig


@lru_cache(maxsize=1)
def real_knowledge(model_cache: Path) -> KnowledgeBase:
    """The shipped content and model (``model_cache`` is the ``kb_model_dir`` fixture)."""
    info = ensure_model(model_cache)
    return KnowledgeBase(
        content_dir=CONTENT_DIR,
        encoder=StudentEncoder(load_student(info.path), name=info.key),
        config=RetrievalConfig.load(),
    )
