"""``POST /webhooks/line``: verify, store, acknowledge. Nothing else happens on this path.

The signature is checked on the raw bytes before parsing (line-bot-sdk's validator, constant
time); a bad or missing signature stores nothing. Accepted events are committed to the
inbox — duplicates by ``webhookEventId`` are dropped there — and only then is 200 returned.
Processing happens in the inbox worker.

The path is kept cheap because LINE's acknowledgement budget is tight (p99 ≤ 20 ms, issue 4):
the runtime is read from the app state (a ``Depends`` on a plain function costs a thread
hop), and the events go in with one autocommit ``INSERT`` — a single round trip — unless a
crisis message has to release held events, which needs a transaction.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from linebot.v3.webhook import SignatureValidator
from sqlalchemy.exc import DBAPIError

from app.deps import get_runtime
from app.security.rate_limit import rate_limiter
from app.wiring import Runtime
from core.metrics import ACK_SECONDS, INBOX_STORED, WEBHOOK_REJECTED
from nlu.types import NluResult
from storage import inbox
from storage.crypto import user_key
from storage.db import utcnow

router = APIRouter(tags=["LINE"])
CHANNEL = "line"


def _reject(reason: str, status: int = 400) -> HTTPException:
    WEBHOOK_REJECTED.labels(CHANNEL, reason).inc()
    return HTTPException(status_code=status, detail=reason)


def parse_events(body: bytes, pepper: bytes) -> list[inbox.NewEvent]:
    """Reads LINE's payload into inbox events; raises ValueError on a malformed body."""
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise ValueError("body must be an object with an 'events' list")
    events: list[inbox.NewEvent] = []
    for raw in data["events"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise ValueError("each event must be an object with a 'type'")
        source: dict[str, Any] = raw.get("source") or {}
        who = source.get("userId") or source.get("groupId") or source.get("roomId") or "-"
        event_id = raw.get("webhookEventId")
        if not isinstance(event_id, str) or not event_id:
            # LINE always sends one; a stable digest keeps replays of odd bodies idempotent.
            event_id = (
                "sha256:"
                + hashlib.sha256(
                    json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()
                ).hexdigest()[:64]
            )
        message = raw.get("message") if isinstance(raw.get("message"), dict) else None
        kind = raw["type"] + (f".{message.get('type')}" if message else "")
        events.append(
            inbox.NewEvent(
                event_id=event_id[:80],
                user_key=user_key(pepper, CHANNEL, str(who)),
                kind=kind[:24],
                payload=raw,
                redelivery=bool((raw.get("deliveryContext") or {}).get("isRedelivery")),
            )
        )
    return events


async def _hold_back_floods(
    request: Request, runtime: Runtime, events: list[inbox.NewEvent]
) -> tuple[list[inbox.NewEvent], set[str]]:
    """Applies the per-resident limit by delaying, never by dropping: LINE does not resend.

    A message that reads as a crisis is never held back, and releases the resident's held
    messages too (one resident's events run in order, so it would wait behind them).
    Returns the events and the residents to release.
    """
    limiter = rate_limiter(request)
    out: list[inbox.NewEvent] = []
    release: set[str] = set()
    for event in events:
        decision = await limiter.hit_user(CHANNEL, event.user_key)
        if _is_crisis(runtime, event.payload):
            release.add(event.user_key)
        elif not decision.allowed:
            delay = timedelta(seconds=max(decision.retry_after, 1))
            event = replace(event, not_before=utcnow() + delay)
            WEBHOOK_REJECTED.labels(CHANNEL, "user_rate_held").inc()
        out.append(event)
    return [replace(e, not_before=None) if e.user_key in release else e for e in out], release


def _is_crisis(runtime: Runtime, payload: dict[str, Any]) -> bool:
    message = payload.get("message") or {}
    text = message.get("text") if isinstance(message, dict) else None
    if not isinstance(text, str) or not text.strip():
        return False
    return bool(runtime.engine.assess(text, NluResult.unavailable()).categories)


@router.post("/webhooks/line", summary="LINE Messaging API webhook")
async def line_webhook(request: Request) -> dict[str, str]:
    """Verifies the signature, commits the events to the inbox, then answers 200."""
    started = time.perf_counter()
    runtime = get_runtime(request)
    secret = runtime.settings.line_channel_secret
    if secret is None:
        raise _reject("line_not_configured", 503)
    body = await request.body()
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        raise _reject("missing_signature")
    if not SignatureValidator(secret.get_secret_value()).validate(
        body.decode("utf-8", "replace"), signature
    ):
        raise _reject("bad_signature")
    try:
        events = parse_events(body, runtime.pepper)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _reject("malformed_body") from exc
    if events:
        events, release = await _hold_back_floods(request, runtime, events)
        result = await _commit(runtime, events, release)
        INBOX_STORED.labels(CHANNEL, "stored").inc(result.stored)
        INBOX_STORED.labels(CHANNEL, "duplicate").inc(result.duplicates)
        if result.stored:
            runtime.wake_workers()
    ACK_SECONDS.labels(CHANNEL).observe(time.perf_counter() - started)
    return {"status": "ok"}


async def _commit(
    runtime: Runtime, events: list[inbox.NewEvent], release: set[str]
) -> inbox.StoreResult:
    """Stores the events durably; returns once they are committed.

    A busy pooled connection is not pinged (storage/db.py), so right after a database
    restart the first statement may fail on a dead one; the pool is then renewed and the
    store retried once: the insert is idempotent by event id, and LINE may not resend.
    """
    try:
        return await _store(runtime, events, release)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return await _store(runtime, events, release)


async def _store(
    runtime: Runtime, events: list[inbox.NewEvent], release: set[str]
) -> inbox.StoreResult:
    database = runtime.database
    if not release:
        # One statement is its own transaction: committed when it returns.
        async with database.autocommit() as connection:
            return await inbox.store(connection, runtime.keyring, CHANNEL, events)
    # A crisis: its events and the release of the resident's held ones commit together.
    async with database.transaction() as connection:
        result = await inbox.store(connection, runtime.keyring, CHANNEL, events)
        for user in release:
            await inbox.release_held(connection, CHANNEL, user)
    return result
