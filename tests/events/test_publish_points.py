"""Turns publish their notices only after their transaction commits (never before)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from bot.engine import Engine, EngineDeps
from bot.responses import Responses
from bot.safety.assessment import SafetyAssessor
from bot.safety.lexicon import CrisisLexicon
from bot.types import IncomingMessage
from channels.workers import InboxWorker
from core.events import QUEUE_TOPIC, Notice, conversation_topic
from handoff.models import Case
from handoff.queue import PoolRouter
from storage import inbox
from storage.after_commit import defer_notice
from storage.crypto import Keyring
from storage.db import Database
from storage.models import Message
from storage.transcript import Transcript
from tests.conftest import FakeNlu


@dataclass
class CheckingBus:
    """Records notices; on a queue notice re-reads the case from a new session, as a
    subscribing worker would, and records whether it was there."""

    database: Database
    published: list[tuple[str, Notice]] = field(default_factory=list)
    case_visible: list[bool] = field(default_factory=list)

    async def publish(self, topic: str, notice: Notice) -> None:
        self.published.append((topic, notice))
        if topic == QUEUE_TOPIC:
            async with self.database.session() as session:
                found = await session.get(Case, notice["case_id"])
            self.case_visible.append(found is not None)

    def subscribe(self, topic: str) -> Any:
        raise NotImplementedError


async def _outgoing(database: Database, conversation_id: str, skip: int = 0) -> list[str]:
    """Ids of the conversation's outgoing messages, in order, after the first ``skip``."""
    async with database.session() as session:
        ids = await session.scalars(
            select(Message.id)
            .where(Message.conversation_id == conversation_id, Message.direction == "out")
            .order_by(Message.seq)
        )
        return list(ids)[skip:]


def _turn_notice(conversation_id: str, out: list[str]) -> tuple[str, Notice]:
    # The turn names its outgoing messages: the socket that ran it already carried them.
    assert out
    return conversation_topic(conversation_id), {"kind": "message", "out": out}


def engine_with(
    database: Database,
    bus: CheckingBus,
    keyring: Keyring,
    lexicon: CrisisLexicon,
    responses: Responses,
    intent: str,
) -> Engine:
    return Engine(
        EngineDeps(
            database=database,
            transcript=Transcript(keyring),
            nlu=FakeNlu(intent, 0.95),
            assessor=SafetyAssessor(lexicon),
            responses=responses,
            router=PoolRouter.load(),
            pepper=b"test-pepper",
            events=bus,
        )
    )


async def test_an_escalating_turn_publishes_after_its_commit(
    database: Database, keyring: Keyring, lexicon: CrisisLexicon, responses: Responses
) -> None:
    bus = CheckingBus(database)
    engine = engine_with(database, bus, keyring, lexicon, responses, "suicide_risk")
    result = await engine.handle(IncomingMessage(channel="web", user_ref="r1", text="もう無理"))
    async with database.session() as session:
        case = (await session.scalars(select(Case))).one()
    assert result.case_id == case.id
    assert bus.published == [
        (
            QUEUE_TOPIC,
            {"case_id": case.id, "pool": case.pool, "urgency": case.urgency, "status": "queued"},
        ),
        _turn_notice(result.conversation_id, await _outgoing(database, result.conversation_id)),
    ]
    assert bus.case_visible == [True]


async def test_a_plain_turn_only_tells_its_conversation(
    database: Database, keyring: Keyring, lexicon: CrisisLexicon, responses: Responses
) -> None:
    bus = CheckingBus(database)
    engine = engine_with(database, bus, keyring, lexicon, responses, "greeting")
    result = await engine.handle(IncomingMessage(channel="web", user_ref="r2", text="こんにちは"))
    assert result.case_id is None
    out = await _outgoing(database, result.conversation_id)
    assert len(out) == len(result.replies)
    assert bus.published == [_turn_notice(result.conversation_id, out)]


async def test_a_callers_transaction_publishes_nothing_itself(
    database: Database, keyring: Keyring, lexicon: CrisisLexicon, responses: Responses
) -> None:
    bus = CheckingBus(database)
    engine = engine_with(database, bus, keyring, lexicon, responses, "suicide_risk")
    with pytest.raises(RuntimeError):
        async with database.session() as session:
            await engine.handle(
                IncomingMessage(channel="web", user_ref="r3", text="もう無理"), session=session
            )
            raise RuntimeError("the caller's transaction fails after the turn")
    assert bus.published == []
    async with database.session() as session:
        assert (await session.scalars(select(Case))).all() == []


def _event(user: str) -> inbox.NewEvent:
    return inbox.NewEvent(
        event_id=f"ev-{user}",
        user_key=user,
        kind="message.text",
        payload={"type": "message", "message": {"type": "text", "text": "x"}},
    )


async def test_the_inbox_worker_publishes_once_the_event_has_committed(
    database: Database, keyring: Keyring
) -> None:
    bus = CheckingBus(database)
    published_early: list[bool] = []

    async def processor(session: Any, event: inbox.ClaimedEvent) -> None:
        notice = (conversation_topic(event.user_key), {"kind": "message"})
        defer_notice(session, *notice)
        published_early.append(notice in bus.published)
        if event.user_key == "broken":
            raise RuntimeError("processing failed")

    async with database.session() as session:
        await inbox.store(session, keyring, "line", [_event("ok"), _event("broken")])
    worker = InboxWorker(database, keyring, {"line": processor}, events=bus)
    assert await worker.run_once() == 2
    assert published_early == [False, False]
    assert bus.published == [(conversation_topic("ok"), {"kind": "message"})]


async def test_a_waiting_residents_next_turn_tells_the_queue_only_if_the_case_changed(
    database: Database, keyring: Keyring, lexicon: CrisisLexicon, responses: Responses
) -> None:
    # Every queue notice makes every console of every worker read the queue again: a turn
    # that changes no queue row must not send one; a raised urgency must.
    bus = CheckingBus(database)
    engine = engine_with(database, bus, keyring, lexicon, responses, "suicide_risk")
    first = await engine.handle(IncomingMessage(channel="web", user_ref="r4", text="もう無理"))
    (opened,) = [notice for topic, notice in bus.published if topic == QUEUE_TOPIC]
    bus.published.clear()
    before = len(await _outgoing(database, first.conversation_id))
    again = await engine.handle(IncomingMessage(channel="web", user_ref="r4", text="まだ待ってる"))
    assert again.case_id == first.case_id
    out = await _outgoing(database, first.conversation_id, skip=before)
    assert bus.published == [_turn_notice(first.conversation_id, out)]
    raised = await engine.handle(
        IncomingMessage(channel="web", user_ref="r4", text="今から駅のホームから飛び降りる")
    )
    assert raised.case_id == first.case_id
    queue = [notice for topic, notice in bus.published if topic == QUEUE_TOPIC]
    assert len(queue) == 1 and queue[0]["urgency"] > opened["urgency"]
