"""Operator endpoints for the running app, reachable from the same machine only.

``POST /ops/kb/reload`` re-reads the knowledge content (``tsunagu kb reload`` calls it): the
index is rebuilt and swapped only if the content hash changed, and searches keep running on
the previous index meanwhile. Invalid content is refused and the previous index stays.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from app.deps import RuntimeDep
from core.logging import log_event
from knowledge.content_loader import ContentError

router = APIRouter(prefix="/ops", tags=["ops"])
logger = logging.getLogger("tsunagu.ops")


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.post("/kb/reload")
async def kb_reload(request: Request, rt: RuntimeDep) -> dict[str, Any]:
    """Reloads the knowledge base if its content changed (loopback clients only)."""
    if not _from_loopback(request):
        raise HTTPException(status_code=403, detail="ops endpoints answer loopback clients only")
    knowledge = getattr(rt, "knowledge", None)
    reload = getattr(knowledge, "reload", None)
    if reload is None:
        raise HTTPException(status_code=404, detail="no reloadable knowledge base is loaded")
    try:
        result = await asyncio.to_thread(reload)
    except ContentError as exc:
        log_event(logger, "kb_reload", status="invalid", error_type=type(exc).__name__)
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    log_event(
        logger,
        "kb_reload",
        status="changed" if result.changed else "unchanged",
        count=result.faqs + result.guides,
        duration_ms=round(result.seconds * 1000, 1),
    )
    return {
        "changed": result.changed,
        "content_hash": result.content_hash,
        "faqs": result.faqs,
        "guides": result.guides,
        "seconds": round(result.seconds, 3),
    }
