"""Calls to LINE's Messaging API through line-bot-sdk v3 (async), with outcomes as values.

The sender decides about retries and fallbacks; this module only says what LINE answered,
so every branch (token expired, rate limited, already accepted) is testable against the
local stand-in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)


class Result(enum.Enum):
    """What a send attempt achieved."""

    SENT = "sent"
    DUPLICATE = "duplicate"  # LINE already accepted this retry key: delivered earlier
    INVALID_TOKEN = "invalid_token"  # reply token used or expired
    RETRY = "retry"  # 429, 5xx or network trouble: try again later
    REJECTED = "rejected"  # any other 4xx: retrying will not help


@dataclass(frozen=True)
class Outcome:
    """A send result with LINE's HTTP status and requested wait, if any."""

    result: Result
    status: int | None = None
    retry_after: float | None = None


def _retry_after(exc: ApiException) -> float | None:
    headers = exc.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _classify(exc: ApiException) -> Outcome:
    status = int(exc.status or 0)
    if status == 409:
        return Outcome(Result.DUPLICATE, status)
    if status == 429 or status >= 500 or status == 0:
        return Outcome(Result.RETRY, status, _retry_after(exc))
    if status == 400 and "reply token" in str(exc.body or "").lower():
        return Outcome(Result.INVALID_TOKEN, status)
    return Outcome(Result.REJECTED, status)


class LineApi:
    """One async API client per process (connection pooling)."""

    def __init__(self, *, access_token: str, base_url: str) -> None:
        """Configures the SDK for ``base_url`` (LINE, or the local stand-in)."""
        self._client = AsyncApiClient(Configuration(access_token=access_token, host=base_url))
        self._api = AsyncMessagingApi(self._client)

    async def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> Outcome:
        """Sends with a reply token (free, single use, valid about a minute)."""
        request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        try:
            response = await self._api.reply_message_with_http_info(request)
        except ApiException as exc:
            return _classify(exc)
        except (OSError, TimeoutError):
            return Outcome(Result.RETRY)
        return Outcome(Result.SENT, response.status_code)

    async def push(self, to: str, messages: list[dict[str, Any]], retry_key: str) -> Outcome:
        """Pushes with an ``X-Line-Retry-Key`` so a repeated attempt is never shown twice."""
        request = PushMessageRequest.from_dict({"to": to, "messages": messages})
        try:
            response = await self._api.push_message_with_http_info(
                request, x_line_retry_key=retry_key
            )
        except ApiException as exc:
            return _classify(exc)
        except (OSError, TimeoutError):
            return Outcome(Result.RETRY)
        return Outcome(Result.SENT, response.status_code)

    async def show_loading(self, user_id: str, seconds: int = 20) -> bool:
        """Shows the typing indicator while the bot thinks; failures are harmless."""
        try:
            await self._api.show_loading_animation(
                ShowLoadingAnimationRequest(chatId=user_id, loadingSeconds=seconds)
            )
        except (ApiException, OSError, TimeoutError):
            return False
        return True

    async def aclose(self) -> None:
        """Closes the HTTP session."""
        await self._client.close()
