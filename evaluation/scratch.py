"""A throw-away runtime for evaluations: real NLU and knowledge base, temporary database."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from app.wiring import Runtime, build_runtime, load_knowledge
from core.config import Settings
from evaluation.messages import scratch_settings
from knowledge.types import KnowledgeSource


@asynccontextmanager
async def scratch_runtime(
    settings: Settings, nlu_url: str, knowledge: KnowledgeSource | None = None
) -> AsyncIterator[Runtime]:
    """The full runtime on a temporary SQLite file and keys, removed afterwards.

    The knowledge base is loaded with the real ``settings`` (not the scratch ones), so its
    model and index caches in the data directory are reused across runs.
    """
    if knowledge is None:
        knowledge = await asyncio.to_thread(load_knowledge, settings)
    with tempfile.TemporaryDirectory(dir=settings.resolved_data_dir, prefix="eval-") as tmp:
        runtime = build_runtime(
            scratch_settings(settings, Path(tmp)), nlu_url=nlu_url, knowledge=knowledge
        )
        try:
            yield runtime
        finally:
            await runtime.aclose()
