"""The FastAPI application."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app import ops_routes
from app.deps import RuntimeDep
from app.security import install_security
from app.wiring import Runtime
from bot.errors import BotError
from channels import web
from channels.line import webhook as line_webhook
from channels.runner import start_workers
from handoff import console
from handoff.console.alerts import run_alerts
from nlu.service import RasaProcess
from storage.errors import StorageError


def freeze_startup_heap() -> None:
    """Moves everything loaded so far out of the garbage collector's sight.

    Content, models, the KB index and the mappers live as long as the process. A full
    collection walking them took 250-450 ms and stalled every request meanwhile: the
    webhook's p99 outliers (issue 4), and 190-290 ms stalls of a bench handoff worker that
    skipped this (issue 5). Every server entry point calls it just before serving.
    """
    gc.collect()
    gc.freeze()


def create_app(runtime: Runtime, *, nlu_process: RasaProcess | None = None) -> FastAPI:
    """Builds the app around a wired runtime; ``nlu_process`` is a local Rasa to supervise."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime
        await runtime.start_events()
        if nlu_process is not None:
            # Not awaited to readiness: the safety layer answers while Rasa loads.
            await nlu_process.start(wait=False)
        tasks = start_workers(runtime) if runtime.settings.run_workers else []
        # Emergency alerts for the console (one alert per case and pool across workers).
        tasks.append(asyncio.create_task(run_alerts(runtime), name="console-alerts"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if nlu_process is not None:
                await nlu_process.stop()
            await runtime.aclose()

    app = FastAPI(title="Tsunagu", version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    install_security(app, runtime.settings)
    app.include_router(web.router)
    app.include_router(line_webhook.router)
    app.include_router(ops_routes.router)
    app.include_router(console.router)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus metrics: counts and latencies only (no text, no user ids)."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["ops"])
    async def healthz(rt: RuntimeDep) -> dict[str, object]:
        """Liveness plus whether the NLU service answers (the bot works without it)."""
        ready = getattr(rt.nlu, "ready", None)
        nlu_ready = bool(await ready()) if ready is not None else True
        return {"status": "ok", "nlu": nlu_ready}

    @app.exception_handler(BotError)
    @app.exception_handler(StorageError)
    async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
        # The type only: messages of domain errors may mention content.
        return JSONResponse(status_code=500, content={"detail": type(exc).__name__})

    return app
