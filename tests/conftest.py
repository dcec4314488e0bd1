"""Shared fixtures: settings in a temp dir, real SQLite/PostgreSQL, a real Rasa server, FakeNlu."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from bot.engine import Engine, EngineDeps
from bot.responses import Responses
from bot.safety.assessment import SafetyAssessor
from bot.safety.lexicon import CrisisLexicon
from core.config import Settings
from handoff.queue import PoolRouter
from nlu.errors import NluUnavailable
from nlu.service import NLU_DIR, RASA_VENV, REPO_ROOT, free_port, rasa_env, train
from nlu.types import IntentScore, NluResult
from storage.crypto import Keyring, generated_master_key_spec
from storage.db import Database
from storage.transcript import Transcript

TEST_CACHE = REPO_ROOT / "var" / "test-cache"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FIXTURE_EXAMPLES_PER_INTENT = 25


class FakeNlu:
    """An NLU stand-in for unit tests of bot/: fixed intent, optional delay or failure."""

    def __init__(
        self,
        intent: str = "out_of_scope",
        confidence: float = 0.9,
        ranking: tuple[IntentScore, ...] | None = None,
        fail: bool = False,
        delay: float = 0.0,
    ) -> None:
        self.intent, self.confidence, self.fail, self.delay = intent, confidence, fail, delay
        self.ranking = ranking if ranking is not None else (IntentScore(intent, confidence),)
        self.calls = 0

    async def parse(self, text: str) -> NluResult:
        import asyncio

        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise NluUnavailable("ConnectError")
        return NluResult(self.intent, self.confidence, self.ranking)


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def lexicon() -> CrisisLexicon:
    return CrisisLexicon.load()


@pytest.fixture(scope="session")
def responses() -> Responses:
    return Responses.load()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database per test, dropped afterwards."""
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"tsunagu_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test on SQLite and on real PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    db.migrate()
    yield db
    await db.dispose()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.parse(generated_master_key_spec())


def make_engine(
    database: Database,
    nlu: object,
    *,
    keyring: Keyring,
    lexicon: CrisisLexicon,
    responses: Responses,
    timeout: float = 2.0,
    knowledge: object | None = None,
) -> Engine:
    return Engine(
        EngineDeps(
            database=database,
            transcript=Transcript(keyring),
            nlu=nlu,  # type: ignore[arg-type]
            assessor=SafetyAssessor(lexicon),
            responses=responses,
            router=PoolRouter.load(),
            pepper=b"test-pepper",
            nlu_timeout_seconds=timeout,
            knowledge=knowledge,  # type: ignore[arg-type]
        )
    )


@pytest.fixture(scope="session")
def kb_model_dir() -> Path:
    """The knowledge base's embedding model, built once per machine in var/kb/models.

    Set ``TSUNAGU_KB_MODEL_DIR`` to this in processes that load the real knowledge base.
    """
    from knowledge.embedding.build import ensure_model

    cache = REPO_ROOT / "var" / "kb" / "models"
    ensure_model(cache)
    return cache


def fixture_training_data() -> Path:
    """A small, deterministic subset of the training data: fast to train, same intents."""
    out = TEST_CACHE / "fixture-data"
    out.mkdir(parents=True, exist_ok=True)
    for source in sorted((NLU_DIR / "data" / "intents").glob("*.yml")):
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        block = data["nlu"][0]
        examples = [line[2:] for line in block["examples"].splitlines() if line.startswith("- ")][
            :FIXTURE_EXAMPLES_PER_INTENT
        ]
        text = "".join(f"    - {e}\n" for e in examples)
        content = f'version: "3.1"\nnlu:\n- intent: {block["intent"]}\n  examples: |\n{text}'
        target = out / source.name
        if not target.exists() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def rasa_url() -> Iterator[str]:
    """A real Rasa server, trained once on the fixture set (cached across runs)."""
    if not (RASA_VENV / "bin" / "rasa").exists():
        pytest.fail("nlu/.venv is missing: run `make test`, which installs it")
    work = TEST_CACHE / "work"
    model = train(
        models_dir=TEST_CACHE / "models",
        work_dir=work,
        data=fixture_training_data(),
        name="fixture",
        quiet=True,
    )
    port = free_port()
    log = (TEST_CACHE / "rasa.log").open("ab")
    process = subprocess.Popen(
        [
            str(RASA_VENV / "bin" / "rasa"),
            "run",
            "--enable-api",
            "--model",
            str(model),
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=work,
        env=rasa_env(work),
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if process.poll() is not None:
                pytest.fail(f"Rasa exited with {process.returncode}; see {TEST_CACHE / 'rasa.log'}")
            try:
                if httpx.get(f"{url}/status", timeout=1).json().get("model_file"):
                    break
            except httpx.HTTPError:
                pass
            import time

            time.sleep(0.5)
        else:
            pytest.fail("Rasa did not become ready in 120 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
