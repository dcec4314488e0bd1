"""``/console/ws``: the live queue and "this case changed" signals for an open console page.

The socket subscribes to the ``queue`` topic and, when the page names a case, to that
case's conversation topic. Notices say only "look again": on each one (and every few
seconds in case a notice was missed, e.g. a case opened by the bot in another worker) the
socket re-reads the queue from the database and sends it if it changed. For a watched case
it sends a version (message count, owner, status; never text) and the page fetches the
audited transcript itself.

The socket also subscribes to the ``alerts`` topic (``handoff/console/alerts.py``) and sends
an ``alert`` frame when an emergency case opens in one of the account's pools (or to any
supervisor/admin). The session is re-checked on every round, so a logged-out or revoked
session loses its socket within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select

from app.wiring import Runtime
from core.events import QUEUE_TOPIC, Notice, conversation_topic
from handoff.console.alerts import ALERT_TOPIC, frame_for
from handoff.console.auth import Staff, current_staff
from handoff.console.resources import handoff_config
from handoff.console.views import may_see, open_rows, queue_rows
from handoff.models import Case
from storage.models import Conversation

router = APIRouter(prefix="/console")
REREAD_SECONDS = 3.0
# Close code (application range 4000–4999) for "the session was revoked or expired".
SESSION_ENDED = 4401


async def _queue_frame(runtime: Runtime, staff: Staff) -> dict[str, Any]:
    config = handoff_config()
    async with runtime.database.session() as session:
        queued = await queue_rows(session, config, staff)
        claimed = await open_rows(session, config, staff)
    return {
        "type": "queue",
        "queued": [r.as_frame() for r in queued],
        "claimed": [r.as_frame() for r in claimed],
    }


async def _case_version(runtime: Runtime, staff: Staff, case_id: str) -> dict[str, Any] | None:
    async with runtime.database.session() as session:
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
) -> asyncio.Queue[tuple[str, Notice]]:
    """One queue of (topic, notice) from the subscriptions to ``topics`` (closed with ``stack``)."""
    merged: asyncio.Queue[tuple[str, Notice]] = asyncio.Queue(100)

    async def pump(topic: str, notices: AsyncIterator[Notice]) -> None:
        async for notice in notices:
            if merged.full():
                merged.get_nowait()
            merged.put_nowait((topic, notice))

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
    try:
        async with contextlib.AsyncExitStack() as stack:
            merged = await _merge(stack, runtime, topics)
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
                checked = await current_staff(websocket, runtime)
                if checked is None:
                    await websocket.close(code=SESSION_ENDED)
                    return
                staff = checked
                frames = [await _queue_frame(runtime, staff)]
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
                if waiter.done() and not waiter.cancelled():
                    topic, notice = waiter.result()
                    if topic == ALERT_TOPIC:
                        alert = notice
                    # Every message of a waiting resident is a queue notice: one re-read
                    # answers all that are waiting (an alert stops the draining, and is
                    # sent first thing in the next round).
                    while alert is None and not merged.empty():
                        topic, notice = merged.get_nowait()
                        if topic == ALERT_TOPIC:
                            alert = notice
                if receiver in done:
                    receiver.result()  # raises WebSocketDisconnect when the page closes
                    receiver = asyncio.create_task(websocket.receive_text())
                    stack.callback(receiver.cancel)
    except WebSocketDisconnect:
        return
