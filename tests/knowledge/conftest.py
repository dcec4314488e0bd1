"""Knowledge-base fixtures: the real distilled student (built once, cached) and fixture content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.base import KnowledgeBase
from knowledge.embedding.build import ensure_model, load_student
from knowledge.encoders import StudentEncoder
from knowledge.retriever import RetrievalConfig
from nlu.service import REPO_ROOT

FIXTURE_CONTENT = Path(__file__).resolve().parent / "fixtures" / "content"
# The same cache `make test` fills (var/kb/models): a current model is reused, not rebuilt.
MODEL_CACHE = REPO_ROOT / "var" / "kb" / "models"


@pytest.fixture(scope="session")
def student() -> StudentEncoder:
    """The model for the current content and code: reused from the cache, built if stale."""
    info = ensure_model(MODEL_CACHE)
    return StudentEncoder(load_student(info.path), name=info.key)


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """A writable copy of the fixture content."""
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


@pytest.fixture(scope="session")
def fixture_kb(student: StudentEncoder, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return KnowledgeBase(
        content_dir=FIXTURE_CONTENT,
        encoder=student,
        config=RetrievalConfig.load(),
        index_cache=tmp_path_factory.mktemp("kb-index"),
    )
