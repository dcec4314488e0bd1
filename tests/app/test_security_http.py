"""Web hardening over real HTTP: headers, CORS and origin checks, 413, 429 (uvicorn, loopback)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.main import create_app
from app.security.rate_limit import RateLimiter
from app.wiring import build_runtime
from core.config import Settings
from nlu.service import free_port
from storage.crypto import generated_master_key_spec
from tests.conftest import FakeNlu

LISTED = "https://www.pref.example.lg.jp"
FOREIGN = "https://evil.example.com"
LIMIT = 64 * 1024


def make_settings(tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "run_workers": False,
        "web_embed_origins": f"{LISTED}, https://www.city.example.lg.jp",
        "LINE_CHANNEL_SECRET": "test-secret",
        "rate_limit_chat_ip": "10000/minute",
        "rate_limit_webhook_ip": "10000/minute",
        **extra,
    }
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[str]:
    runtime = build_runtime(settings, nlu_url="http://127.0.0.1:9", nlu=FakeNlu())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime), host="127.0.0.1", port=port, log_config=None, lifespan="on"
        )
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def app_url(tmp_path: Path) -> AsyncIterator[str]:
    async with serve(make_settings(tmp_path)) as url:
        yield url


def assert_hardened(response: httpx.Response, *, cacheable: bool = False) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in headers["permissions-policy"]
    assert "microphone=()" in headers["permissions-policy"]
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert f"frame-ancestors 'self' {LISTED}" in csp
    assert "strict-transport-security" not in headers  # local mode
    if not cacheable:
        assert headers["cache-control"] == "no-store"


async def test_security_headers_on_api_pages_and_errors(app_url: str) -> None:
    async with httpx.AsyncClient(base_url=app_url) as http:
        session = await http.post("/api/chat/sessions", json={"language": "ja"})
        assert session.status_code == 201
        assert_hardened(session)
        assert_hardened(await http.get("/healthz"))
        assert_hardened(await http.get("/api/chat/notice"))
        missing = await http.get("/no-such-page")
        assert missing.status_code == 404
        assert_hardened(missing)
        page = await http.get("/chat")
        assert page.status_code == 200
        assert_hardened(page)
        # A route's own choice wins: embed.js is loaded on every prefecture page view.
        script = await http.get("/chat/embed.js")
        assert_hardened(script, cacheable=True)
        assert script.headers["cache-control"] == "public, max-age=300"


async def test_hsts_in_production(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(
        tmp_path,
        env="production",
        master_key=generated_master_key_spec(),
        user_key_pepper="pepper-for-test",
        database_url=sqlite_url,
    )
    async with serve(settings) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")


async def test_production_refuses_plain_http_embed_origins(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(
        tmp_path,
        env="production",
        master_key=generated_master_key_spec(),
        user_key_pepper="pepper-for-test",
        database_url=sqlite_url,
        web_embed_origins="http://www.pref.example.lg.jp",
    )
    runtime = build_runtime(settings, nlu_url="http://127.0.0.1:9", nlu=FakeNlu())
    try:
        with pytest.raises(ValueError, match="https"):
            create_app(runtime)
    finally:
        await runtime.aclose()


async def test_cors_allows_listed_origins_only(app_url: str) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with httpx.AsyncClient(base_url=app_url) as http:
        foreign = await http.options("/api/chat/messages", headers={"Origin": FOREIGN, **preflight})
        assert foreign.status_code == 400
        assert "access-control-allow-origin" not in foreign.headers
        listed = await http.options("/api/chat/messages", headers={"Origin": LISTED, **preflight})
        assert listed.status_code == 200
        assert listed.headers["access-control-allow-origin"] == LISTED
        assert "access-control-allow-credentials" not in listed.headers

        # Browsers send simple (form-like) requests without a preflight: refused outright.
        refused = await http.post(
            "/api/chat/sessions", json={"language": "ja"}, headers={"Origin": FOREIGN}
        )
        assert refused.status_code == 403
        assert refused.json() == {"detail": "origin_not_allowed"}
        assert "access-control-allow-origin" not in refused.headers
        assert_hardened(refused)
        allowed = await http.post(
            "/api/chat/sessions", json={"language": "ja"}, headers={"Origin": LISTED}
        )
        assert allowed.status_code == 201
        assert allowed.headers["access-control-allow-origin"] == LISTED
        same_origin = await http.post(
            "/api/chat/sessions", json={"language": "ja"}, headers={"Origin": app_url}
        )
        assert same_origin.status_code == 201
        null_origin = await http.post(
            "/api/chat/sessions", json={"language": "ja"}, headers={"Origin": "null"}
        )
        assert null_origin.status_code == 403


async def test_websocket_handshake_from_foreign_origin_is_refused(app_url: str) -> None:
    ws_url = app_url.replace("http://", "ws://") + "/api/chat/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url, origin=FOREIGN):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    async with connect(ws_url, origin=LISTED) as socket:  # type: ignore[arg-type]
        assert socket.protocol.state.name == "OPEN"


async def test_oversize_bodies_get_413(app_url: str) -> None:
    padded = json.dumps({"language": "ja", "pad": "x" * (LIMIT + 1)}).encode()
    just_under = json.dumps({"language": "ja", "pad": "x" * (LIMIT - 100)}).encode()
    assert len(just_under) <= LIMIT < len(padded)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(padded), 8192):
            yield padded[start : start + 8192]

    json_type = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=app_url) as http:
        ok = await http.post("/api/chat/sessions", content=just_under, headers=json_type)
        assert ok.status_code == 201
        declared = await http.post("/api/chat/sessions", content=padded, headers=json_type)
        assert declared.status_code == 413
        assert_hardened(declared)
        streamed = await http.post("/api/chat/sessions", content=chunks(), headers=json_type)
        assert streamed.status_code == 413
        webhook = await http.post(
            "/webhooks/line",
            content=padded,
            headers={**json_type, "X-Line-Signature": "c2lnbmF0dXJl"},
        )
        assert webhook.status_code == 413


async def test_per_ip_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, rate_limit_chat_ip="3/minute", rate_limit_webhook_ip="2/minute"
    )
    async with serve(settings) as url, httpx.AsyncClient(base_url=url) as http:
        statuses = [
            (await http.post("/api/chat/sessions", json={"language": "ja"})).status_code
            for _ in range(4)
        ]
        assert statuses == [201, 201, 201, 429]
        limited = await http.get("/api/chat/notice")
        assert limited.status_code == 429
        assert limited.json() == {"detail": "rate_limited"}
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert_hardened(limited)
        # Other paths and policies are counted apart; health checks are never limited.
        assert (await http.get("/healthz")).status_code == 200
        webhook = [
            (
                await http.post("/webhooks/line", content=b"{}", headers={"X-Line-Signature": "x"})
            ).status_code
            for _ in range(3)
        ]
        assert webhook == [400, 400, 429]


async def test_line_user_limit_counts_per_resident() -> None:
    limiter = RateLimiter({"line_user": "2/minute", "chat_user": "5/minute"})
    alice, bob = uuid.uuid4().hex, uuid.uuid4().hex
    decisions = [await limiter.hit_user("line", alice) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert 1 <= decisions[-1].retry_after <= 60 and decisions[-1].policy == "line_user"
    assert (await limiter.hit_user("line", bob)).allowed  # another resident is not affected
    assert (await limiter.hit_user("web", alice)).allowed  # nor the same key on another policy


async def test_memory_window_moves_and_forgets_idle_residents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = RateLimiter({"line_user": "2/second"})
    assert limiter.local is not None
    alice, bob = uuid.uuid4().hex, uuid.uuid4().hex
    assert [(await limiter.hit_user("line", alice)).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    await asyncio.sleep(1.05)  # the window has moved past both counted hits
    monkeypatch.setattr(limiter.local, "_next_sweep", 0.0)  # sweep on the next hit
    assert (await limiter.hit_user("line", bob)).allowed
    # The sweep forgot alice's expired counters: memory follows active residents only.
    assert [slot[3] for slot in limiter.local._hits] == [bob]
    assert (await limiter.hit_user("line", alice)).allowed


async def test_redis_counters_are_shared_between_workers() -> None:
    redis_url = "redis://127.0.0.1:6379/0"
    worker_a = RateLimiter({"chat_ip": "3/minute"}, redis_url=redis_url)
    worker_b = RateLimiter({"chat_ip": "3/minute"}, redis_url=redis_url)
    if not await worker_a.reachable():
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    client = f"192.0.2.{uuid.uuid4().int % 250}-{uuid.uuid4().hex}"
    assert (await worker_a.hit("chat_ip", client)).allowed
    assert (await worker_b.hit("chat_ip", client)).allowed
    assert (await worker_a.hit("chat_ip", client)).allowed
    denied = await worker_b.hit("chat_ip", client)
    assert not denied.allowed and 1 <= denied.retry_after <= 60


async def test_unreachable_redis_fails_open() -> None:
    limiter = RateLimiter({"chat_ip": "1/minute"}, redis_url="redis://127.0.0.1:1/0")
    decisions = [await limiter.hit("chat_ip", "198.51.100.7") for _ in range(3)]
    assert all(d.allowed for d in decisions)
