"""After a console action commits: deliver what was queued and tell every worker to look again.

A LINE message is already in the durable outbox; waking this process's sender makes it go
out now (other workers find it by polling). A web message is pushed to the resident's open
widget sockets through the app's web hub. The hub is found on ``app.state`` rather than
imported, so ``handoff`` keeps pointing away from ``channels`` (channels → bot → handoff).
Notices carry ids only, never text.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import HTTPConnection

from app.wiring import Runtime
from core.events import QUEUE_TOPIC, conversation_topic
from handoff.messaging import Delivery


class _Hub(Protocol):
    async def deliver(self, conversation_id: str, frame: dict[str, Any]) -> bool: ...


async def deliver(request: HTTPConnection, runtime: Runtime, delivery: Delivery | None) -> None:
    """Sends a committed message on its channel (LINE: wake the sender; web: push a frame)."""
    if delivery is None:
        return
    if delivery.outbox_id is not None:
        runtime.wake_workers()
    if delivery.web_frame is not None:
        hub: _Hub | None = getattr(request.app.state, "web_hub", None)
        if hub is not None:
            await hub.deliver(delivery.conversation_id, delivery.web_frame)
    await runtime.events.publish(
        conversation_topic(delivery.conversation_id),
        {"kind": "message", "message_id": delivery.message_id},
    )


async def case_changed(runtime: Runtime, case_id: str, conversation_id: str, kind: str) -> None:
    """Tells every console that a case moved (queue) and its conversation changed."""
    await runtime.events.publish(QUEUE_TOPIC, {"kind": kind, "case_id": case_id})
    await runtime.events.publish(
        conversation_topic(conversation_id), {"kind": kind, "case_id": case_id}
    )
