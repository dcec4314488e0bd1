"""FAQ content and retrieval (built by the knowledge-base issue).

``knowledge.types`` is what the bot imports; the retrieval stack (numpy, scikit-learn,
sentence-transformers) is only imported when a knowledge base is actually built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import Settings
    from knowledge.base import KnowledgeBase


def build_knowledge_base(settings: Settings) -> KnowledgeBase:
    """The knowledge base for these settings (see :func:`knowledge.base.build_knowledge_base`)."""
    from knowledge.base import build_knowledge_base as build

    return build(settings)
