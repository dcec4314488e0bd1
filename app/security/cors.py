"""Strict cross-origin rules: only our own origin and the listed prefecture sites.

Browsers enforce CORS only on what a page may *read*; a foreign page can still *send* a
form POST or open a WebSocket. So besides Starlette's ``CORSMiddleware`` (preflights,
response headers), :class:`OriginGuardMiddleware` refuses state-changing requests and
WebSocket handshakes whose ``Origin`` is neither ours nor listed. Server-to-server calls
(LINE's webhook) send no ``Origin`` and pass.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALLOWED_METHODS = ("GET", "POST")
ALLOWED_HEADERS = ("Content-Type",)


def parse_origins(spec: str, *, require_https: bool) -> tuple[str, ...]:
    """Splits ``TSUNAGU_WEB_EMBED_ORIGINS`` (spaces/commas) and checks each is an origin."""
    origins = tuple(dict.fromkeys(part.rstrip("/") for part in re.split(r"[\s,]+", spec) if part))
    for origin in origins:
        if not ORIGIN.fullmatch(origin):
            raise ValueError(
                f"TSUNAGU_WEB_EMBED_ORIGINS: {origin!r} is not an origin "
                "(scheme://host[:port], no path)"
            )
        if require_https and not origin.startswith("https://"):
            raise ValueError(f"TSUNAGU_WEB_EMBED_ORIGINS: {origin!r} must use https in production")
    return origins


def _same_origin(origin: str, host: str | None) -> bool:
    # Behind a TLS-terminating proxy the request scheme may be http while the page is
    # https, so compare host[:port] only.
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


class OriginGuardMiddleware:
    """Answers 403 to cross-origin writes and WebSocket handshakes from unlisted origins."""

    def __init__(self, app: ASGIApp, *, allowed_origins: tuple[str, ...]) -> None:
        """``allowed_origins`` besides the request's own host."""
        self.app = app
        self.allowed = frozenset(allowed_origins)

    def _allowed(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            return True
        return origin in self.allowed or _same_origin(origin, headers.get("host"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Passes allowed requests through unchanged."""
        if scope["type"] == "websocket" and not self._allowed(scope):
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and not self._allowed(scope)
        ):
            response = JSONResponse({"detail": "origin_not_allowed"}, status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
