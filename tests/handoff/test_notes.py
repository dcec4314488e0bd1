"""Private notes are sealed with the conversation's key and audited when read."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from handoff.models import CaseNote
from handoff.notes import add_note, read_notes
from storage.crypto import Keyring
from storage.db import Database
from storage.errors import ConversationShredded
from storage.models import AuditRecord
from storage.transcript import Transcript
from tests.handoff.support import make_case

NOTE = "本人は夫からの暴力を訴えている。次回は支援センターを案内する。"


async def test_notes_are_encrypted_and_reads_are_audited(
    database: Database, keyring: Keyring
) -> None:
    transcript = Transcript(keyring)
    conversation_id, case_id = await make_case(database)
    async with database.session() as s:
        await add_note(s, transcript, case_id, "c001", NOTE)
    async with database.session() as s:
        blobs = (await s.scalars(select(CaseNote.body_ciphertext))).all()
    assert len(blobs) == 1
    assert NOTE.encode() not in blobs[0] and "暴力".encode() not in blobs[0]
    with pytest.raises(PermissionError):
        async with database.sessions() as s:
            await read_notes(s, transcript, case_id, actor="x", role="resident")
    async with database.sessions() as s:
        notes = await read_notes(s, transcript, case_id, actor="s001", role="supervisor")
    assert [(n.author, n.text) for n in notes] == [("c001", NOTE)]
    async with database.session() as s:
        actions = (
            await s.execute(
                select(AuditRecord.actor, AuditRecord.action, AuditRecord.reason).where(
                    AuditRecord.conversation_id == conversation_id
                )
            )
        ).all()
    assert sorted(tuple(a) for a in actions) == sorted(
        [("c001", "note.add", f"case:{case_id}"), ("s001", "note.read", f"case:{case_id}")]
    )
    # Shredding the conversation's key makes the note unreadable as well.
    async with database.session() as s:
        assert await transcript.shred(s, conversation_id)
    with pytest.raises(ConversationShredded):
        async with database.sessions() as s:
            await read_notes(s, transcript, case_id, actor="s001", role="supervisor")
