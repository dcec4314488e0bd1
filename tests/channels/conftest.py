"""A real app on a loopback port with the LINE stand-in as LINE's API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.wiring import Runtime
from channels.line.simulate import build_payload, sign
from channels.line.standin.runner import StandinClient, run_standin
from core.config import Settings
from tests.channels.web_support import serve_app
from tests.conftest import FakeNlu

SECRET = "test-channel-secret"
TOKEN = "test-access-token"


@dataclass
class LineHarness:
    """The running app, its runtime, the stand-in's control client and a webhook poster."""

    url: str
    runtime: Runtime
    standin: StandinClient
    http: httpx.AsyncClient

    async def post(self, events: list[dict[str, Any]], *, secret: str = SECRET) -> httpx.Response:
        return await post_events(self.http, self.url, self.standin, events, secret=secret)


async def post_events(
    http: httpx.AsyncClient,
    url: str,
    standin: StandinClient,
    events: list[dict[str, Any]],
    *,
    secret: str = SECRET,
) -> httpx.Response:
    """Signs and posts events as LINE would, telling the stand-in whose reply tokens they are."""
    for event in events:
        if "replyToken" in event:
            await asyncio.to_thread(
                standin.register_reply_token, event["replyToken"], event["source"]["userId"]
            )
    body = build_payload(events)
    return await http.post(
        f"{url}/webhooks/line",
        content=body,
        headers={"X-Line-Signature": sign(body, secret), "Content-Type": "application/json"},
    )


@pytest.fixture
def standin_url() -> Iterator[str]:
    with run_standin(access_token=TOKEN) as url:
        yield url


def line_settings(data_dir: Path, standin_url: str, database_url: str, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=database_url,
        LINE_CHANNEL_SECRET=SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
        line_api_base_url=standin_url,
        line_api_data_base_url=standin_url,
        **extra,
    )


async def serve(settings: Settings, nlu: Any) -> AsyncIterator[tuple[str, Runtime]]:
    """The real app on a loopback port (``async for url, runtime in serve(...)``)."""
    async with serve_app(settings, nlu) as (url, _app, runtime):
        yield url, runtime


@pytest.fixture
async def line_app(
    tmp_path: Path, standin_url: str, database_url: str
) -> AsyncIterator[LineHarness]:
    settings = line_settings(tmp_path, standin_url, database_url)
    async for url, runtime in serve(settings, FakeNlu("greeting", 0.95)):
        async with httpx.AsyncClient(timeout=10) as http:
            with StandinClient(standin_url) as standin:
                yield LineHarness(url, runtime, standin, http)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Polls ``check`` until it returns something truthy (the workers run in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Awaits ``check()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
