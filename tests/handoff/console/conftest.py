"""The real app on a loopback port for console tests, with the LINE stand-in as LINE's API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.wiring import Runtime
from channels.line.standin.runner import StandinClient, run_standin
from tests.channels.conftest import TOKEN, line_settings, serve
from tests.conftest import FakeNlu


@dataclass
class ConsoleApp:
    """The running app, its runtime, the LINE stand-in and a plain HTTP client."""

    url: str
    runtime: Runtime
    standin: StandinClient
    http: httpx.AsyncClient


@pytest.fixture
def standin() -> Iterator[str]:
    with run_standin(access_token=TOKEN) as url:
        yield url


@pytest.fixture
async def console_app(tmp_path: Path, standin: str, database_url: str) -> AsyncIterator[ConsoleApp]:
    """On SQLite and PostgreSQL; every resident message asks for a person."""
    settings = line_settings(tmp_path, standin, database_url)
    async for url, runtime in serve(settings, FakeNlu("human_request", 0.95)):
        async with httpx.AsyncClient(timeout=10) as http:
            with StandinClient(standin) as client:
                yield ConsoleApp(url, runtime, client, http)
