"""Console sign-in state: signed session cookies, CSRF tokens and the signed-in account.

The session cookie holds ``session id, expiry, CSRF nonce`` signed with HMAC-SHA256 under a
key derived from the installation's secret pepper, so nobody can forge or extend it. The id
names a ``console_sessions`` row (``handoff/console_sessions.py``) that every request checks
together with the account: logout, a password change, a lockout or removing the account
revokes the row, and the same cookie replayed afterwards is not signed in.

CSRF: every POST carries a token in a hidden field (or the ``X-CSRF-Token`` header) that
must equal the nonce inside the signed session cookie; the login form uses a double-submit
cookie instead, as there is no session yet. Cookies are HttpOnly, SameSite=Strict, and
Secure when ``TSUNAGU_ENV=production``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request, Response
from starlette.requests import HTTPConnection

from app.wiring import Runtime
from handoff import console_sessions
from handoff.accounts import account_pools

SESSION_COOKIE = "tsunagu_console"
LOGIN_CSRF_COOKIE = "tsunagu_console_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_SECONDS = int(console_sessions.SESSION_LIFETIME.total_seconds())  # one shift
MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True)
class SessionToken:
    """What a validly signed session cookie says (the row must still be checked)."""

    session_id: str
    expires: int
    csrf: str


@dataclass(frozen=True)
class Staff:
    """The signed-in account, as routes need it."""

    id: str
    login: str
    display_name: str
    role: str
    pools: tuple[str, ...]
    csrf: str
    session_id: str = ""

    @property
    def sees_all(self) -> bool:
        """Supervisors and admins see every pool and may watch silently."""
        return self.role in ("supervisor", "admin")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(runtime: Runtime) -> bytes:
    """A key for console tokens only, derived from the pepper (never the pepper itself)."""
    return hmac.new(runtime.pepper, b"tsunagu-console-session-v1", hashlib.sha256).digest()


def issue(key: bytes, session_id: str, *, now: float | None = None) -> str:
    """A signed token naming session row ``session_id``, with a fresh CSRF nonce."""
    payload = {
        "sid": session_id,
        "exp": int((now or time.time()) + SESSION_SECONDS),
        "csrf": secrets.token_urlsafe(24),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def verify(key: bytes, token: str, *, now: float | None = None) -> SessionToken | None:
    """The token's contents if the signature holds and it has not expired, else None."""
    body, _, signature = token.partition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        return None
    try:
        payload = json.loads(_unb64(body))
        session = SessionToken(str(payload["sid"]), int(payload["exp"]), str(payload["csrf"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires <= (now or time.time()):
        return None
    return session


def set_cookie(response: Response, runtime: Runtime, name: str, value: str, max_age: int) -> None:
    """Sets a console cookie with the strict attributes (Secure in production)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=runtime.settings.env == "production",
    )


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the console's forms) as a dict.

    An empty body is an empty form (a button-only POST may still carry the CSRF header).
    """
    body = await request.body()
    if not body:
        return {}
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "form expected")
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def check_csrf(expected: str, form: dict[str, str], request: Request) -> None:
    """Refuses (403) a POST whose token is missing or differs from the session's."""
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    if not expected or not given or not hmac.compare_digest(given, expected):
        raise HTTPException(403, "csrf")


async def sign_in(runtime: Runtime, account_id: str) -> str:
    """Starts a session row for ``account_id`` and returns the signed cookie value."""
    async with runtime.database.session() as db:
        row = await console_sessions.start(db, account_id)
        session_id = row.id
    return issue(signing_key(runtime), session_id)


async def sign_out(runtime: Runtime, staff: Staff) -> None:
    """Revokes the session (the cookie, replayed later, is no longer signed in)."""
    async with runtime.database.session() as db:
        await console_sessions.revoke(db, staff.session_id)


async def current_staff(request: HTTPConnection, runtime: Runtime) -> Staff | None:
    """The signed-in account for a request or WebSocket, or None.

    The signature is checked first (no database work for a forged cookie), then the
    session row: revoked or expired rows, and removed accounts, are not signed in.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = verify(signing_key(runtime), token)
    if session is None:
        return None
    # Every console request and each live socket's periodic check reads this row: one
    # round trip, and the occasional ``last_seen`` touch commits on its own.
    async with runtime.database.reads() as db:
        live = await console_sessions.check(db, session.session_id)
    if live is None:
        return None
    account = live.account
    return Staff(
        id=account.id,
        login=account.login,
        display_name=account.display_name,
        role=account.role,
        pools=account_pools(account),
        csrf=session.csrf,
        session_id=live.session_id,
    )
