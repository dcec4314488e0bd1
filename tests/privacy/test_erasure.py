"""Erasure requests on real SQLite and PostgreSQL: shred, audit, close cases, once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from handoff.models import Case
from privacy.erasure import ConversationNotFound, erase_conversation
from storage.conversations import get_or_open
from storage.crypto import Keyring
from storage.db import Database, utcnow
from storage.errors import ConversationShredded
from storage.models import AuditRecord, Conversation, InboxEvent, OutboxMessage
from storage.transcript import Transcript
from tests.privacy.seed import seed_conversation


async def test_erasure_shreds_audits_closes_cases_and_is_idempotent(
    database: Database, keyring: Keyring
) -> None:
    transcript = Transcript(keyring)
    seeded = await seed_conversation(database, transcript, last_activity=utcnow())
    async with database.session() as s:
        s.add(
            InboxEvent(
                channel="line",
                event_id="failed-1",
                user_key=seeded.user_key,
                kind="message",
                payload_ciphertext=b"sealed text",
                master_version=1,
                status="failed",
                attempts=5,
            )
        )

    async with database.session() as s:
        first = await erase_conversation(
            s,
            seeded.conversation_id,
            "resident",
            "resident",
            "resident.request",
            transcript=transcript,
        )
    assert first.as_dict() == {
        "conversation_id": seeded.conversation_id,
        "already_erased": False,
        "cases_closed": 1,
        "outbox_dropped": 1,
        "inbox_payloads_dropped": 1,
    }
    async with database.session() as s:
        second = await erase_conversation(
            s,
            seeded.conversation_id,
            "operator:sato",
            "operator",
            "operator.request",
            transcript=transcript,
        )
    assert second.already_erased
    assert (second.cases_closed, second.outbox_dropped, second.inbox_payloads_dropped) == (0, 0, 0)

    async with database.sessions() as s:
        with pytest.raises(ConversationShredded):
            await transcript.read(
                s, seeded.conversation_id, actor="c", role="counselor", reason="case"
            )
    async with database.session() as s:
        audits = (
            await s.scalars(
                select(AuditRecord)
                .where(AuditRecord.action == "transcript.erase")
                .order_by(AuditRecord.id)
            )
        ).all()
        assert [(a.actor, a.role, a.reason) for a in audits] == [
            ("resident", "resident", "resident.request"),
            ("operator:sato", "operator", "operator.request"),
        ]
        assert (await s.scalars(select(Case.status))).all() == ["closed"]
        assert (await s.scalars(select(OutboxMessage.status))).all() == ["dropped"]
        event = await s.scalar(select(InboxEvent))
        assert event is not None and event.payload_ciphertext is None
        conversation = await s.get(Conversation, seeded.conversation_id)
        assert conversation is not None and conversation.address_ciphertext is None
        renewed = await get_or_open(s, channel="line", user_key=seeded.user_key)
        assert renewed.id != seeded.conversation_id


async def test_conversation_without_messages_gets_a_tombstone_key(
    database: Database, keyring: Keyring
) -> None:
    transcript = Transcript(keyring)
    async with database.session() as s:
        conversation = await get_or_open(s, channel="web", user_key=uuid.uuid4().hex)
        conversation_id = conversation.id
    async with database.session() as s:
        result = await erase_conversation(
            s, conversation_id, "operator:1", "operator", "operator.request", transcript=transcript
        )
        assert not result.already_erased
    async with database.session() as s:
        erased = await s.get(Conversation, conversation_id)
        assert erased is not None
        # Nothing can be written into an erased conversation later (e.g. a late console reply).
        with pytest.raises(ConversationShredded):
            await transcript.append(s, erased, direction="out", sender="counselor", body="x")


@pytest.mark.parametrize(
    ("role", "reason", "error"),
    [
        ("counselor", "operator.request", PermissionError),
        ("resident", "田中さんが消してと言った", ValueError),
        ("operator", "x", ValueError),
    ],
)
async def test_refuses_bad_role_or_free_text_reason(
    database: Database, keyring: Keyring, role: str, reason: str, error: type[Exception]
) -> None:
    transcript = Transcript(keyring)
    seeded = await seed_conversation(database, transcript, last_activity=utcnow())
    async with database.session() as s:
        with pytest.raises(error):
            await erase_conversation(
                s, seeded.conversation_id, "someone", role, reason, transcript=transcript
            )
    async with database.sessions() as s:
        entries = await transcript.read(
            s, seeded.conversation_id, actor="c", role="counselor", reason="case"
        )
    assert [e.text for e in entries] == list(seeded.texts)


async def test_unknown_conversation(database: Database, keyring: Keyring) -> None:
    async with database.session() as s:
        with pytest.raises(ConversationNotFound):
            await erase_conversation(
                s,
                str(uuid.uuid4()),
                "operator:1",
                "operator",
                "operator.request",
                transcript=Transcript(keyring),
            )
