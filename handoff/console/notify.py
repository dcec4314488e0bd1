"""After a console action commits: deliver what was queued and tell every worker to look again.

A LINE message is already in the durable outbox; waking this process's sender makes it go
out now (other workers find it by polling). A web message is already in the transcript: the
``message`` notice on the conversation's topic makes every worker holding one of the
resident's widget sockets read and push it (``channels/web/feed.py``), exactly once per
socket, so nothing is pushed from here. Notices carry ids only, never text.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from app.wiring import Runtime
from core.events import QUEUE_TOPIC, conversation_topic
from handoff.messaging import Delivery

# Console actions that leave every queue row as it was.
QUEUE_UNCHANGED = frozenset({"message", "note"})


async def deliver(request: HTTPConnection, runtime: Runtime, delivery: Delivery | None) -> None:
    """Sends a committed message on its channel (LINE: wake the sender; web: the notice).

    ``request`` is kept for callers; the web push no longer depends on which worker
    handled the console's request.
    """
    if delivery is None:
        return
    if delivery.outbox_id is not None:
        runtime.wake_workers()
    await runtime.events.publish(
        conversation_topic(delivery.conversation_id),
        {"kind": "message", "message_id": delivery.message_id},
    )


async def case_changed(runtime: Runtime, case_id: str, conversation_id: str, kind: str) -> None:
    """Tells every console that a case moved (queue) and its conversation changed.

    A message or a note changes the conversation, not the queue (its rows show no text
    and no message count), so those go to the conversation's topic only: a ``queue``
    notice makes every console socket and every worker's alerter look again, which a
    counselor's reply must not cost (issue 5). Anything else also wakes this process's
    resident-notice sweeper: residents still waiting may have moved up (other processes
    notice on their next periodic sweep).
    """
    if kind not in QUEUE_UNCHANGED:
        await runtime.events.publish(QUEUE_TOPIC, {"kind": kind, "case_id": case_id})
    await runtime.events.publish(
        conversation_topic(conversation_id), {"kind": kind, "case_id": case_id}
    )
    if kind not in QUEUE_UNCHANGED:
        runtime.wake_resident_notices()
