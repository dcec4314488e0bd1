"""Putting escalated conversations into the counselor queue."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.errors import RoutingConfigError
from handoff.models import Case
from storage.db import utcnow

OPEN_STATUSES = ("queued", "claimed")
ROUTING_FILE = Path(__file__).resolve().parent / "config" / "routing.yml"


class PoolRouter:
    """Maps safety categories to counselor pools, from ``handoff/config/routing.yml``."""

    def __init__(self, routes: dict[str, str], default_pool: str) -> None:
        """Use :meth:`load`."""
        self._routes = routes
        self.default_pool = default_pool

    @classmethod
    def load(cls, path: Path = ROUTING_FILE) -> PoolRouter:
        """Reads the routing file and checks every route names a known pool."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RoutingConfigError(f"cannot read {path}: {exc}") from exc
        pools = set(data.get("pools") or [])
        routes = {str(k): str(v) for k, v in (data.get("routes") or {}).items()}
        default_pool = str(data.get("default_pool", "general"))
        unknown = {p for p in [*routes.values(), default_pool] if p not in pools}
        if unknown:
            raise RoutingConfigError(f"{path}: unknown pools {sorted(unknown)}")
        return cls(routes, default_pool)

    def pool_for(self, categories: list[str]) -> str:
        """The pool of the first (most important) category, or the default pool."""
        for category in categories:
            if category in self._routes:
                return self._routes[category]
        return self.default_pool


async def enqueue(
    *,
    session: AsyncSession,
    conversation_id: str,
    urgency: int,
    pool: str,
    reasons: tuple[str, ...],
) -> Case:
    """Opens a case, or raises the urgency of the conversation's open case (never lowers it)."""
    case = await session.scalar(
        select(Case)
        .where(Case.conversation_id == conversation_id, Case.status.in_(OPEN_STATUSES))
        .with_for_update()
    )
    if case is None:
        case = Case(
            id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            status="queued",
            urgency=urgency,
            pool=pool,
            reasons=",".join(reasons)[:500],
        )
        session.add(case)
    else:
        case.urgency = max(case.urgency, urgency)
        merged = list(dict.fromkeys([*case.reasons.split(","), *reasons]))
        case.reasons = ",".join(r for r in merged if r)[:500]
        case.updated_at = utcnow()
    await session.flush()
    return case
