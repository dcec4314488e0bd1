"""The conversation engine: one resident message in, the bot's replies out.

Per message: NLU (bounded by a timeout, so a dead Rasa never silences the bot) → safety
assessment (lexicon can only raise urgency) → escalation policy → replies, queue, and the
encrypted transcript. Safety replies never depend on NLU being up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from bot.language import detect_language
from bot.policy import Action, ConversationState, Decision, decide, next_state
from bot.responses import Responses
from bot.safety.assessment import SafetyAssessor
from bot.types import (
    Assessment,
    IncomingMessage,
    NluResult,
    Reply,
    SafetyCategory,
    TurnResult,
    Urgency,
)
from core.logging import log_event
from handoff.queue import PoolRouter, enqueue
from nlu.client import NluClient
from nlu.errors import NluUnavailable
from storage.conversations import get_or_open
from storage.crypto import user_key
from storage.db import Database
from storage.models import Conversation
from storage.transcript import MessageMeta, Transcript

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineDeps:
    """Everything the engine needs, built once per process (see ``app.main``)."""

    database: Database
    transcript: Transcript
    nlu: NluClient
    assessor: SafetyAssessor
    responses: Responses
    router: PoolRouter
    pepper: bytes
    nlu_timeout_seconds: float = 2.0


class Engine:
    """Handles one message at a time per conversation; safe to share across tasks."""

    def __init__(self, deps: EngineDeps) -> None:
        """Keeps the collaborators; no I/O happens here."""
        self._d = deps

    async def classify(self, text: str) -> NluResult:
        """Asks the NLU service, giving up after the timeout; never raises."""
        try:
            return await asyncio.wait_for(
                self._d.nlu.parse(text), timeout=self._d.nlu_timeout_seconds
            )
        except (NluUnavailable, TimeoutError):
            return NluResult.unavailable()

    def assess(self, text: str, nlu: NluResult) -> Assessment:
        """The per-message safety verdict (exposed for evaluation)."""
        return self._d.assessor.assess(text, nlu)

    async def handle(self, message: IncomingMessage) -> TurnResult:
        """Processes one resident message end to end and returns what to send back."""
        started = time.perf_counter()
        if not message.text.strip():
            raise ValueError("empty message text")
        nlu = await self.classify(message.text)
        assessment = self.assess(message.text, nlu)
        language = detect_language(message.text, message.language_hint)
        resident_key = user_key(self._d.pepper, message.channel, message.user_ref)

        async with self._d.database.session() as session:
            conversation = await get_or_open(
                session, channel=message.channel, user_key=resident_key, language=language
            )
            before = _state_of(conversation)
            decision = decide(before, assessment)
            await self._d.transcript.append(
                session,
                conversation,
                direction="in",
                sender="resident",
                body=message.text,
                meta=MessageMeta(
                    intent=assessment.intent,
                    confidence=assessment.confidence,
                    urgency=int(assessment.urgency),
                    escalate=assessment.escalate,
                    reasons=assessment.reasons,
                ),
            )
            _apply_state(conversation, next_state(before, assessment), assessment, language)
            case_id: str | None = None
            if decision.enqueue or (before.owner == "bot" and before.sensitive):
                case = await enqueue(
                    session=session,
                    conversation_id=conversation.id,
                    urgency=int(decision.urgency),
                    pool=self._d.router.pool_for([c.value for c in decision.categories]),
                    reasons=assessment.reasons,
                )
                case_id = case.id
            replies = self._render(decision, assessment, language)
            for reply in replies:
                await self._d.transcript.append(
                    session, conversation, direction="out", sender="bot", body=reply.text
                )
            conversation_id, owner = conversation.id, conversation.owner

        log_event(
            logger,
            "turn",
            conversation_id=conversation_id,
            channel=message.channel,
            intent=assessment.intent,
            confidence=round(assessment.confidence, 3),
            urgency=assessment.urgency.label,
            escalate=assessment.escalate,
            reasons=list(assessment.reasons),
            action=decision.action.value,
            case_id=case_id,
            nlu_available=assessment.nlu_available,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return TurnResult(
            conversation_id=conversation_id,
            replies=tuple(replies),
            assessment=assessment,
            case_id=case_id,
            owner=owner,
            language=language,
        )

    def _render(self, decision: Decision, assessment: Assessment, language: str) -> list[Reply]:
        responses = self._d.responses
        if decision.action is Action.SILENT:
            return []
        if decision.action is Action.SAFETY:
            return [responses.safety_message(language, decision.categories, decision.urgency)]
        if decision.action is Action.SENSITIVE_FOLLOWUP:
            text = responses.text(language, "sensitive_followup")
            block = responses.hotline_block(language, decision.categories, decision.urgency)
            return [Reply(text=f"{text}\n\n{block}")]
        key = decision.response_key or "out_of_scope"
        if decision.action is Action.HANDOFF:
            return [Reply(text=responses.text(language, key))]
        return [
            Reply(
                text=responses.text(language, key), quick_replies=responses.quick_replies(language)
            )
        ]


def _state_of(conversation: Conversation) -> ConversationState:
    return ConversationState(
        owner=conversation.owner,
        sensitive=conversation.sensitive,
        categories=tuple(SafetyCategory(c) for c in conversation.categories.split(",") if c),
        max_urgency=Urgency(conversation.max_urgency),
    )


def _apply_state(
    conversation: Conversation, state: ConversationState, assessment: Assessment, language: str
) -> None:
    conversation.sensitive = state.sensitive
    conversation.categories = ",".join(c.value for c in state.categories)
    conversation.max_urgency = int(state.max_urgency)
    conversation.last_intent = assessment.intent
    conversation.language = language
