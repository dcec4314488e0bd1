"""Run the stand-in for tests and tools: a real uvicorn server on a free loopback port.

    with run_standin(access_token="test-token") as url:
        control = StandinClient(url)
        ... point TSUNAGU_LINE_API_BASE_URL and TSUNAGU_LINE_API_DATA_BASE_URL at url ...
        control.delivered(user_id)

The server runs in a background thread with its own event loop, so it works the same from
synchronous tests, from async tests (pytest-asyncio's loop is untouched) and from the CLI.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from channels.line.standin.app import LineStandin, create_standin_app
from channels.line.standin.state import StandinState

STARTUP_TIMEOUT_SECONDS = 10.0


@contextmanager
def serve_app(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serves any ASGI app with uvicorn in a background thread; yields its base URL.

    ``port=0`` picks a free port; the socket is bound before the server starts, so there is
    no race with other processes grabbing the port. Used for the stand-in and for tests that
    need a real HTTP server (e.g. a webhook receiver).
    """
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="serve-app", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        sock.close()


@contextmanager
def run_standin(
    access_token: str = "standin-access-token",
    *,
    state: StandinState | None = None,
    strict_reply_tokens: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[str]:
    """Serves a LINE API stand-in until the block ends; yields its base URL (no slash).

    Point both ``TSUNAGU_LINE_API_BASE_URL`` and ``TSUNAGU_LINE_API_DATA_BASE_URL`` at it.
    Pass your own ``state`` to inspect or reset it in-process instead of over HTTP.
    """
    standin = LineStandin(access_token, state, strict_reply_tokens=strict_reply_tokens)
    with serve_app(create_standin_app(standin), host=host, port=port) as url:
        yield url


class StandinClient:
    """Synchronous client for the stand-in's ``/__standin/`` control API."""

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        """Closes the underlying connection pool."""
        self._http.close()

    def __enter__(self) -> StandinClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(method, f"/__standin/{path}", **kwargs)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def requests(
        self, *, path: str | None = None, method: str | None = None, status: int | None = None
    ) -> list[dict[str, Any]]:
        """Recorded LINE-path calls (every answered call, with its ``status``)."""
        params = {k: v for k, v in {"path": path, "method": method, "status": status}.items() if v}
        found: list[dict[str, Any]] = self._call("GET", "requests", params=params)["requests"]
        return found

    def clear_requests(self) -> None:
        """Forgets recorded calls and deliveries."""
        self._call("DELETE", "requests")

    def reset(self) -> None:
        """Forgets everything: recordings, tokens, retry keys, failures, menus, profiles."""
        self._call("POST", "reset")

    def fail(
        self,
        status: int,
        count: int = 1,
        *,
        path: str | None = None,
        retry_after: int | None = None,
        accept: bool = False,
    ) -> None:
        """Answers the next ``count`` calls (matching the ``path`` glob) with ``status``.

        ``accept=True`` still performs the call (delivers, accepts the retry key) before
        answering with the error: the "delivered but the answer was lost" case.
        """
        body: dict[str, Any] = {"status": status, "count": count, "accept": accept}
        if path is not None:
            body["path"] = path
        if retry_after is not None:
            body["retry_after"] = retry_after
        self._call("POST", "fail", json=body)

    def register_reply_token(
        self, token: str, user_id: str | None = None, *, expires_in: float = 60.0
    ) -> None:
        """Makes ``token`` valid for ``expires_in`` seconds, replying to ``user_id``."""
        item = {"token": token, "user_id": user_id, "expires_in": expires_in}
        self._call("POST", "reply-tokens", json={"tokens": [item]})

    def set_profile(self, user_id: str, display_name: str, language: str | None = None) -> None:
        """Sets what the profile endpoint answers for ``user_id``."""
        body = {"userId": user_id, "displayName": display_name}
        if language is not None:
            body["language"] = language
        self._call("POST", "profiles", json=body)

    def delivered(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Message objects that reached ``user_id`` (each accepted push once), oldest first."""
        params = {"user_id": user_id} if user_id else {}
        messages: list[dict[str, Any]] = self._call("GET", "delivered", params=params)["messages"]
        return messages

    def deliveries(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Deliveries with their route (reply/push), request id and retry key."""
        params = {"user_id": user_id} if user_id else {}
        found: list[dict[str, Any]] = self._call("GET", "delivered", params=params)["deliveries"]
        return found

    def rich_menus(self) -> dict[str, Any]:
        """``{"default": id | None, "richmenus": [...]}``."""
        return self._call("GET", "richmenus")
