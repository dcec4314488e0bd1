"""Web chat channel: HTTP and WebSocket APIs, the widget page, and the embed script.

``router`` bundles everything the app serves for the web channel (``app.main`` includes it).
"""

from __future__ import annotations

from fastapi import APIRouter

from channels.web import http_api, pages, socket_api

router = APIRouter()
router.include_router(http_api.router)
router.include_router(socket_api.router)
router.include_router(pages.router)
router.mount("/chat/static", pages.static_files, name="chat-static")

__all__ = ["router"]
