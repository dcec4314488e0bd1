"""The counselor console: sign-in, live queue, case view and actions, supervisor watch.

``router`` bundles the pages, form actions, the live socket and the static files
(``app.main`` includes it).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from handoff.console import live, routes
from handoff.console.resources import STATIC_DIR, STATIC_PATH

router = APIRouter()
router.include_router(live.router)
router.include_router(routes.router)
router.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="console-static")

__all__ = ["router"]
