"""Delivery rules for one leased LINE outbox message: reply while valid, else push once.

Pure decisions around :class:`channels.line.api.LineApi` calls, so each rule is visible:
- a bot message to a conversation a counselor now owns is suppressed (never sent);
- nothing is pushed to a resident who unfollowed;
- the reply token is used while it is valid; an invalid token on a *retry* means our earlier
  attempt used it (tokens are single-use and only we hold it), so the message was delivered;
- otherwise push with the message id as ``X-Line-Retry-Key``; LINE's 409 for a known key
  means an earlier attempt was accepted;
- 429/5xx are retried later with exponential backoff (honouring ``Retry-After``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from channels.line.api import LineApi, Outcome, Result
from storage.outbox import Outgoing

MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300.0


@dataclass(frozen=True)
class Verdict:
    """The outbox row's next status and, for a retry, when."""

    status: str  # sent | suppressed | dropped | failed | pending
    via: str | None = None
    http_status: int | None = None
    retry_in: float | None = None


def backoff(attempts: int, retry_after: float | None) -> float:
    """Full-jitter exponential backoff, never sooner than LINE's ``Retry-After``."""
    ceiling = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** max(attempts - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def _after(outcome: Outcome, via: str, attempts: int) -> Verdict:
    if outcome.result in (Result.SENT, Result.DUPLICATE):
        return Verdict("sent", via, outcome.status)
    if outcome.result is Result.RETRY and attempts < MAX_ATTEMPTS:
        return Verdict("pending", via, outcome.status, backoff(attempts, outcome.retry_after))
    return Verdict("failed", via, outcome.status)


async def deliver(
    api: LineApi, item: Outgoing, *, owner: str, reachable: bool, now: datetime
) -> Verdict:
    """Sends one outbox message; ``owner``/``reachable`` are read under the conversation lock."""
    if item.sender == "bot" and owner != "bot":
        return Verdict("suppressed")
    if not reachable:
        return Verdict("dropped")
    token_valid = (
        item.reply_token is not None
        and item.reply_token_expires_at is not None
        and now < item.reply_token_expires_at
    )
    if token_valid and item.reply_token is not None:
        outcome = await api.reply(item.reply_token, item.payload)
        if outcome.result is Result.INVALID_TOKEN and item.attempts > 1:
            return Verdict("sent", "reply", outcome.status)
        if outcome.result is not Result.INVALID_TOKEN:
            return _after(outcome, "reply", item.attempts)
    if item.address is None:
        return Verdict("failed")
    outcome = await api.push(item.address, item.payload, retry_key=item.message_id)
    return _after(outcome, "push", item.attempts)
