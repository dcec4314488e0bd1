"""Who holds a case: claim, release to the bot, close, transfer and reopen.

Ownership is enforced by the database, not by the process: every change is a
compare-and-set ``UPDATE … WHERE <expected state>``, so of any number of workers racing for
the same case exactly one wins and the others get :class:`CaseConflict`.

A claim first takes the conversation row lock (``SELECT … FOR UPDATE``). The LINE sender
holds a share lock on that row for the whole HTTP call of a bot message, so the claim waits
for an in-flight send, and once the claim is committed every later bot message sees
``owner = counselor:<id>`` and is suppressed. Lock order is always conversation, then case.

Every change writes an audit record (``case.claim``, ``case.release``, ``case.close``,
``case.transfer``, ``case.reopen``) with ids and codes only, never text.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import audit
from handoff.canned import CannedReplies
from handoff.errors import CaseConflict, CaseNotFound, CaseStateError, NotCaseOwner
from handoff.messaging import Delivery, owner_of, send_system_message
from handoff.models import Case
from handoff.outcomes import Outcomes
from handoff.pools import HandoffConfig
from handoff.queue import OPEN_STATUSES
from storage.db import utcnow
from storage.models import Conversation
from storage.transcript import Transcript

COUNSELOR_ID = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")
BOT = "bot"
# A case queued again (reopened, transferred to a pool): its resident has not been told
# their new place yet, so the notice sweep sends them the full status message.
_NOT_TOLD: dict[str, Any] = {
    "notified_position": None,
    "notified_wait_minutes": None,
    "notified_at": None,
}


def _check_id(counselor_id: str) -> str:
    if not COUNSELOR_ID.match(counselor_id):
        raise ValueError(f"bad counselor id {counselor_id!r} (letters, digits, _ . -)")
    return counselor_id


async def _case(session: AsyncSession, case_id: str) -> Case:
    case = await session.scalar(
        select(Case).where(Case.id == case_id).execution_options(populate_existing=True)
    )
    if case is None:
        raise CaseNotFound(case_id)
    return case


def _taken(case: Case) -> CaseConflict:
    return CaseConflict(
        f"case {case.id} is {case.status}"
        + (f" (held by {case.counselor})" if case.counselor else "")
    )


async def _lock_conversation(session: AsyncSession, conversation_id: str) -> Conversation:
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if conversation is None:
        raise CaseNotFound(f"conversation of case is gone: {conversation_id}")
    return conversation


async def _set(session: AsyncSession, model: Any, where: list[Any], values: dict[str, Any]) -> bool:
    result = await session.execute(
        update(model).where(*where).values(values).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def claim(
    session: AsyncSession, case_id: str, counselor_id: str, *, role: str = "counselor"
) -> Case:
    """Takes a queued case and its conversation for ``counselor_id``; caller commits.

    Raises :class:`CaseConflict` if another counselor (in any process) got there first, or
    if the conversation is already held by someone else.
    """
    _check_id(counselor_id)
    case = await _case(session, case_id)
    if case.status != "queued":
        # Already taken (or closed): the loser of a race learns it without waiting for the
        # winner's row lock, which is held until the winner's announcement commits.
        raise _taken(case)
    conversation = await _lock_conversation(session, case.conversation_id)
    now = utcnow()
    if not await _set(
        session,
        Case,
        [Case.id == case_id, Case.status == "queued"],
        {"status": "claimed", "counselor": counselor_id, "claimed_at": now, "updated_at": now},
    ):
        raise _taken(await _case(session, case_id))
    if not await _set(
        session,
        Conversation,
        [Conversation.id == conversation.id, Conversation.owner == BOT],
        {"owner": owner_of(counselor_id)},
    ):
        # Undo our half of the change; we hold both rows, so nobody saw it.
        await _set(
            session,
            Case,
            [Case.id == case_id, Case.counselor == counselor_id],
            {"status": "queued", "counselor": None, "claimed_at": None},
        )
        raise CaseConflict(f"conversation {conversation.id} is already held by another owner")
    audit.record(
        session,
        actor=counselor_id,
        role=role,
        conversation_id=conversation.id,
        action="case.claim",
        reason=f"case:{case_id}",
    )
    await session.flush()
    return await _case(session, case_id)


async def _hand_back(
    session: AsyncSession,
    case_id: str,
    counselor_id: str,
    *,
    case_values: dict[str, Any],
) -> tuple[Case, Conversation]:
    """Moves a claimed case out of ``counselor_id``'s hands and the conversation to the bot."""
    case = await _case(session, case_id)
    conversation = await _lock_conversation(session, case.conversation_id)
    if case.status != "claimed":
        raise CaseStateError(f"case {case_id} is {case.status}, not claimed")
    if case.counselor != counselor_id:
        raise NotCaseOwner(f"case {case_id} is not held by {counselor_id}")
    now = utcnow()
    if not await _set(
        session,
        Case,
        [Case.id == case_id, Case.status == "claimed", Case.counselor == counselor_id],
        {**case_values, "updated_at": now},
    ):
        raise CaseConflict(f"case {case_id} changed meanwhile")
    if not await _set(
        session,
        Conversation,
        [Conversation.id == conversation.id, Conversation.owner == owner_of(counselor_id)],
        {"owner": BOT},
    ):
        raise CaseConflict(f"conversation {conversation.id} is not held by {counselor_id}")
    await session.flush()
    return await _case(session, case_id), conversation


