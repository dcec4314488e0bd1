"""Ownership across workers on PostgreSQL: racing claims, and a claim during a bot send."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, text

from channels.line.api import LineApi, Outcome, Result
from channels.workers import LineSender
from handoff.errors import CaseConflict
from handoff.models import Case
from handoff.ownership import claim
from storage import outbox
from storage.crypto import Keyring
from storage.db import Database, as_utc
from storage.models import AuditRecord, Conversation, OutboxMessage
from storage.transcript import Transcript
from tests.handoff.support import make_case

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg(postgres_url: str) -> Any:
    db = Database(postgres_url)
    db.migrate()
    yield db
    await db.dispose()


async def test_twenty_concurrent_claims_one_winner(pg: Database) -> None:
    conversation_id, case_id = await make_case(pg)
    start = asyncio.Event()

    async def attempt(n: int) -> str:
        await start.wait()
        try:
            async with pg.session() as s:
                await claim(s, case_id, f"c{n:03d}")
        except CaseConflict:
            return "lost"
        return f"c{n:03d}"

    tasks = [asyncio.create_task(attempt(n)) for n in range(20)]
    start.set()
    results = await asyncio.gather(*tasks)
    winners = [r for r in results if r != "lost"]
    assert len(winners) == 1
    async with pg.session() as s:
        case = await s.get(Case, case_id)
        conversation = await s.get(Conversation, conversation_id)
        audits = await s.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "case.claim")
        )
    assert case is not None and conversation is not None
    assert case.counselor == winners[0]
    assert conversation.owner == f"counselor:{winners[0]}"
    assert audits == 1


class SlowLine(LineApi):
    """A LINE API whose push stays in flight until the test lets it finish."""

    def __init__(self) -> None:
        self.in_flight = asyncio.Event()
        self.finish = asyncio.Event()
        self.pushed: list[str] = []

    async def push(self, to: str, messages: list[dict[str, Any]], retry_key: str) -> Outcome:
        self.in_flight.set()
        await self.finish.wait()
        self.pushed.append(retry_key)
        return Outcome(Result.SENT, 200)


async def _someone_waits_for_a_lock(database: Database) -> None:
    """Returns once a backend of this database waits on a row lock (polls pg_stat_activity)."""
    for _ in range(500):
        async with database.session() as s:
            waiting = await s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the claim never waited for the sender's lock")


async def test_claim_waits_for_in_flight_bot_send(pg: Database, keyring: Keyring) -> None:
    transcript = Transcript(keyring)
    conversation_id, case_id = await make_case(pg, channel="line")
    async with pg.session() as s:
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.address_ciphertext, _ = await transcript.seal_item(
            s, conversation_id, purpose="address", item="address", data=b"U" + b"0" * 32
        )
        first = await outbox.enqueue(
            s, transcript, conversation, sender="bot", payload=[{"type": "text", "text": "a"}]
        )
    api = SlowLine()
    sender = LineSender(database=pg, transcript=transcript, api=api)
    sending = asyncio.create_task(sender.run_once())
    await api.in_flight.wait()

    async def take() -> None:
        async with pg.session() as s:
            await claim(s, case_id, "c001")

    claiming = asyncio.create_task(take())
    await _someone_waits_for_a_lock(pg)
    assert not claiming.done()  # blocked behind the sender's share lock
    api.finish.set()
    assert await sending == 1
    await claiming

    # A bot message produced before the claim but sent after it is suppressed.
    async with pg.session() as s:
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        late = await outbox.enqueue(
            s, transcript, conversation, sender="bot", payload=[{"type": "text", "text": "b"}]
        )
    assert await sender.run_once() == 1
    assert api.pushed == [first.id]
    async with pg.session() as s:
        sent = await s.get(OutboxMessage, first.id)
        suppressed = await s.get(OutboxMessage, late.id)
        case = await s.get(Case, case_id)
    assert sent is not None and suppressed is not None and case is not None
    assert sent.status == "sent" and suppressed.status == "suppressed"
    assert sent.sent_at is not None and case.claimed_at is not None
    assert as_utc(sent.sent_at) <= as_utc(case.claimed_at)


async def test_claim_of_a_taken_case_is_refused_without_waiting_for_the_lock(
    pg: Database,
) -> None:
    """The loser of a race learns it at once, not after the winner's transaction.

    The winner holds the conversation row until its announcement commits; a counselor who
    clicked a moment later (the case already shown as taken) must not queue behind it.
    """
    conversation_id, case_id = await make_case(pg)
    async with pg.session() as s:
        await claim(s, case_id, "c001")
    async with pg.session() as holder:
        # Another transaction holds the conversation row (a send, a turn, a transfer).
        await holder.execute(
            select(Conversation.id).where(Conversation.id == conversation_id).with_for_update()
        )

        async def late_claim() -> None:
            async with pg.session() as s:
                await claim(s, case_id, "c002")

        with pytest.raises(CaseConflict, match="held by c001"):
            await asyncio.wait_for(late_claim(), timeout=10)
