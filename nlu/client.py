"""The app's client for Rasa's HTTP API (``POST /model/parse``).

Rasa runs as its own service (Python 3.10 venv); the app only talks HTTP to it. A slow or
dead NLU must never silence the bot: callers get :class:`NluUnavailable` within the timeout
and the safety layer decides alone.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import httpx

from nlu.errors import NluUnavailable
from nlu.types import INTENTS, IntentScore, NluResult

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"


class NluClient(Protocol):
    """Anything that can classify a message: the Rasa client, or a fake in unit tests."""

    async def parse(self, text: str) -> NluResult:
        """Classifies ``text``; raises NluUnavailable when it cannot answer."""
        ...


def result_from_rasa(payload: dict[str, Any]) -> NluResult:
    """Turns Rasa's parse JSON into an NluResult, mapping ``nlu_fallback`` to the best real intent.

    The FallbackClassifier puts ``nlu_fallback`` on top when confidence is low; the
    ranking below it still holds the classifier's real opinion, which the escalation
    policy needs (a weak ``suicide_risk`` is still a signal).
    """
    ranking = tuple(
        IntentScore(str(item["name"]), float(item.get("confidence") or 0.0))
        for item in payload.get("intent_ranking") or []
        if item.get("name") in INTENTS
    )
    top = payload.get("intent") or {}
    name = str(top.get("name") or "")
    confidence = float(top.get("confidence") or 0.0)
    if name == FALLBACK_INTENT or name not in INTENTS:
        # Low confidence: treat as out of scope, but keep the ranking for the safety policy.
        return NluResult(intent="out_of_scope", confidence=confidence, ranking=ranking)
    return NluResult(intent=name, confidence=confidence, ranking=ranking)


class RasaClient:
    """Async HTTP client for a Rasa server started with ``--enable-api``."""

    def __init__(self, base_url: str, *, timeout_seconds: float = 2.0) -> None:
        """Keeps one pooled connection to the service."""
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout_seconds)
        )

    async def parse(self, text: str) -> NluResult:
        """Classifies one message within the timeout, or raises NluUnavailable."""
        try:
            response = await self._client.post("/model/parse", json={"text": text})
            response.raise_for_status()
            return result_from_rasa(response.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # Only the exception type goes to the log: the request carried resident text.
            logger.warning("nlu parse failed: %s", type(exc).__name__)
            raise NluUnavailable(type(exc).__name__) from exc

    async def ready(self) -> bool:
        """True when the server answers and has a model loaded."""
        try:
            response = await self._client.get("/status")
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and bool(response.json().get("model_file"))

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._client.aclose()
