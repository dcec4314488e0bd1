"""Security headers on every HTTP response (CSP, nosniff, no-referrer, HSTS, no-store).

Residents in DV situations may share a device with the person they fear: pages and API
answers must not be cached, must not leak the URL through ``Referer``, and must not be
framed by sites other than the prefecture sites listed in ``TSUNAGU_WEB_EMBED_ORIGINS``.
Headers are set only when the route did not set its own (``setdefault``), so a page that
needs a different CSP (e.g. with a nonce) can send one.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = "max-age=63072000; includeSubDomains"
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
# FastAPI's interactive docs load Swagger UI / ReDoc from jsDelivr with inline scripts.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; worker-src 'self' blob:; "
    "frame-ancestors 'none'"
)
# Static assets may be cached; everything else (pages, JSON) is never stored.
CACHEABLE_TYPES = ("text/css", "text/javascript", "application/javascript", "image/", "font/")


def content_security_policy(frame_ancestors: Iterable[str]) -> str:
    """``default-src 'self'`` plus the origins allowed to embed the widget."""
    ancestors = " ".join(["'self'", *frame_ancestors])
    return (
        "default-src 'self'; base-uri 'self'; form-action 'self'; object-src 'none'; "
        f"frame-ancestors {ancestors}"
    )


class SecurityHeadersMiddleware:
    """Pure ASGI middleware (no response buffering; WebSockets pass through)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        frame_ancestors: tuple[str, ...] = (),
        production: bool = False,
        docs_paths: frozenset[str] = frozenset(),
    ) -> None:
        """``frame_ancestors`` are origins like ``https://www.pref.example.lg.jp``."""
        self.app = app
        self.docs_paths = docs_paths
        common = [
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Permissions-Policy", PERMISSIONS_POLICY),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ]
        if not frame_ancestors:
            # Older browsers ignore frame-ancestors; X-Frame-Options cannot list origins.
            common.append(("X-Frame-Options", "SAMEORIGIN"))
        if production:
            common.append(("Strict-Transport-Security", HSTS))
        self.common = tuple(common)
        self.csp = content_security_policy(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Adds the headers to the response start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in self.docs_paths else self.csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.common:
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", csp)
                content_type = headers.get("content-type", "")
                if not content_type.startswith(CACHEABLE_TYPES):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
