"""Build and send correctly signed LINE webhook requests, as LINE's platform would.

Used by ``tsunagu line simulate`` (talk to a local app as a resident would, no phone needed),
by tests of the webhook receiver and by the webhook benchmark. The shapes follow LINE's
webhook reference: ``destination`` + ``events[]`` with ``mode``, ``timestamp``, ``source``,
``webhookEventId`` (a ULID), ``deliveryContext.isRedelivery`` and, for events one can answer,
a 32-hex ``replyToken``. The signature is base64(HMAC-SHA256(channel secret, raw body)): the
SDK only verifies signatures, so signing uses the standard library.

    events = [build_text_event("こんにちは", user_id=user)]
    body = build_payload(events)
    httpx.post(url, content=body, headers=webhook_headers(body, secret))
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

WEBHOOK_USER_AGENT = "LineBotWebhook/2.0"
DESTINATION = "U" + hashlib.sha256(b"tsunagu-simulated-bot").hexdigest()[:32]
DEMO_USER_ID = "U" + hashlib.sha256(b"tsunagu-simulated-resident").hexdigest()[:32]
EVENT_KINDS = ("message", "follow", "unfollow", "unsend", "sticker", "image", "verify")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_user_id() -> str:
    """A LINE-shaped user id: ``U`` + 32 lowercase hex."""
    return "U" + secrets.token_hex(16)


def new_reply_token() -> str:
    """A LINE-shaped reply token: 32 lowercase hex."""
    return secrets.token_hex(16)


def new_message_id() -> str:
    """A LINE-shaped message id: an 18-digit decimal string."""
    return str(10**17 + secrets.randbelow(9 * 10**17))


def new_quote_token() -> str:
    """An opaque quote token like the ones LINE attaches to messages."""
    return secrets.token_urlsafe(96)


def new_webhook_event_id(timestamp_ms: int | None = None) -> str:
    """A ULID (26 Crockford base32 chars: 48-bit ms time + 80 random bits), as LINE uses."""
    millis = now_ms() if timestamp_ms is None else timestamp_ms
    value = (millis << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def now_ms() -> int:
    """The current time in milliseconds, as in the ``timestamp`` field."""
    return time.time_ns() // 1_000_000


def _event(
    kind: str,
    *,
    user_id: str,
    reply_token: str | None,
    webhook_event_id: str | None,
    timestamp_ms: int | None,
    redelivery: bool,
) -> dict[str, Any]:
    stamp = now_ms() if timestamp_ms is None else timestamp_ms
    event: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": stamp,
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": webhook_event_id or new_webhook_event_id(stamp),
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if reply_token is not None:
        event["replyToken"] = reply_token
    return event


def build_text_event(
    text: str,
    *,
    user_id: str = DEMO_USER_ID,
    reply_token: str | None = None,
    message_id: str | None = None,
    webhook_event_id: str | None = None,
    timestamp_ms: int | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A resident's text message event (a fresh reply token unless one is given)."""
    event = _event(
        "message",
        user_id=user_id,
        reply_token=reply_token or new_reply_token(),
        webhook_event_id=webhook_event_id,
        timestamp_ms=timestamp_ms,
        redelivery=redelivery,
    )
    event["message"] = {
        "id": message_id or new_message_id(),
        "type": "text",
        "quoteToken": new_quote_token(),
        "text": text,
    }
    return event


