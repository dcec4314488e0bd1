"""Rate limits per client IP (middleware) and per resident (a call for the channels).

Counting uses a moving window, in process memory by default (:class:`LocalWindows`) and in
Redis through the ``limits`` library when ``TSUNAGU_REDIS_URL`` is set, so several workers
share counters.
A limited request gets 429 with ``Retry-After``.

LINE's webhook arrives from LINE's own servers, so its per-IP limit is generous and the
per-resident limit is applied by the webhook *after* the signature is verified::

    decision = await rate_limiter(request).hit_user("line", event.user_key)
    if not decision.allowed:
        ...  # defer this resident's event (store it with a later not_before) rather than
        # drop it, and never reject the whole batch: it holds other residents' events

If the counter store fails (Redis down), requests are allowed and the failure is logged:
a resident in crisis must not be turned away by a broken rate limiter.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.config import Settings
from core.logging import log_event

logger = logging.getLogger(__name__)

NAMESPACE = "tsunagu"
# Path prefixes and the per-IP policy that applies to them (the chat API includes its
# WebSocket). The webhook's per-IP limit is generous: one IP stands for many LINE users.
# Pages, embed.js (loaded on every prefecture page view, often behind one office NAT) and
# /healthz are not limited.
IP_POLICIES: tuple[tuple[str, str], ...] = (
    ("/webhooks/", "webhook_ip"),
    ("/api/chat", "chat_ip"),
)
# The per-resident policy of each channel.
USER_POLICIES = {"line": "line_user", "web": "chat_user"}


@dataclass(frozen=True)
class RateDecision:
    """Whether one request may go on; if not, how many seconds until it may."""

    allowed: bool
    retry_after: int = 0
    policy: str = ""


class RateLimited(HTTPException):
    """429 with ``Retry-After``; raise it from a route (FastAPI renders it)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            status_code=429,
            detail="rate_limited",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


def storage_uri(redis_url: str | None) -> str:
    """The ``limits`` storage URI: in-memory, or async Redis for a configured redis URL."""
    if not redis_url:
        return "async+memory://"
    if not redis_url.startswith(("redis://", "rediss://", "redis+unix://")):
        raise ValueError("TSUNAGU_REDIS_URL must start with redis://, rediss:// or redis+unix://")
    return "async+" + redis_url


