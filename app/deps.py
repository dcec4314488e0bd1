"""FastAPI dependency aliases."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from app.wiring import Runtime
from bot.engine import Engine


def get_runtime(request: Request) -> Runtime:
    """The process runtime stored on the app at start-up."""
    return cast(Runtime, request.app.state.runtime)


def get_engine(request: Request) -> Engine:
    """The conversation engine."""
    return get_runtime(request).engine


EngineDep = Annotated[Engine, Depends(get_engine)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