def build_sticker_event(
    *,
    user_id: str = DEMO_USER_ID,
    package_id: str = "446",
    sticker_id: str = "1988",
    reply_token: str | None = None,
    message_id: str | None = None,
    webhook_event_id: str | None = None,
    timestamp_ms: int | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A sticker message event (no text: the bot should answer kindly, not classify)."""
    event = _event(
        "message",
        user_id=user_id,
        reply_token=reply_token or new_reply_token(),
        webhook_event_id=webhook_event_id,
        timestamp_ms=timestamp_ms,
        redelivery=redelivery,
    )
    event["message"] = {
        "id": message_id or new_message_id(),
        "type": "sticker",
        "quoteToken": new_quote_token(),
        "packageId": package_id,
        "stickerId": sticker_id,
        "stickerResourceType": "STATIC",
        "keywords": ["Happy", "Hello"],
    }
    return event


def build_image_event(
    *,
    user_id: str = DEMO_USER_ID,
    reply_token: str | None = None,
    message_id: str | None = None,
    webhook_event_id: str | None = None,
    timestamp_ms: int | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """An image message event (content stays at LINE, fetched by id if ever needed)."""
    event = _event(
        "message",
        user_id=user_id,
        reply_token=reply_token or new_reply_token(),
        webhook_event_id=webhook_event_id,
        timestamp_ms=timestamp_ms,
        redelivery=redelivery,
    )
    event["message"] = {
        "id": message_id or new_message_id(),
        "type": "image",
        "quoteToken": new_quote_token(),
        "contentProvider": {"type": "line"},
    }
    return event


def build_follow_event(
    *,
    user_id: str = DEMO_USER_ID,
    reply_token: str | None = None,
    unblocked: bool = False,
    webhook_event_id: str | None = None,
    timestamp_ms: int | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A follow (friend added, or unblocked) event: time for the consent notice."""
    event = _event(
        "follow",
        user_id=user_id,
        reply_token=reply_token or new_reply_token(),
        webhook_event_id=webhook_event_id,
        timestamp_ms=timestamp_ms,
        redelivery=redelivery,
    )
    event["follow"] = {"isUnblocked": unblocked}
    return event


def build_unfollow_event(
    *,
    user_id: str = DEMO_USER_ID,
    webhook_event_id: str | None = None,
    timestamp_ms: int | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """An unfollow (blocked) event: no reply token; all pushes to this user must stop."""
    return _event(
        "unfollow",
        user_id=user_id,
        reply_token=None,
        webhook_event_id=webhook_event_id,
        timestamp_ms=timestamp_ms,
        redelivery=redelivery,
    )


def build_unsend_event(
    message_id: str,
    *,
    user_id: str = DEMO_USER_ID,
    webhook_event_id: str | None = None,
    timestamp_ms: int | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """An unsend event: the resident withdrew ``message_id``; no reply token."""
    event = _event(
        "unsend",
        user_id=user_id,
        reply_token=None,
        webhook_event_id=webhook_event_id,
        timestamp_ms=timestamp_ms,
        redelivery=redelivery,
    )
    event["unsend"] = {"messageId": message_id}
    return event


def as_redelivery(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as LINE redelivers it: same ``webhookEventId``, ``isRedelivery`` true."""
    again = copy.deepcopy(event)
    again["deliveryContext"] = {"isRedelivery": True}
    return again


def build_payload(events: Iterable[dict[str, Any]], destination: str = DESTINATION) -> bytes:
    """The raw webhook body (compact UTF-8 JSON, as LINE sends). Sign exactly these bytes."""
    payload = {"destination": destination, "events": list(events)}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(body: bytes, secret: str) -> str:
    """``X-Line-Signature`` for ``body``: base64(HMAC-SHA256(channel secret, raw body))."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def webhook_headers(body: bytes, secret: str) -> dict[str, str]:
    """The headers LINE sends with a webhook, including a valid signature."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": WEBHOOK_USER_AGENT,
        "X-Line-Signature": sign(body, secret),
    }


@dataclass(frozen=True)
class SimulatedPost:
    """One webhook POST made by :func:`simulate` and what the app answered."""

    attempt: int
    webhook_event_ids: tuple[str, ...]
    redelivery: bool
    status: int
    response_text: str


def build_events(
    kind: str,
    *,
    user_id: str = DEMO_USER_ID,
    text: str = "",
    message_id: str | None = None,
) -> list[dict[str, Any]]:
    """The events of one webhook of ``kind`` (``message`` is text; ``verify`` has none)."""
    if kind == "verify":
        return []
    if kind == "message":
        if not text:
            raise ValueError("a text message event needs some text")
        return [build_text_event(text, user_id=user_id)]
    if kind == "sticker":
        return [build_sticker_event(user_id=user_id)]
    if kind == "image":
        return [build_image_event(user_id=user_id)]
    if kind == "follow":
        return [build_follow_event(user_id=user_id)]
    if kind == "unfollow":
        return [build_unfollow_event(user_id=user_id)]
    if kind == "unsend":
        if not message_id:
            raise ValueError("an unsend event needs the id of the withdrawn message")
        return [build_unsend_event(message_id, user_id=user_id)]
    raise ValueError(f"unknown event kind {kind!r}; choose from {', '.join(EVENT_KINDS)}")


def register_reply_tokens(
    standin_url: str, events: Sequence[dict[str, Any]], *, expires_in: float = 60.0
) -> int:
    """Tells a running stand-in about the events' reply tokens; returns how many."""
    tokens = [
        {"token": e["replyToken"], "user_id": e["source"]["userId"], "expires_in": expires_in}
        for e in events
        if "replyToken" in e
    ]
    if tokens:
        response = httpx.post(
            f"{standin_url.rstrip('/')}/__standin/reply-tokens",
            json={"tokens": tokens},
            timeout=5.0,
        )
        response.raise_for_status()
    return len(tokens)


def simulate(
    url: str,
    secret: str,
    events: Sequence[dict[str, Any]],
    *,
    repeat: int = 1,
    redeliver: bool = False,
    destination: str = DESTINATION,
    timeout: float = 10.0,
) -> list[SimulatedPost]:
    """POSTs one webhook carrying ``events`` ``repeat`` times, signed with ``secret``.

    Without ``redeliver`` every POST is byte-for-byte the same (a replay). With it, the first
    POST is the original and later ones are LINE-style redeliveries of the same
    ``webhookEventId``; with ``repeat=1`` the single POST is marked as a redelivery.
    ``events=[]`` is the LINE console's "Verify" request.
    """
    posts: list[SimulatedPost] = []
    with httpx.Client(timeout=timeout) as client:
        for attempt in range(1, repeat + 1):
            is_redelivery = redeliver and (repeat == 1 or attempt > 1)
            sent = [as_redelivery(e) if is_redelivery else e for e in events]
            body = build_payload(sent, destination)
            response = client.post(url, content=body, headers=webhook_headers(body, secret))
            posts.append(
                SimulatedPost(
                    attempt=attempt,
                    webhook_event_ids=tuple(e["webhookEventId"] for e in sent),
                    redelivery=is_redelivery,
                    status=response.status_code,
                    response_text=response.text,
                )
            )
    return posts
