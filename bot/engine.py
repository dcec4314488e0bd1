"""The conversation engine: one resident message in, the bot's replies out.

Per message: NLU (bounded by a timeout, so a dead Rasa never silences the bot) → safety
assessment (lexicon can only raise urgency) → escalation policy → replies, queue, and the
encrypted transcript. Safety replies never depend on NLU being up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.answering import Answerer
from bot.data_requests import DataRequest, DataRequests
from bot.flows.context import rest_to_assess
from bot.flows.controls import FlowControls, default_controls
from bot.flows.guide_flow import FlowLimits
from bot.language import detect_language
from bot.menus import Menus, default_menus
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
from core.events import QUEUE_TOPIC, EventBus, conversation_topic
from core.logging import log_event
from handoff.errors import HandoffConfigError
from handoff.models import Case
from handoff.notice_texts import NoticeTexts
from handoff.pools import HandoffConfig, load_config
from handoff.queue import PoolRouter, open_or_raise, wait_estimate
from knowledge.types import KnowledgeSource
from nlu.client import NluClient
from nlu.errors import NluUnavailable
from privacy.erasure import erase_conversation
from storage.after_commit import defer_notice, publish_deferred
from storage.conversations import get_or_open
from storage.crypto import user_key
from storage.db import Database, utcnow
from storage.models import Conversation
from storage.transcript import MessageMeta, Transcript, stored_messages

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
    # FAQ answers and step-by-step guides; None keeps the intent templates only.
    knowledge: KnowledgeSource | None = None
    flow_limits: FlowLimits = field(default_factory=FlowLimits)
    flow_controls: FlowControls = field(default_factory=default_controls)
    # Fixed answers to the rich-menu texts and their quick replies; None answers them as
    # free text.
    menus: Menus | None = field(default_factory=default_menus)
    # Cross-worker notices of turns that commit on their own; a caller passing its session
    # publishes the deferred notices after its commit (storage/after_commit.py).
    events: EventBus | None = None
    # Pools, hours and the queue estimate, for the resident's place in the queue; and the
    # clock those are read at (tests pin it to check out-of-hours messages).
    handoff_config: HandoffConfig = field(default_factory=load_config)
    notice_texts: NoticeTexts = field(default_factory=NoticeTexts.load)
    clock: Callable[[], datetime] = utcnow


class Engine:
    """Handles one message at a time per conversation; safe to share across tasks."""

    def __init__(self, deps: EngineDeps) -> None:
        """Keeps the collaborators; no I/O happens here."""
        self._d = deps
        self._data_requests = DataRequests.load()
        self._answers = Answerer(
            deps.responses,
            deps.knowledge,
            deps.flow_controls,
            deps.flow_limits,
            menus=deps.menus,
        )

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

    def external_ref(self, channel: str, external_id: str | None) -> str | None:
        """Keyed pseudonym of a channel's message id (so ``unsend`` can find the message)."""
        return user_key(self._d.pepper, f"{channel}-msg", external_id) if external_id else None

    async def handle(
        self, message: IncomingMessage, *, session: AsyncSession | None = None
    ) -> TurnResult:
        """Processes one resident message end to end and returns what to send back.

        With ``session`` the turn joins the caller's transaction (the inbox worker commits
        the turn, its outbox messages and the event's completion together) and must publish
        its cross-worker notices after committing (``publish_deferred``); without it the
        turn commits on its own and publishes them itself.
        """
        started = time.perf_counter()
        if not message.text.strip():
            raise ValueError("empty message text")
        # Classified before any transaction opens: NLU may take up to its timeout.
        nlu = await self.classify(message.text)
        assessment = self.assess(message.text, nlu)
        rest_escalates = await self._rest_escalates(message.text, assessment)
        language = detect_language(message.text, message.language_hint)
        facts = self._facts_ahead(message.text, language, assessment)
        if session is not None:
            return await self._noticed(
                session,
                self._turn(session, message, assessment, language, started, rest_escalates, facts),
            )
        async with self._d.database.session() as own:
            result = await self._noticed(
                own, self._turn(own, message, assessment, language, started, rest_escalates, facts)
            )
        await publish_deferred(self._d.events, own)
        return result

    async def _noticed(self, session: AsyncSession, turn: Awaitable[TurnResult]) -> TurnResult:
        """Runs ``turn`` and defers its ``message`` notice, naming every outgoing message.

        Widget sockets, consoles watching the case and other workers look again on it; the
        socket that ran the turn sees its own replies named and reads nothing.
        """
        with stored_messages(session) as stored:
            result = await turn
        out = tuple(m.id for m in stored if m.direction == "out")
        defer_notice(
            session,
            conversation_topic(result.conversation_id),
            {"kind": "message", "out": list(out)},
        )
        return replace(result, stored_out=out)

    def _facts_ahead(
        self, text: str, language: str, assessment: Assessment
    ) -> tuple[Assessment, Reply | None] | None:
        """The reviewed facts to follow a safety message, searched before the turn's locks.

        Searching the knowledge base is the turn's heaviest CPU work; done inside the
        transaction it kept the new case uncommitted, so unseen by every counselor, for that
        long (bench handoff). Only for a message that escalates; the turn checks that its
        assessment is still this one before using the result.
        """
        if not assessment.escalate:
            return None
        return assessment, self._answers.supporting_faq(text, language, assessment)

    async def _rest_escalates(self, text: str, assessment: Assessment) -> bool | None:
        """The safety verdict on a message without the button word at its start or end.

        Only asked when the classifier alone escalated a message such as 「できた、音が出た」
        (see :func:`bot.flows.context.rest_to_assess`); whether a guide is in progress is
        decided later, in the turn. An unavailable NLU counts as escalating: no verdict, no
        withdrawal. Classified here, before any transaction opens, like the message itself.
        """
        if not assessment.escalate or any(r.startswith("lexicon:") for r in assessment.reasons):
            return None
        rest = rest_to_assess(text, self._d.flow_controls)
        if rest is None:
            return None
        if not rest:
            return False  # only interjections beside the button word (「今のとこもう一回」)
        nlu = await self.classify(rest)
        return not nlu.available or self.assess(rest, nlu).escalate

    async def _turn(
        self,
        session: AsyncSession,
        message: IncomingMessage,
        assessment: Assessment,
        language: str,
        started: float,
        rest_escalates: bool | None = None,
        facts_ahead: tuple[Assessment, Reply | None] | None = None,
    ) -> TurnResult:
        resident_key = user_key(self._d.pepper, message.channel, message.user_ref)
        conversation = await get_or_open(
            session, channel=message.channel, user_key=resident_key, language=language
        )
        # "Delete my data" (never when the crisis lexicon fires, never mid-takeover).
        # The classifier alone may not block it: it hears 「消して」 close to 「消えたい」, and the
        # request patterns only match a whole message that names a record to delete.
        crisis_words = any(r.startswith("lexicon:") for r in assessment.reasons)
        request = None if crisis_words else self._data_requests.match(message.text)
        if request is not None and conversation.owner == "bot":
            return await self._data_request(
                session, conversation, message, request, assessment, language
            )
        # A bare button word in a guide (「できた」) means the button, unless the lexicon fired.
        assessment = self._answers.in_context(
            assessment, message.text, conversation.flow_state, rest_escalates=rest_escalates
        )
        before = state_of(conversation)
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
            external_ref=self.external_ref(message.channel, message.external_id),
        )
        _apply_state(conversation, next_state(before, assessment), assessment, language)
        # Guides and knowledge-base answers; safety decisions pass through untouched.
        answer = self._answers.respond(
            decision, assessment, message.text, language, conversation.flow_state, utcnow()
        )
        decision, conversation.flow_state = answer.decision, answer.flow_state
        case_id: str | None = None
        status: Reply | None = None
        if decision.enqueue or (before.owner == "bot" and before.sensitive):
            routed = self._d.router.pool_for([c.value for c in decision.categories])
            enqueued = await open_or_raise(
                session=session,
                conversation_id=conversation.id,
                urgency=int(decision.urgency),
                pool=answer.pool or routed,
                reasons=assessment.reasons,
            )
            case = enqueued.case
            case_id = case.id
            if enqueued.opened or enqueued.raised:
                status = await self._queue_status(session, case, decision, language)
                # For the console's live queue (and the alerter), published only once the
                # turn has committed. Only when the queue changed: a waiting resident's
                # further messages change no queue row, and each notice makes every console
                # in every worker read the queue again (bench handoff).
                defer_notice(
                    session,
                    QUEUE_TOPIC,
                    {
                        "case_id": case.id,
                        "pool": case.pool,
                        "urgency": case.urgency,
                        "status": case.status,
                    },
                )
        replies = (
            list(answer.replies)
            if answer.replies is not None
            else self._render(decision, assessment, language)
        )
        if decision.action in (Action.SAFETY, Action.HANDOFF):
            # The safety message (or the handoff notice) first, then reviewed facts if the
            # question has a confident answer: never an FAQ alone, never facts withheld.
            if facts_ahead is not None and facts_ahead[0] is assessment:
                facts = facts_ahead[1]
            else:
                facts = self._answers.supporting_faq(message.text, language, assessment)
            if facts is not None:
                replies.append(facts)
        if status is not None:
            # After the safety message, never before it: place in the queue, or (out of
            # hours) when counselors are back and the 24-hour lines.
            replies.append(status)
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

    async def _queue_status(
        self, session: AsyncSession, case: Case, decision: Decision, language: str
    ) -> Reply | None:
        """The resident's place in the queue and wait, remembered on the case.

        Stored as ``notified_*`` in this transaction (the case row is locked by the enqueue),
        so the sweep (handoff/resident_notices.py) only sends what changes afterwards. A
        configuration problem costs this message, never the safety reply.
        """
        now = self._d.clock().astimezone(UTC)  # stored: SQLite keeps only the wall time
        try:
            estimate = await wait_estimate(session, self._d.handoff_config, case.id, at=now)
        except HandoffConfigError:
            log_event(logger, "queue_status.skipped", case_id=case.id, pool=case.pool)
            return None
        if estimate is None:  # already with a counselor
            return None
        hotlines = self._d.responses.always_open_block(language, decision.categories)
        case.notified_position = estimate.position
        case.notified_wait_minutes = estimate.queue_minutes
        case.notified_at = now
        return Reply(text=self._d.notice_texts.status(language, estimate, now, hotlines))

    async def _data_request(
        self,
        session: AsyncSession,
        conversation: Conversation,
        message: IncomingMessage,
        request: DataRequest,
        assessment: Assessment,
        language: str,
    ) -> TurnResult:
        """Asks before deleting; on the confirmation, shreds and answers in a new conversation."""
        responses, transcript = self._d.responses, self._d.transcript
        if request is DataRequest.CONFIRM:
            await erase_conversation(
                session,
                conversation.id,
                actor="resident",
                role="resident",
                reason="resident.request",
                transcript=transcript,
            )
            # The shredded conversation can hold nothing more; the answer opens a new one.
            conversation = await get_or_open(
                session,
                channel=conversation.channel,
                user_key=conversation.user_key,
                language=language,
            )
            reply = Reply(text=responses.text(language, "erase_done"))
        else:
            await transcript.append(
                session, conversation, direction="in", sender="resident", body=message.text
            )
            if request is DataRequest.ASK:
                reply = Reply(
                    text=responses.text(language, "erase_question"),
                    quick_replies=(
                        responses.text(language, "erase_confirm_label"),
                        responses.text(language, "erase_cancel_label"),
                    ),
                )
            else:
                reply = Reply(text=responses.text(language, "erase_cancelled"))
        await transcript.append(
            session, conversation, direction="out", sender="bot", body=reply.text
        )
        log_event(
            logger,
            "data_request",
            conversation_id=conversation.id,
            channel=message.channel,
            action=request.value,
        )
        return TurnResult(
            conversation_id=conversation.id,
            replies=(reply,),
            assessment=assessment,
            owner=conversation.owner,
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


def state_of(conversation: Conversation) -> ConversationState:
    """The policy's view of a conversation row."""
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
