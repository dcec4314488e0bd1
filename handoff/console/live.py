"""``/console/ws``: the live queue and "this case changed" signals for an open console page.

The socket subscribes to the ``queue`` topic and, when the page names a case, to that
case's conversation topic. Notices say only "look again": on each one (and every few
seconds in case a notice was missed, e.g. a case opened by the bot in another worker) the
socket re-reads the queue from the database and sends it if it changed. For a watched case
it sends a version (message count, owner, status; never text) and the page fetches the
audited transcript itself.

The socket also subscribes to the ``alerts`` topic (``handoff/console/alerts.py``) and sends
an ``alert`` frame when an emergency case opens in one of the account's pools (or to any
supervisor/admin). The session is re-checked every :data:`SESSION_CHECK_SECONDS` (at least
once per periodic round), so a logged-out or revoked session loses its socket within seconds.

Every waiting resident's message is a queue notice, and every console socket of a process
hears each one: reading the queue per socket made one notice cost a database read per open
console (issue 5). The sockets of one process therefore share :class:`QueueSnapshots`: one
read of the open cases answers every socket whose notice came before that read began
(single flight), and each socket keeps what its account may see in Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select

from app.wiring import Runtime
from core.events import QUEUE_TOPIC, Notice, conversation_topic
from handoff.console.alerts import ALERT_TOPIC, frame_for
from handoff.console.auth import Staff, current_staff
from handoff.console.resources import handoff_config
from handoff.console.views import CaseRow, case_row, may_see, visible_pools
from handoff.models import Case
from storage.db import Database, utcnow
from storage.models import Conversation

router = APIRouter(prefix="/console")
REREAD_SECONDS = 3.0
# A periodic round (no notice) accepts a shared snapshot read this recently.
SNAPSHOT_FRESH_SECONDS = 1.0
# The session row is read at most this often (every periodic round still checks it).
SESSION_CHECK_SECONDS = 2.5
# Close code (application range 4000–4999) for "the session was revoked or expired".
SESSION_ENDED = 4401


@dataclass(frozen=True)
class OpenCases:
    """Every queued and claimed case of one read, in queue order (urgency, then waiting)."""

    started: float  # time.monotonic() when the read began
    queued: tuple[CaseRow, ...]
    claimed: tuple[CaseRow, ...]

    def frame_for(self, staff: Staff) -> dict[str, Any]:
        """The ``queue`` frame of ``staff``: what ``queue_rows``/``open_rows`` would show."""
        pools = visible_pools(staff)
        return {
            "type": "queue",
            "queued": [r.as_frame() for r in self.queued if pools is None or r.pool in pools],
            "claimed": [
                r.as_frame() for r in self.claimed if staff.sees_all or r.counselor == staff.id
            ],
        }


class QueueSnapshots:
    """One process's shared read of the open cases (see the module docstring)."""

    def __init__(self) -> None:
        """Empty until the first socket asks."""
        self._lock = asyncio.Lock()
        self._latest: OpenCases | None = None

    async def since(self, database: Database, started_after: float) -> OpenCases:
        """A snapshot whose read began at or after ``started_after`` (``time.monotonic()``).

        Callers pass the moment their notice arrived: whatever was committed before the
        notice was published is then in the snapshot. Only one read runs at a time; those
        who waited for it take its result if it began late enough.
        """
        async with self._lock:
            latest = self._latest
            if latest is not None and latest.started >= started_after:
                return latest
            latest = self._latest = await _read_open_cases(database)
            return latest


async def _read_open_cases(database: Database) -> OpenCases:
    started = time.monotonic()
    config = handoff_config()
    async with database.reads() as session:
        cases = (
            await session.scalars(
                select(Case)
                .where(Case.status.in_(("queued", "claimed")))
                .order_by(Case.urgency.desc(), Case.created_at.asc(), Case.id.asc())
            )
        ).all()
    now = utcnow()
    rows = [case_row(c, config, now) for c in cases]
    return OpenCases(
        started=started,
        queued=tuple(r for r in rows if r.status == "queued"),
        claimed=tuple(r for r in rows if r.status == "claimed"),
    )


def shared_snapshots(websocket: WebSocket) -> QueueSnapshots:
    """The app's (so this process's) :class:`QueueSnapshots`, made on first use."""
    state = websocket.app.state
    snapshots = getattr(state, "console_queue_snapshots", None)
    if not isinstance(snapshots, QueueSnapshots):
        snapshots = state.console_queue_snapshots = QueueSnapshots()
    return snapshots


