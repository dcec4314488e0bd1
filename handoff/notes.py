"""Counselors' private notes on a case, sealed with the conversation's data key.

A note is never stored in plain text: it is encrypted like the transcript (purpose ``note``),
so shredding the conversation's key destroys the notes too. Reading notes is audited first,
like reading the transcript.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import audit
from handoff.errors import CaseNotFound
from handoff.models import Case, CaseNote
from storage.db import as_utc
from storage.transcript import READER_ROLES, Transcript

PURPOSE = "note"
MAX_NOTE_CHARS = 4000


@dataclass(frozen=True)
class NoteView:
    """A decrypted note, for an audited reader."""

    note_id: str
    author: str
    created_at: datetime
    text: str


def _check_role(role: str) -> None:
    if role not in READER_ROLES - {"system"}:
        raise PermissionError(f"role {role!r} may not use case notes")


async def add_note(
    session: AsyncSession,
    transcript: Transcript,
    case_id: str,
    counselor_id: str,
    text: str,
    *,
    role: str = "counselor",
) -> CaseNote:
    """Encrypts and stores a note on a case; audited as ``note.add`` (without the text)."""
    _check_role(role)
    if not text.strip():
        raise ValueError("a note needs text")
    if len(text) > MAX_NOTE_CHARS:
        raise ValueError(f"a note is limited to {MAX_NOTE_CHARS} characters")
    case = await session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    note_id = str(uuid.uuid4())
    blob, key_version = await transcript.seal_item(
        session, case.conversation_id, purpose=PURPOSE, item=note_id, data=text.encode()
    )
    note = CaseNote(
        id=note_id,
        case_id=case.id,
        conversation_id=case.conversation_id,
        author=counselor_id,
        body_ciphertext=blob,
        key_version=key_version,
    )
    session.add(note)
    audit.record(
        session,
        actor=counselor_id,
        role=role,
        conversation_id=case.conversation_id,
        action="note.add",
        reason=f"case:{case.id}",
    )
    await session.flush()
    return note


async def read_notes(
    session: AsyncSession,
    transcript: Transcript,
    case_id: str,
    *,
    actor: str,
    role: str,
) -> list[NoteView]:
    """Commits a ``note.read`` audit record, then decrypts the case's notes (oldest first)."""
    _check_role(role)
    case = await session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    conversation_id = case.conversation_id
    audit.record(
        session,
        actor=actor,
        role=role,
        conversation_id=conversation_id,
        action="note.read",
        reason=f"case:{case_id}",
    )
    # Like Transcript.read: the audit record survives even if decryption fails later.
    await session.commit()
    rows = (
        await session.scalars(
            select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.created_at)
        )
    ).all()
    views: list[NoteView] = []
    for row in rows:
        text = await transcript.open_item(
            session,
            conversation_id,
            row.body_ciphertext,
            purpose=PURPOSE,
            item=row.id,
            key_version=row.key_version,
        )
        views.append(NoteView(row.id, row.author, as_utc(row.created_at), text.decode()))
    return views