async def release_to_bot(
    session: AsyncSession,
    transcript: Transcript,
    canned: CannedReplies,
    case_id: str,
    counselor_id: str,
    *,
    role: str = "counselor",
) -> Delivery:
    """Returns the conversation to the bot (case ``returned``) and tells the resident so.

    The returned :class:`Delivery` carries the outbox id (LINE) or the frame to push (web).
    """
    case, conversation = await _hand_back(
        session, case_id, counselor_id, case_values={"status": "returned"}
    )
    audit.record(
        session,
        actor=counselor_id,
        role=role,
        conversation_id=case.conversation_id,
        action="case.release",
        reason=f"case:{case_id}",
    )
    conversation.owner = BOT
    return await send_system_message(
        session, transcript, conversation, canned.system.text("returned_to_bot")
    )


async def close(
    session: AsyncSession,
    transcript: Transcript,
    canned: CannedReplies,
    outcomes: Outcomes,
    case_id: str,
    counselor_id: str,
    outcome: str,
    *,
    role: str = "counselor",
    notify_resident: bool = True,
) -> Delivery | None:
    """Closes a claimed case with an outcome code; the conversation goes back to the bot.

    With ``notify_resident`` the warm closing message from the content file is sent.
    """
    outcomes.check(outcome)
    now = utcnow()
    case, conversation = await _hand_back(
        session,
        case_id,
        counselor_id,
        case_values={"status": "closed", "outcome": outcome, "closed_at": now},
    )
    audit.record(
        session,
        actor=counselor_id,
        role=role,
        conversation_id=case.conversation_id,
        action="case.close",
        reason=outcome,
    )
    conversation.owner = BOT
    if not notify_resident:
        await session.flush()
        return None
    return await send_system_message(session, transcript, conversation, canned.system.closed)