class LocalWindows:
    """Moving-window counters in this process's memory, with no background task.

    Why not ``limits``' async memory storage: after every hit it starts a sweep over *all*
    keys with one thread hop per key. With a few hundred residents that sweep used more CPU
    than the webhook itself and showed up as acknowledgement latency (profiled, issue 4).
    Here a key's expired hits are dropped when the key is hit, and idle keys are forgotten
    by a short inline sweep every ``SWEEP_SECONDS``.
    """

    SWEEP_SECONDS = 30.0

    def __init__(self) -> None:
        """Empty counters."""
        # (policy, limit, window seconds, key) -> monotonic times of the counted hits.
        self._hits: dict[tuple[str, int, int, str], deque[float]] = {}
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def hit(self, item: RateLimitItem, policy: str, key: str) -> float:
        """Counts one hit if under the limit: returns 0, else the seconds until one is free."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
        window = item.get_expiry()
        slot = (policy, item.amount, window, key)
        hits = self._hits.get(slot)
        if hits is None:
            hits = self._hits[slot] = deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= item.amount:
            return max(hits[0] + window - now, 1e-3)
        hits.append(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self.SWEEP_SECONDS
        idle = [slot for slot, hits in self._hits.items() if not hits or hits[-1] <= now - slot[2]]
        for slot in idle:
            del self._hits[slot]


class RateLimiter:
    """Named policies ("chat_ip", "line_user", …) over one shared counter store."""

    def __init__(self, policies: dict[str, str], redis_url: str | None = None) -> None:
        """``policies`` map names to ``limits`` strings such as ``"20/minute;200/hour"``."""
        self.policies: dict[str, list[RateLimitItem]] = {
            name: parse_many(spec) for name, spec in policies.items()
        }
        self.local: LocalWindows | None = None
        self.strategy: MovingWindowRateLimiter | None = None
        if redis_url:
            storage = storage_from_string(
                storage_uri(redis_url), wrap_exceptions=True, implementation="redispy"
            )
            self.strategy = MovingWindowRateLimiter(storage)
        else:
            self.local = LocalWindows()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The policies and store configured by ``TSUNAGU_RATE_LIMIT_*`` / ``_REDIS_URL``."""
        return cls(
            {
                "chat_ip": settings.rate_limit_chat_ip,
                "chat_user": settings.rate_limit_chat_user,
                "webhook_ip": settings.rate_limit_webhook_ip,
                "line_user": settings.rate_limit_line_user,
                "console_login_ip": settings.rate_limit_console_login_ip,
            },
            redis_url=settings.redis_url.get_secret_value() if settings.redis_url else None,
        )

    async def hit(self, policy: str, key: str) -> RateDecision:
        """Counts one request of ``key`` against every limit of ``policy``."""
        if self.local is not None:
            for item in self.policies[policy]:
                wait_s = self.local.hit(item, policy, key)
                if wait_s:
                    return RateDecision(False, retry_after=max(1, math.ceil(wait_s)), policy=policy)
            return RateDecision(allowed=True, policy=policy)
        assert self.strategy is not None
        try:
            for item in self.policies[policy]:
                if not await self.strategy.hit(item, NAMESPACE, policy, key):
                    stats = await self.strategy.get_window_stats(item, NAMESPACE, policy, key)
                    wait = max(1, math.ceil(stats.reset_time - time.time()))
                    return RateDecision(allowed=False, retry_after=wait, policy=policy)
        except StorageError as exc:
            log_event(
                logger,
                "rate_limit.storage_error",
                logging.ERROR,
                error_type=type(exc.storage_error).__name__,
            )
        return RateDecision(allowed=True, policy=policy)

    async def reachable(self) -> bool:
        """Whether the counter store answers (always True in memory)."""
        if self.strategy is None:
            return True
        try:
            return bool(await self.strategy.storage.check())
        except StorageError:
            return False

    async def hit_user(self, channel: str, user_key: str) -> RateDecision:
        """Counts one message of a resident (HMAC user key) on ``channel`` ("line", "web")."""
        return await self.hit(USER_POLICIES[channel], user_key)


def rate_limiter(connection: HTTPConnection) -> RateLimiter:
    """The app's limiter (``install_security`` puts it on ``app.state``)."""
    limiter = connection.app.state.rate_limiter
    assert isinstance(limiter, RateLimiter)
    return limiter


async def enforce_user_limit(connection: HTTPConnection, channel: str, user_key: str) -> None:
    """For request/response channels (web chat): raises :class:`RateLimited` when over."""
    decision = await rate_limiter(connection).hit_user(channel, user_key)
    if not decision.allowed:
        raise RateLimited(decision.retry_after)


def ip_policy(path: str) -> str | None:
    """The per-IP policy for ``path``, or None if the path is not limited."""
    for prefix, policy in IP_POLICIES:
        if path.startswith(prefix):
            return policy
    return None


class IpRateLimitMiddleware:
    """Per-client-IP limits on webhooks and web chat (HTTP requests and WebSocket handshakes).

    The client IP is the socket peer; behind a reverse proxy run uvicorn with the proxy in
    ``FORWARDED_ALLOW_IPS`` so it comes from ``X-Forwarded-For``.
    """

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        """Counts into ``limiter``."""
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answers 429 (or refuses the WebSocket) when the client is over its limit."""
        policy = ip_policy(scope["path"]) if scope["type"] in ("http", "websocket") else None
        if policy is None or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        decision = await self.limiter.hit(policy, client[0] if client else "unknown")
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        log_event(logger, "rate_limited", status=429, action=policy)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})
            return
        response = JSONResponse(
            {"detail": "rate_limited"},
            status_code=429,
            headers={"Retry-After": str(decision.retry_after)},
        )
        if Headers(scope=scope).get("origin"):
            # Cross-origin widgets read the status through CORS like any other answer.
            response.headers["Vary"] = "Origin"
        await response(scope, receive, send)
