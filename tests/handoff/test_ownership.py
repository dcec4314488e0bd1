"""Claim, release, close, transfer and reopen on SQLite and PostgreSQL, with audit records."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from handoff.canned import CannedReplies
from handoff.errors import CaseConflict, CaseStateError, NotCaseOwner, UnknownOutcome
from handoff.messaging import send_counselor_message
from handoff.models import Case
from handoff.outcomes import Outcomes
from handoff.ownership import claim, close, release_to_bot, reopen, transfer
from handoff.pools import load_config
from storage.crypto import Keyring
from storage.db import Database
from storage.models import AuditRecord, Conversation, Message, OutboxMessage
from storage.transcript import Transcript
from tests.handoff.support import make_case

CANNED = CannedReplies.load()
OUTCOMES = Outcomes.load()
CONFIG = load_config()


async def _state(database: Database, conversation_id: str, case_id: str) -> tuple[str, Case]:
    async with database.session() as s:
        conversation = await s.get(Conversation, conversation_id)
        case = await s.get(Case, case_id)
        assert conversation is not None and case is not None
        return conversation.owner, case


async def _actions(database: Database, conversation_id: str) -> list[tuple[str, str, str]]:
    async with database.session() as s:
        rows = (
            await s.scalars(
                select(AuditRecord)
                .where(AuditRecord.conversation_id == conversation_id)
                .order_by(AuditRecord.id)
            )
        ).all()
        return [(r.actor, r.action, r.reason) for r in rows]


async def test_claim_takes_case_and_conversation_once(database: Database) -> None:
    conversation_id, case_id = await make_case(database)
    async with database.session() as s:
        case = await claim(s, case_id, "c001")
    assert (case.status, case.counselor) == ("claimed", "c001")
    owner, stored = await _state(database, conversation_id, case_id)
    assert owner == "counselor:c001" and stored.claimed_at is not None
    with pytest.raises(CaseConflict, match="held by c001"):
        async with database.session() as s:
            await claim(s, case_id, "c002")
    owner, stored = await _state(database, conversation_id, case_id)
    assert (owner, stored.counselor) == ("counselor:c001", "c001")
    assert await _actions(database, conversation_id) == [("c001", "case.claim", f"case:{case_id}")]


async def test_claim_refused_when_conversation_has_another_owner(database: Database) -> None:
    conversation_id, case_id = await make_case(database, owner="counselor:c009")
    with pytest.raises(CaseConflict, match="already held"):
        async with database.session() as s:
            await claim(s, case_id, "c001")
    owner, case = await _state(database, conversation_id, case_id)
    assert (owner, case.status, case.counselor) == ("counselor:c009", "queued", None)
    with pytest.raises(ValueError, match="bad counselor id"):
        async with database.session() as s:
            await claim(s, case_id, "c001:evil")


async def test_release_to_bot_on_line_queues_a_system_message(
    database: Database, keyring: Keyring
) -> None:
    transcript = Transcript(keyring)
    conversation_id, case_id = await make_case(database, channel="line")
    async with database.session() as s:
        await claim(s, case_id, "c001")
    with pytest.raises(NotCaseOwner):
        async with database.session() as s:
            await release_to_bot(s, transcript, CANNED, case_id, "c002")
    async with database.session() as s:
        delivery = await release_to_bot(s, transcript, CANNED, case_id, "c001")
    owner, case = await _state(database, conversation_id, case_id)
    assert (owner, case.status) == ("bot", "returned")
    assert delivery.web_frame is None and delivery.outbox_id is not None
    async with database.session() as s:
        row = await s.get(OutboxMessage, delivery.outbox_id)
        assert row is not None and row.sender == "system"
        payload = json.loads(
            await transcript.open_item(
                s,
                conversation_id,
                row.payload_ciphertext,
                purpose="outbox",
                item=row.id,
                key_version=row.key_version,
            )
        )
    assert payload == [{"type": "text", "text": CANNED.system.returned_to_bot}]
    assert [a[1] for a in await _actions(database, conversation_id)] == [
        "case.claim",
        "case.release",
    ]


async def test_close_needs_a_known_outcome_and_hands_back(
    database: Database, keyring: Keyring
) -> None:
    transcript = Transcript(keyring)
    conversation_id, case_id = await make_case(database, channel="web")
    async with database.session() as s:
        await claim(s, case_id, "c001")
    with pytest.raises(UnknownOutcome):
        async with database.session() as s:
            await close(s, transcript, CANNED, OUTCOMES, case_id, "c001", "fixed_it")
    async with database.session() as s:
        delivery = await close(
            s, transcript, CANNED, OUTCOMES, case_id, "c001", "referred_dv_center"
        )
    assert delivery is not None
    assert delivery.web_frame == {"type": "message", "from": "system", "text": CANNED.system.closed}
    owner, case = await _state(database, conversation_id, case_id)
    assert (owner, case.status, case.outcome) == ("bot", "closed", "referred_dv_center")
    assert case.closed_at is not None
    assert await _actions(database, conversation_id) == [
        ("c001", "case.claim", f"case:{case_id}"),
        ("c001", "case.close", "referred_dv_center"),
    ]
    with pytest.raises(CaseStateError):
        async with database.session() as s:
            await close(s, transcript, CANNED, OUTCOMES, case_id, "c001", "other")
    # Reopen puts it back in the queue of its pool.
    async with database.session() as s:
        reopened = await reopen(s, case_id, "s001", role="supervisor")
    assert (reopened.status, reopened.outcome, reopened.counselor) == ("queued", None, None)
    assert (await _actions(database, conversation_id))[-1] == (
        "s001",
        "case.reopen",
        f"case:{case_id}",
    )


async def test_transfer_to_counselor_and_to_pool(database: Database) -> None:
    conversation_id, case_id = await make_case(database, pool="general")
    async with database.session() as s:
        await claim(s, case_id, "c001")
    async with database.session() as s:
        case = await transfer(s, CONFIG, case_id, "c001", to_counselor="c002")
    assert (case.status, case.counselor) == ("claimed", "c002")
    assert (await _state(database, conversation_id, case_id))[0] == "counselor:c002"
    with pytest.raises(NotCaseOwner):
        async with database.session() as s:
            await transfer(s, CONFIG, case_id, "c001", to_pool="dv")
    async with database.session() as s:
        case = await transfer(s, CONFIG, case_id, "c002", to_pool="dv")
    assert (case.status, case.pool, case.counselor) == ("queued", "dv", None)
    assert (await _state(database, conversation_id, case_id))[0] == "bot"
    async with database.session() as s:
        case = await claim(s, case_id, "c001")
    assert case.pool == "dv" and case.counselor == "c001"
    assert [a[1:] for a in await _actions(database, conversation_id)] == [
        ("case.claim", f"case:{case_id}"),
        ("case.transfer", "to:c002"),
        ("case.transfer", "to_pool:dv"),
        ("case.claim", f"case:{case_id}"),
    ]
    with pytest.raises(CaseStateError, match="unknown counselor"):
        async with database.session() as s:
            await transfer(s, CONFIG, case_id, "c001", to_counselor="ghost")


async def test_counselor_messages_line_and_web(database: Database, keyring: Keyring) -> None:
    transcript = Transcript(keyring)
    line_conv, line_case = await make_case(database, channel="line")
    web_conv, web_case = await make_case(database, channel="web")
    async with database.session() as s:
        await claim(s, line_case, "c001")
        await claim(s, web_case, "c001")
    async with database.session() as s:
        conversation = await s.get(Conversation, line_conv)
        assert conversation is not None
        with pytest.raises(NotCaseOwner):
            await send_counselor_message(s, transcript, conversation, "c002", "こんにちは")
        line = await send_counselor_message(s, transcript, conversation, "c001", "こんにちは")
        web_conversation = await s.get(Conversation, web_conv)
        assert web_conversation is not None
        web = await send_counselor_message(s, transcript, web_conversation, "c001", "はい")
    assert line.outbox_id is not None and line.web_frame is None
    assert web.outbox_id is None
    assert web.web_frame == {"type": "message", "from": "counselor", "text": "はい"}
    async with database.session() as s:
        row = await s.get(OutboxMessage, line.outbox_id)
        assert row is not None and row.sender == "counselor"
        senders = (
            await s.scalars(select(Message.sender).where(Message.conversation_id == web_conv))
        ).all()
    assert list(senders) == ["counselor"]
    async with database.sessions() as s:  # read() commits its audit record itself
        entries = await transcript.read(s, line_conv, actor="c001", role="counselor", reason="test")
    assert [(e.sender, e.text) for e in entries] == [("counselor", "こんにちは")]
