"""Console session tokens: signed, expiring, bound to the key; cookie attributes per env."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from fastapi import Response

from handoff.console.auth import SESSION_SECONDS, issue, set_cookie, verify
from handoff.console.views import pseudonym

KEY = b"k" * 32


def test_token_round_trip_expiry_and_tampering() -> None:
    token = issue(KEY, "session-row-id", now=1000.0)
    session = verify(KEY, token, now=1001.0)
    assert session is not None and session.session_id == "session-row-id" and session.csrf
    assert verify(KEY, token, now=1000.0 + SESSION_SECONDS) is None
    assert verify(b"x" * 32, token, now=1001.0) is None
    body, _, signature = token.partition(".")
    assert verify(KEY, f"{body}x.{signature}", now=1001.0) is None
    assert verify(KEY, body, now=1001.0) is None
    # Every session gets its own CSRF nonce.
    other = verify(KEY, issue(KEY, "session-row-id", now=1000.0), now=1001.0)
    assert other is not None and other.csrf != session.csrf


def _cookie(env: str) -> str:
    response = Response()
    runtime = cast(Any, SimpleNamespace(settings=SimpleNamespace(env=env)))
    set_cookie(response, runtime, "tsunagu_console", "v", 60)
    return response.headers["set-cookie"]


def test_cookie_is_secure_in_production_only() -> None:
    production, local = _cookie("production"), _cookie("local")
    for cookie in (production, local):
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" in production and "Secure" not in local


def test_pseudonym_is_short_stable_and_distinct() -> None:
    a, b = pseudonym("3f2c0d0e-1111-4222-8333-444455556666"), pseudonym("another-case")
    assert a == pseudonym("3f2c0d0e-1111-4222-8333-444455556666")
    assert a.startswith("ケース ") and len(a) == len("ケース ") + 4
    assert a != b
