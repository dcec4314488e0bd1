"""The stand-in's memory: recorded requests, reply tokens, retry keys, injected failures, menus.

One re-entrant lock guards everything, so the HTTP handlers (event loop thread) and tests
reading state from another thread always see a consistent picture, and a check-then-act such
as "has this retry key been accepted? if not, deliver and remember it" is atomic.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

REPLY_TOKEN = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_REPLY_TOKEN_SECONDS = 60.0


@dataclass(frozen=True)
class RecordedRequest:
    """One call the stand-in answered, with the parts tests assert on."""

    seq: int
    time: float
    method: str
    path: str
    status: int
    request_id: str
    headers: dict[str, str]
    body: Any
    body_bytes: int
    injected: bool

    def as_json(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return asdict(self)


@dataclass(frozen=True)
class Delivery:
    """Messages that reached a user (a successful reply or an accepted push)."""

    seq: int
    time: float
    user_id: str | None
    via: str
    request_id: str
    retry_key: str | None
    messages: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return asdict(self)


@dataclass
class FailRule:
    """Answer the next ``remaining`` calls matching ``path`` (a glob) with ``status``.

    ``accept`` simulates the nastiest case: LINE processed the call (the message *was*
    delivered, the retry key *was* accepted) but the answer was an error, so the client retries.
    """

    status: int
    remaining: int
    path: str | None = None
    retry_after: int | None = None
    accept: bool = False

    def matches(self, path: str) -> bool:
        """Whether a request to ``path`` is caught by this rule."""
        return self.remaining > 0 and (self.path is None or fnmatch.fnmatchcase(path, self.path))


@dataclass
class ReplyToken:
    """A reply token the stand-in knows: who it replies to, until when, whether used."""

    token: str
    user_id: str | None
    expires_at: float
    used: bool = False


@dataclass(frozen=True)
class AcceptedPush:
    """A push accepted under a retry key: what a repeat with the same key gets back."""

    request_id: str
    sent_messages: list[dict[str, str]]


@dataclass
class RichMenuRecord:
    """A created rich menu and its uploaded image, if any."""

    rich_menu_id: str
    menu: dict[str, Any]
    image: bytes | None = None
    image_type: str | None = None
    image_size: tuple[int, int] | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON form for the control API (image described, not included)."""
        image = None
        if self.image is not None and self.image_size is not None:
            image = {
                "contentType": self.image_type,
                "width": self.image_size[0],
                "height": self.image_size[1],
                "bytes": len(self.image),
            }
        return {"richMenuId": self.rich_menu_id, "menu": self.menu, "image": image}


@dataclass
class StandinState:
    """Everything the stand-in remembers; reset between tests with :meth:`reset`."""

    clock: Callable[[], float] = time.time
    lock: threading.RLock = field(default_factory=threading.RLock)
    requests: list[RecordedRequest] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    fail_rules: list[FailRule] = field(default_factory=list)
    reply_tokens: dict[str, ReplyToken] = field(default_factory=dict)
    retry_keys: dict[str, AcceptedPush] = field(default_factory=dict)
    rich_menus: dict[str, RichMenuRecord] = field(default_factory=dict)
    default_rich_menu: str | None = None
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    _seq: int = 0

    def next_seq(self) -> int:
        """A increasing number ordering requests and deliveries."""
        with self.lock:
            self._seq += 1
            return self._seq

    def reset(self) -> None:
        """Forget everything (tokens, keys, menus, failures, recordings)."""
        with self.lock:
            self.requests.clear()
            self.deliveries.clear()
            self.fail_rules.clear()
            self.reply_tokens.clear()
            self.retry_keys.clear()
            self.rich_menus.clear()
            self.default_rich_menu = None
            self.profiles.clear()

    def clear_recordings(self) -> None:
        """Forget recorded requests and deliveries; tokens, retry keys and menus stay."""
        with self.lock:
            self.requests.clear()
            self.deliveries.clear()

    # --- failures -------------------------------------------------------------------------
    def add_fail_rule(self, rule: FailRule) -> int:
        """Queues a failure rule; returns how many rules are pending."""
        with self.lock:
            self.fail_rules.append(rule)
            return len(self.fail_rules)

    def take_failure(self, path: str) -> FailRule | None:
        """The first pending rule matching ``path``, spending one of its calls."""
        with self.lock:
            for rule in self.fail_rules:
                if rule.matches(path):
                    rule.remaining -= 1
                    self.fail_rules = [r for r in self.fail_rules if r.remaining > 0]
                    return rule
            return None

    # --- reply tokens ---------------------------------------------------------------------
    def register_reply_token(
        self, token: str, user_id: str | None, expires_in: float = DEFAULT_REPLY_TOKEN_SECONDS
    ) -> None:
        """Makes ``token`` valid for ``expires_in`` seconds, replying to ``user_id``."""
        with self.lock:
            self.reply_tokens[token] = ReplyToken(token, user_id, self.clock() + expires_in)

    def consume_reply_token(self, token: str, *, strict: bool) -> tuple[bool, str | None]:
        """Spends a reply token: ``(ok, user_id)``; unknown well-formed ones pass unless strict."""
        with self.lock:
            entry = self.reply_tokens.get(token)
            if entry is None:
                if strict or not REPLY_TOKEN.fullmatch(token):
                    return False, None
                entry = ReplyToken(token, None, self.clock() + DEFAULT_REPLY_TOKEN_SECONDS)
                self.reply_tokens[token] = entry
            if entry.used or self.clock() >= entry.expires_at:
                return False, entry.user_id
            entry.used = True
            return True, entry.user_id

    # --- recordings -----------------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        """Keeps one answered request."""
        with self.lock:
            self.requests.append(request)

    def deliver(
        self,
        user_id: str | None,
        via: str,
        request_id: str,
        messages: list[dict[str, Any]],
        retry_key: str | None = None,
    ) -> None:
        """Notes that ``messages`` reached ``user_id``."""
        with self.lock:
            self.deliveries.append(
                Delivery(
                    self.next_seq(), self.clock(), user_id, via, request_id, retry_key, messages
                )
            )

    def delivered_to(self, user_id: str | None) -> list[Delivery]:
        """Deliveries to one user (all when ``user_id`` is None), oldest first."""
        with self.lock:
            return [d for d in self.deliveries if user_id is None or d.user_id == user_id]
