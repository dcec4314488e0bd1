"""Helpers for the web chat tests: a scripted NLU and the real app on a loopback port."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from app.main import create_app
from app.wiring import Runtime, build_runtime
from core.config import Settings
from nlu.service import free_port
from nlu.types import IntentScore, NluResult

# What the widget's buttons and the tests send, and the intent a trained model would give.
SCRIPT = {
    "こんにちは": "greeting",
    "hello": "greeting",
    "スマホの 使い方": "smartphone_help",
    "Smartphone help": "smartphone_help",
    "お金・契約の トラブル": "consumer_trouble",
    "Money or contract trouble": "consumer_trouble",
    "人と話す": "human_request",
    "Talk to a person": "human_request",
}


class ScriptedNlu:
    """Classifies known texts like the trained model would; anything else is out of scope."""

    def __init__(self, script: dict[str, str] | None = None) -> None:
        self.script = script if script is not None else SCRIPT
        self.calls = 0

    async def parse(self, text: str) -> NluResult:
        self.calls += 1
        intent = self.script.get(text.strip(), "out_of_scope")
        return NluResult(intent, 0.95, (IntentScore(intent, 0.95),))


def web_settings(data_dir: Path, database_url: str | None = None, **extra: Any) -> Settings:
    """Settings for a web-only app: no LINE workers, rate limits out of the tests' way."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "run_workers": False,
        "rate_limit_chat_ip": "10000/minute",
        "rate_limit_chat_user": "1000/minute",
        **extra,
    }
    if database_url:
        values["database_url"] = database_url
    return Settings(_env_file=None, **values)


@contextmanager
def serve_in_thread(settings: Settings, nlu: Any) -> Iterator[tuple[str, Runtime]]:
    """The real app under uvicorn in its own thread and event loop.

    The browser tests drive Playwright's synchronous API, which blocks the test's thread, so
    the server cannot share the test's event loop.
    """
    runtime = build_runtime(settings, nlu_url="http://127.0.0.1:9", nlu=nlu)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime), host="127.0.0.1", port=port, log_config=None, lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", runtime
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@asynccontextmanager
async def serve_app(settings: Settings, nlu: Any) -> AsyncIterator[tuple[str, FastAPI, Runtime]]:
    """The real app under uvicorn in the test's event loop (the test can reach its hub)."""
    runtime = build_runtime(settings, nlu_url="http://127.0.0.1:9", nlu=nlu)
    app = create_app(runtime)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app, runtime
    finally:
        server.should_exit = True
        await task