async def _case_version(runtime: Runtime, staff: Staff, case_id: str) -> dict[str, Any] | None:
    async with runtime.database.reads() as session:
        case = await session.get(Case, case_id, populate_existing=True)
        if case is None or not may_see(staff, case):
            return None
        row = await session.execute(
            select(Conversation.message_count, Conversation.owner).where(
                Conversation.id == case.conversation_id
            )
        )
        count, owner = row.one()
        return {
            "type": "case",
            "case_id": case.id,
            "conversation_id": case.conversation_id,
            "version": f"{count}:{owner}:{case.status}:{case.counselor or ''}",
        }


async def _merge(
    stack: contextlib.AsyncExitStack, runtime: Runtime, topics: list[str]
) -> asyncio.Queue[tuple[str, Notice, float]]:
    """One queue of (topic, notice, when heard) from the subscriptions to ``topics``.

    The subscriptions close with ``stack``. The time (``time.monotonic()``) is taken as the
    notice arrives, before the socket's own loop gets to it: every socket of the process
    hears a notice in the same turn of the event loop, so one shared read begun after that
    answers them all (a time taken later would make the slower sockets read again).
    """
    merged: asyncio.Queue[tuple[str, Notice, float]] = asyncio.Queue(100)

    async def pump(topic: str, notices: AsyncIterator[Notice]) -> None:
        async for notice in notices:
            if merged.full():
                merged.get_nowait()
            merged.put_nowait((topic, notice, time.monotonic()))

    for topic in topics:
        notices = await stack.enter_async_context(runtime.events.subscribe(topic))
        task = asyncio.create_task(pump(topic, notices))
        stack.callback(task.cancel)
    return merged


@router.websocket("/ws")
async def console_socket(websocket: WebSocket, case: str | None = None) -> None:
    """Pushes queue snapshots and the watched case's version whenever they change."""
    runtime: Runtime = websocket.app.state.runtime
    staff = await current_staff(websocket, runtime)
    if staff is None:
        await websocket.close(code=1008)
        return
    await websocket.accept()
    topics = [QUEUE_TOPIC, ALERT_TOPIC]
    if case is not None:
        version = await _case_version(runtime, staff, case)
        if version is None:
            await websocket.close(code=1008)
            return
        topics.append(conversation_topic(str(version["conversation_id"])))
    sent: dict[str, Any] = {}
    alert: Notice | None = None
    snapshots = shared_snapshots(websocket)
    checked_at = time.monotonic()
    try:
        async with contextlib.AsyncExitStack() as stack:
            merged = await _merge(stack, runtime, topics)
            # The first round reads after subscribing (nothing falls in between); later
            # ones as of their notice, or recently enough on a periodic round.
            wanted_after = time.monotonic()
            receiver = asyncio.create_task(websocket.receive_text())
            stack.callback(receiver.cancel)
            while True:
                if alert is not None:
                    # Sent at once, before the database is read again.
                    alert_frame = frame_for(staff, alert)
                    if alert_frame is not None:
                        await websocket.send_json(alert_frame)
                    alert = None
                # Logout, a password change or removal ends the socket too; the page then
                # goes to the sign-in form.
                if time.monotonic() - checked_at >= SESSION_CHECK_SECONDS:
                    checked = await current_staff(websocket, runtime)
                    if checked is None:
                        await websocket.close(code=SESSION_ENDED)
                        return
                    staff, checked_at = checked, time.monotonic()
                frames = [(await snapshots.since(runtime.database, wanted_after)).frame_for(staff)]
                if case is not None:
                    version = await _case_version(runtime, staff, case)
                    if version is not None:
                        frames.append(version)
                for frame in frames:
                    if sent.get(frame["type"]) != frame:
                        await websocket.send_json(frame)
                        sent[frame["type"]] = frame
                waiter = asyncio.create_task(merged.get())
                done, _ = await asyncio.wait(
                    {waiter, receiver},
                    timeout=REREAD_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waiter.cancel()
                wanted_after = time.monotonic() - SNAPSHOT_FRESH_SECONDS
                if waiter.done() and not waiter.cancelled():
                    topic, notice, wanted_after = waiter.result()
                    if topic == ALERT_TOPIC:
                        alert = notice
                    # Every message of a waiting resident is a queue notice: one re-read
                    # answers all that are waiting (an alert stops the draining, and is
                    # sent first thing in the next round).
                    while alert is None and not merged.empty():
                        topic, notice, heard = merged.get_nowait()
                        wanted_after = max(wanted_after, heard)
                        if topic == ALERT_TOPIC:
                            alert = notice
                    # A read begun after the last notice heard sees every commit noticed:
                    # each was committed before its notice was published.
                if receiver in done:
                    receiver.result()  # raises WebSocketDisconnect when the page closes
                    receiver = asyncio.create_task(websocket.receive_text())
                    stack.callback(receiver.cancel)
    except WebSocketDisconnect:
        return
