"""Web hardening installed on the app: headers, CORS and origin checks, body size, rate limits.

Order (outermost first): security headers (so every answer, 413 and 429 included, carries
them) → CORS → origin guard → per-IP rate limit → body size limit → routes.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.cors import CORSMiddleware

from app.security.cors import (
    ALLOWED_HEADERS,
    ALLOWED_METHODS,
    OriginGuardMiddleware,
    parse_origins,
)
from app.security.headers import SecurityHeadersMiddleware
from app.security.rate_limit import IpRateLimitMiddleware, RateLimiter
from core.config import Settings


def install_security(app: FastAPI, settings: Settings) -> RateLimiter:
    """Adds the middlewares and puts the rate limiter on ``app.state.rate_limiter``."""
    production = settings.env == "production"
    origins = parse_origins(settings.web_embed_origins, require_https=production)
    limiter = RateLimiter.from_settings(settings)
    app.state.rate_limiter = limiter
    # add_middleware wraps: the last one added is the outermost.
    # Starlette's limit: 413 for a declared or streamed body over the limit, also when the
    # body is read inside FastAPI's parsing (it raises an HTTPException).
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_body_bytes)
    app.add_middleware(IpRateLimitMiddleware, limiter=limiter)
    app.add_middleware(OriginGuardMiddleware, allowed_origins=origins)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=False,
        max_age=600,
    )
    docs_paths = frozenset(
        path
        for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
        if path is not None
    )
    app.add_middleware(
        SecurityHeadersMiddleware,
        frame_ancestors=origins,
        production=production,
        docs_paths=docs_paths,
    )
    return limiter
