"""Hash-keyed caches: unchanged content is a cache hit, changed content a new index."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from app.cli import cli
from app.ops_routes import router
from knowledge.base import KnowledgeBase
from knowledge.content_loader import ContentError
from knowledge.embedding.build import BuildConfig, ensure_model, model_key
from knowledge.encoders import StudentEncoder
from knowledge.retriever import RetrievalConfig, Vectors
from tests.knowledge.conftest import MODEL_CACHE

NEW_ENTRY = """
  - id: city.library_hours
    intent: out_of_scope
    tags: [図書館]
    title: {ja: "図書館の 開館時間"}
    answer: {ja: "図書館は 9時から 19時まで あいています。"}
    phrasings: {ja: ["図書館は何時まで開いてる", "図書館の休みの日", "本を借りられる時間"]}
    source: "市立図書館"
    last_reviewed: 2026-11-21
"""


class CountingEncoder:
    """Wraps the student and counts how many texts it embedded."""

    def __init__(self, inner: StudentEncoder) -> None:
        self.inner, self.name, self.count = inner, inner.name, 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.count += len(texts)
        return self.inner.encode(texts)

    def similarity(self, query: Vectors, units: Vectors) -> Vectors:
        return self.inner.similarity(query, units)


def make_kb(content_dir: Path, encoder: object, index_cache: Path) -> KnowledgeBase:
    return KnowledgeBase(
        content_dir=content_dir,
        encoder=encoder,  # type: ignore[arg-type]
        config=RetrievalConfig.load(),
        index_cache=index_cache,
    )


def test_reload_is_a_no_op_when_content_is_unchanged(
    content_dir: Path, student: StudentEncoder, tmp_path: Path
) -> None:
    kb = make_kb(content_dir, student, tmp_path / "index")
    before = kb.index
    result = kb.reload()
    assert not result.changed
    assert kb.index is before


def test_reload_rebuilds_when_content_changes(
    content_dir: Path, student: StudentEncoder, tmp_path: Path
) -> None:
    kb = make_kb(content_dir, student, tmp_path / "index")
    old_hash = kb.content_hash
    assert kb.search("図書館は何時まで開いていますか").best.doc_id != "city.library_hours"  # type: ignore[union-attr]
    path = content_dir / "faq" / "support.yml"
    path.write_text(path.read_text(encoding="utf-8") + NEW_ENTRY, encoding="utf-8")
    result = kb.reload()
    assert result.changed and result.content_hash != old_hash
    assert result.faqs == 7
    best = kb.search("図書館は何時まで開いていますか").best
    assert best is not None and best.doc_id == "city.library_hours"


def test_invalid_content_keeps_serving_the_previous_index(
    content_dir: Path, student: StudentEncoder, tmp_path: Path
) -> None:
    kb = make_kb(content_dir, student, tmp_path / "index")
    before = kb.index
    (content_dir / "faq" / "broken.yml").write_text("entries: [{id: x}]\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"broken\.yml"):
        kb.reload()
    assert kb.index is before
    assert kb.search("クーリングオフしたい").best is not None


def test_unit_vectors_are_cached_by_content(
    content_dir: Path, student: StudentEncoder, tmp_path: Path
) -> None:
    first = CountingEncoder(student)
    make_kb(content_dir, first, tmp_path / "index")
    assert first.count > 0
    second = CountingEncoder(student)
    kb = make_kb(content_dir, second, tmp_path / "index")
    assert second.count == 0  # cache hit: no unit re-embedded
    assert kb.search("クーリングオフしたい").best is not None
    path = content_dir / "faq" / "support.yml"
    path.write_text(path.read_text(encoding="utf-8") + NEW_ENTRY, encoding="utf-8")
    third = CountingEncoder(student)
    make_kb(content_dir, third, tmp_path / "index")
    assert third.count > 0


def test_model_key_follows_its_inputs(content_dir: Path) -> None:
    key = model_key(BuildConfig(), content_dir)
    assert model_key(BuildConfig(), content_dir) == key
    assert model_key(BuildConfig(epochs=3), content_dir) != key
    path = content_dir / "faq" / "support.yml"
    path.write_text(path.read_text(encoding="utf-8") + NEW_ENTRY, encoding="utf-8")
    assert model_key(BuildConfig(), content_dir) != key


def test_built_model_is_a_cache_hit(student: StudentEncoder) -> None:
    # The session fixture built (or found) the model for the current inputs.
    info = ensure_model(MODEL_CACHE)
    assert not info.built
    assert (info.path / "modules.json").exists()
    assert info.path.parent.name in student.name


def _app(runtime: object) -> FastAPI:
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(router)
    return app


async def test_ops_reload_route(content_dir: Path, student: StudentEncoder, tmp_path: Path) -> None:
    kb = make_kb(content_dir, student, tmp_path / "index")
    app = _app(SimpleNamespace(knowledge=kb))
    local = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=local, base_url="http://t") as client:
        response = await client.post("/ops/kb/reload")
        assert response.status_code == 200
        assert response.json()["changed"] is False
        (content_dir / "faq" / "broken.yml").write_text("entries: [{}]\n", encoding="utf-8")
        response = await client.post("/ops/kb/reload")
        assert response.status_code == 422 and "broken.yml" in response.json()["detail"]
    remote = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
    async with httpx.AsyncClient(transport=remote, base_url="http://t") as client:
        assert (await client.post("/ops/kb/reload")).status_code == 403
    bare = httpx.ASGITransport(app=_app(SimpleNamespace()), client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=bare, base_url="http://t") as client:
        assert (await client.post("/ops/kb/reload")).status_code == 404


@pytest.fixture
def served_kb(
    content_dir: Path, student: StudentEncoder, tmp_path: Path
) -> Iterator[tuple[str, KnowledgeBase]]:
    kb = make_kb(content_dir, student, tmp_path / "index")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(_app(SimpleNamespace(knowledge=kb)), port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", kb
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_cli_reload_posts_to_the_running_app(
    served_kb: tuple[str, KnowledgeBase], content_dir: Path
) -> None:
    url, kb = served_kb
    path = content_dir / "faq" / "support.yml"
    path.write_text(path.read_text(encoding="utf-8") + NEW_ENTRY, encoding="utf-8")
    result = CliRunner().invoke(cli, ["kb", "reload", "--url", url])
    assert result.exit_code == 0, result.output
    assert "changed: True" in result.output
    assert kb.faq("city.library_hours").title["ja"] == "図書館の 開館時間"
    assert np.isfinite(kb.search("図書館の休み").hits[0].score)


def test_cli_reload_reports_an_unreachable_app() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = CliRunner().invoke(cli, ["kb", "reload", "--url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