async def transfer(
    session: AsyncSession,
    config: HandoffConfig,
    case_id: str,
    counselor_id: str,
    *,
    to_counselor: str | None = None,
    to_pool: str | None = None,
    role: str = "counselor",
) -> Case:
    """Hands a claimed case to another counselor, or back to the queue of another pool.

    To a counselor: the case stays claimed and the conversation owner changes in one step.
    To a pool: the case is queued there and the conversation goes back to the bot (which
    keeps the resident informed) until a counselor of that pool claims it.
    """
    if (to_counselor is None) == (to_pool is None):
        raise ValueError("transfer to exactly one of: a counselor, a pool")
    case = await _case(session, case_id)
    conversation = await _lock_conversation(session, case.conversation_id)
    if case.status != "claimed":
        raise CaseStateError(f"case {case_id} is {case.status}, not claimed")
    if case.counselor != counselor_id:
        raise NotCaseOwner(f"case {case_id} is not held by {counselor_id}")
    now = utcnow()
    mine = [Case.id == case_id, Case.status == "claimed", Case.counselor == counselor_id]
    held = [Conversation.id == conversation.id, Conversation.owner == owner_of(counselor_id)]
    if to_counselor is not None:
        _check_id(to_counselor)
        if to_counselor == counselor_id:
            raise ValueError("cannot transfer a case to its holder")
        if config.counselor(to_counselor) is None:
            raise CaseStateError(f"unknown counselor {to_counselor!r}")
        case_values: dict[str, Any] = {"counselor": to_counselor, "claimed_at": now}
        new_owner, reason = owner_of(to_counselor), f"to:{to_counselor}"
    else:
        assert to_pool is not None
        config.pool(to_pool)  # raises on an unknown pool
        case_values = {
            "status": "queued",
            "pool": to_pool,
            "counselor": None,
            "claimed_at": None,
            **_NOT_TOLD,
        }
        new_owner, reason = BOT, f"to_pool:{to_pool}"
    if not await _set(session, Case, mine, {**case_values, "updated_at": now}):
        raise CaseConflict(f"case {case_id} changed meanwhile")
    if not await _set(session, Conversation, held, {"owner": new_owner}):
        raise CaseConflict(f"conversation {conversation.id} is not held by {counselor_id}")
    audit.record(
        session,
        actor=counselor_id,
        role=role,
        conversation_id=conversation.id,
        action="case.transfer",
        reason=reason,
    )
    await session.flush()
    return await _case(session, case_id)


async def reopen(
    session: AsyncSession, case_id: str, actor_id: str, *, role: str = "counselor"
) -> Case:
    """Puts a closed or returned case back in its pool's queue (the bot keeps the chat).

    Refused if the conversation already has another open case or was shredded.
    """
    case = await _case(session, case_id)
    conversation = await _lock_conversation(session, case.conversation_id)
    if case.status not in ("closed", "returned"):
        raise CaseStateError(f"case {case_id} is {case.status}; only closed/returned reopen")
    if conversation.shredded_at is not None:
        raise CaseStateError(f"conversation {conversation.id} was shredded")
    other = await session.scalar(
        select(Case.id).where(
            Case.conversation_id == conversation.id,
            Case.status.in_(OPEN_STATUSES),
            Case.id != case_id,
        )
    )
    if other is not None:
        raise CaseStateError(f"conversation {conversation.id} already has open case {other}")
    if not await _set(
        session,
        Case,
        [Case.id == case_id, Case.status == case.status],
        {
            "status": "queued",
            "counselor": None,
            "claimed_at": None,
            "closed_at": None,
            "outcome": None,
            "updated_at": utcnow(),
            **_NOT_TOLD,
        },
    ):
        raise CaseConflict(f"case {case_id} changed meanwhile")
    audit.record(
        session,
        actor=actor_id,
        role=role,
        conversation_id=conversation.id,
        action="case.reopen",
        reason=f"case:{case_id}",
    )
    await session.flush()
    return await _case(session, case_id)


async def announce(
    session: AsyncSession,
    transcript: Transcript,
    canned: CannedReplies,
    conversation_id: str,
    key: str,
) -> Delivery:
    """Sends one of the content file's hand-over notices (``claimed``, ``transferred``)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise CaseNotFound(f"conversation {conversation_id}")
    if key not in ("claimed", "transferred", "returned_to_bot", "closed"):
        raise ValueError(f"unknown notice {key!r}")
    return await send_system_message(
        session, transcript, conversation, str(getattr(canned.system, key))
    )
