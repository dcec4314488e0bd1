"""The transcript on real SQLite and PostgreSQL: encrypted, audited reads, shredding."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, select

from storage.conversations import get_or_open
from storage.crypto import Keyring
from storage.db import Database
from storage.errors import ConversationShredded
from storage.models import AuditRecord, Message
from storage.transcript import Transcript


async def test_append_read_audit_and_shred(database: Database, keyring: Keyring) -> None:
    transcript = Transcript(keyring)
    async with database.session() as s:
        conv = await get_or_open(s, channel="web", user_key=uuid.uuid4().hex)
        await transcript.append(s, conv, direction="in", sender="resident", body="相談です")
        await transcript.append(s, conv, direction="out", sender="bot", body="はい")
        conv_id = conv.id
    async with database.sessions() as s:
        with pytest.raises(PermissionError):
            await transcript.read(s, conv_id, actor="x", role="resident", reason="r")
        entries = await transcript.read(
            s, conv_id, actor="counselor:1", role="counselor", reason="case"
        )
    assert [e.text for e in entries] == ["相談です", "はい"]
    async with database.session() as s:
        audits = (await s.scalars(select(AuditRecord))).all()
        assert [(a.actor, a.action) for a in audits] == [("counselor:1", "transcript.read")]
        assert await transcript.shred(s, conv_id)
        assert not await transcript.shred(s, conv_id)  # idempotent
    async with database.sessions() as s:
        with pytest.raises(ConversationShredded):
            await transcript.read(s, conv_id, actor="counselor:1", role="counselor", reason="case")
    async with database.session() as s:
        assert len((await s.scalars(select(Message))).all()) == 2  # metadata remains


async def test_swapped_rows_fail_to_decrypt(database: Database, keyring: Keyring) -> None:
    transcript = Transcript(keyring)
    async with database.session() as s:
        conv = await get_or_open(s, channel="web", user_key=uuid.uuid4().hex)
        a = await transcript.append(s, conv, direction="in", sender="resident", body="A")
        b = await transcript.append(s, conv, direction="in", sender="resident", body="B")
        a.body_ciphertext, b.body_ciphertext = b.body_ciphertext, a.body_ciphertext
        conv_id = conv.id
    from storage.errors import DecryptionError

    async with database.sessions() as s:
        with pytest.raises(DecryptionError):
            await transcript.read(s, conv_id, actor="c", role="counselor", reason="x")


async def test_my_number_is_masked_before_storage(database: Database, keyring: Keyring) -> None:
    transcript = Transcript(keyring)
    async with database.session() as s:
        conv = await get_or_open(s, channel="web", user_key=uuid.uuid4().hex)
        await transcript.append(
            s, conv, direction="in", sender="resident", body="番号は1234 5678 9018です"
        )
        conv_id = conv.id
    async with database.sessions() as s:
        [entry] = await transcript.read(s, conv_id, actor="c", role="counselor", reason="x")
    assert entry.text == "番号は[my_number]です"


async def test_numbers_continue_across_transactions_and_sessions(
    database: Database, keyring: Keyring
) -> None:
    """One max(seq) query per transaction: a later transaction must not trust the old count."""
    transcript = Transcript(keyring)
    user = uuid.uuid4().hex
    async with database.sessions() as first:
        async with first.begin():
            conv = await get_or_open(first, channel="web", user_key=user)
            for text in ("一", "二"):
                await transcript.append(first, conv, direction="in", sender="resident", body=text)
        # Meanwhile another session (another worker) adds a message.
        async with database.session() as other:
            conv_other = await get_or_open(other, channel="web", user_key=user)
            await transcript.append(other, conv_other, direction="out", sender="bot", body="三")
        async with first.begin():
            conv = await get_or_open(first, channel="web", user_key=user)
            await transcript.append(first, conv, direction="in", sender="resident", body="四")
    async with database.session() as s:
        rows = (await s.execute(select(Message.seq).order_by(Message.seq))).scalars().all()
    assert rows == [1, 2, 3, 4]


async def test_a_transaction_reads_the_data_key_once_and_writes_its_messages_together(
    database: Database, keyring: Keyring
) -> None:
    """A turn's messages cost one key read, and go to the database in one statement.

    Each key read used to flush the messages before it one at a time, while the turn held
    the conversation locked (bench handoff). A later transaction reads the key again: the
    conversation may have been shredded meanwhile, by another worker.
    """
    transcript = Transcript(keyring)
    user = uuid.uuid4().hex
    async with database.session() as s:
        conv = await get_or_open(s, channel="web", user_key=user)
        await transcript.append(s, conv, direction="in", sender="resident", body="相談です")
        conv_id = conv.id
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()))

    sync_engine = database.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        async with database.session() as s:
            conv = await get_or_open(s, channel="web", user_key=user)
            for text in ("一", "二", "三"):
                await transcript.append(s, conv, direction="out", sender="bot", body=text)
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
    assert sum("FROM conversation_keys" in x for x in statements) == 1, statements
    assert sum(x.startswith("INSERT INTO messages") for x in statements) == 1, statements
    async with database.sessions() as s:
        entries = await transcript.read(s, conv_id, actor="c", role="counselor", reason="case")
    assert [(e.seq, e.text) for e in entries] == [(1, "相談です"), (2, "一"), (3, "二"), (4, "三")]
    async with database.sessions() as worker:
        async with worker.begin():
            conv = await get_or_open(worker, channel="web", user_key=user)
            await transcript.append(worker, conv, direction="out", sender="bot", body="四")
        async with database.session() as other:  # another worker shreds meanwhile
            assert await transcript.shred(other, conv_id)
        async with worker.begin():
            conv = await get_or_open(worker, channel="web", user_key=user)
            with pytest.raises(ConversationShredded):
                await transcript.append(worker, conv, direction="out", sender="bot", body="五")
    async with database.session() as s:  # and a shred inside the transaction itself
        conv = await get_or_open(s, channel="web", user_key=uuid.uuid4().hex)
        await transcript.append(s, conv, direction="in", sender="resident", body="相談です")
        assert await transcript.shred(s, conv.id)
        with pytest.raises(ConversationShredded):
            await transcript.append(s, conv, direction="out", sender="bot", body="はい")


async def test_a_read_session_sees_a_shred_between_two_reads(
    database: Database, keyring: Keyring
) -> None:
    """Each audited read commits its record first, so no transaction spans two reads: the
    second one must read the key again and find it shredded."""
    transcript = Transcript(keyring)
    async with database.session() as s:
        conv = await get_or_open(s, channel="web", user_key=uuid.uuid4().hex)
        await transcript.append(s, conv, direction="in", sender="resident", body="相談です")
        conv_id = conv.id
    async with database.reads() as reader:
        first = await transcript.read(reader, conv_id, actor="c", role="counselor", reason="a")
        assert [e.text for e in first] == ["相談です"]
        async with database.session() as other:
            assert await transcript.shred(other, conv_id)
        with pytest.raises(ConversationShredded):
            await transcript.read(reader, conv_id, actor="c", role="counselor", reason="b")
