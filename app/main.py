"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.deps import RuntimeDep
from app.wiring import Runtime
from bot.errors import BotError
from channels import web
from nlu.service import RasaProcess
from storage.errors import StorageError


def create_app(runtime: Runtime, *, nlu_process: RasaProcess | None = None) -> FastAPI:
    """Builds the app around a wired runtime; ``nlu_process`` is a local Rasa to supervise."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime
        if nlu_process is not None:
            # Not awaited to readiness: the safety layer answers while Rasa loads.
            await nlu_process.start(wait=False)
        try:
            yield
        finally:
            if nlu_process is not None:
                await nlu_process.stop()
            await runtime.aclose()

    app = FastAPI(title="Tsunagu", version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.include_router(web.router)

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
