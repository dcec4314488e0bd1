"""Web chat session tokens: random, server-issued, and verifiable without a table.

A token is ``<random>.<mac>``: 32 random bytes (``secrets.token_urlsafe``) and an HMAC of them
under a key derived from the user-key pepper. Only the server can mint one, so a client can
never pick a guessable token whose conversation someone else could then resume. The random
part is the resident's ``user_ref``: the engine turns it into the conversation's HMAC user key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

RANDOM_BYTES = 32
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$"
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_KEY_LABEL = b"tsunagu/web-session/v1"


class SessionTokens:
    """Mints and checks session tokens."""

    def __init__(self, pepper: bytes) -> None:
        """Derives the signing key, so the pepper itself never signs anything public."""
        self._key = hmac.new(pepper, _KEY_LABEL, hashlib.sha256).digest()

    def _mac(self, random_part: str) -> str:
        digest = hmac.new(self._key, random_part.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def issue(self) -> str:
        """A fresh token for a new session."""
        random_part = secrets.token_urlsafe(RANDOM_BYTES)
        return f"{random_part}.{self._mac(random_part)}"

    def verify(self, token: str | None) -> str | None:
        """The token's ``user_ref`` if this server issued it, else None (constant-time check)."""
        if not token or not _TOKEN_RE.fullmatch(token):
            return None
        random_part, _, mac = token.partition(".")
        if not hmac.compare_digest(mac, self._mac(random_part)):
            return None
        return random_part
