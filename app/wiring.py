"""Builds the engine and its collaborators from settings (shared by the app and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bot.channel_events import ChannelEvents
from bot.engine import Engine, EngineDeps
from bot.flows.guide_flow import FlowLimits
from bot.responses import Responses
from bot.safety.assessment import SafetyAssessor
from bot.safety.lexicon import CrisisLexicon
from bot.safety.person_request import PersonRequests
from bot.types import SafetyCategory
from channels.line.api import LineApi
from core.config import Settings
from core.event_buses import build_event_bus
from core.events import EventBus, LocalEventBus
from handoff.notice_texts import NoticeTexts
from handoff.pools import load_config
from handoff.queue import PoolRouter
from handoff.resident_notices import NoticeSweeper, ResidentNotices
from knowledge.types import KnowledgeSource
from nlu.client import NluClient, RasaClient
from storage.crypto import Keyring
from storage.db import Database
from storage.keys import load_keyring, load_pepper
from storage.transcript import Transcript


@dataclass
class Runtime:
    """The live objects of one process; closed together on shutdown."""

    settings: Settings
    database: Database
    nlu: NluClient
    engine: Engine
    keyring: Keyring
    pepper: bytes
    transcript: Transcript
    channel_events: ChannelEvents
    workers: list[Any] = field(default_factory=list)
    line_api: LineApi | None = None
    knowledge: KnowledgeSource | None = None
    # Cross-worker notices (ids only). In-process by default; build_runtime picks Redis or
    # PostgreSQL NOTIFY for several workers (core/event_buses.py, TSUNAGU_EVENT_BUS).
    events: EventBus = field(default_factory=LocalEventBus)
    # Queue updates and session notices for waiting residents, and the loop that sweeps
    # them (started with the workers; kept apart so that new inbox work does not wake it).
    resident_notices: ResidentNotices | None = None
    notice_sweeper: NoticeSweeper | None = None

    def wake_workers(self) -> None:
        """Tells this process's workers there is new work (others find it by polling)."""
        for worker in self.workers:
            worker.wake()

    def wake_resident_notices(self) -> None:
        """Asks this process's notice sweeper to look at the queue now (a case moved)."""
        if self.notice_sweeper is not None:
            self.notice_sweeper.wake()

    async def start_events(self) -> None:
        """Connects a Redis/PostgreSQL event bus (needs the running loop; app lifespan)."""
        start = getattr(self.events, "start", None)
        if start is not None:
            await start()

    async def aclose(self) -> None:
        """Closes the NLU client, the LINE client, the event bus and the database pool."""
        close = getattr(self.nlu, "aclose", None)
        if close is not None:
            await close()
        close_events = getattr(self.events, "aclose", None)
        if close_events is not None:
            await close_events()
        if self.line_api is not None:
            await self.line_api.aclose()
        await self.database.dispose()


def load_knowledge(settings: Settings) -> KnowledgeSource:
    """The FAQ and guide knowledge base (builds the embedding model on first use; slow once).

    ``tsunagu serve`` and the conversation evals pass it to :func:`build_runtime`; without
    it the bot answers from the intent templates only.
    """
    from knowledge.base import KbPaths, KnowledgeBase

    paths = KbPaths.from_settings(settings)
    if settings.kb_model_dir is not None:
        paths = replace(paths, model_cache=settings.kb_model_dir.expanduser().resolve())
    return KnowledgeBase.load(settings, paths=paths)


def build_runtime(
    settings: Settings,
    *,
    nlu_url: str,
    nlu: NluClient | None = None,
    knowledge: KnowledgeSource | None = None,
) -> Runtime:
    """Loads content, keys and the database (migrated), and wires the engine.

    Blocking (migrations, file reads): call before the event loop serves requests.
    """
    database = Database(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    database.migrate()
    client: NluClient = nlu or RasaClient(nlu_url, timeout_seconds=settings.nlu_timeout_seconds)
    keyring = load_keyring(settings)
    pepper = load_pepper(settings)
    transcript = Transcript(keyring)
    events = build_event_bus(settings)
    responses = Responses.load()
    handoff_config = load_config()
    notice_texts = NoticeTexts.load()
    deps = EngineDeps(
        database=database,
        transcript=transcript,
        nlu=client,
        assessor=SafetyAssessor(CrisisLexicon.load(), person_requests=PersonRequests.load()),
        responses=responses,
        router=PoolRouter.load(),
        pepper=pepper,
        nlu_timeout_seconds=settings.nlu_timeout_seconds,
        knowledge=knowledge,
        flow_limits=FlowLimits(
            resume_after=timedelta(minutes=settings.flow_resume_after_minutes),
            expire_after=timedelta(hours=settings.flow_expire_after_hours),
        ),
        events=events,
        handoff_config=handoff_config,
        notice_texts=notice_texts,
    )
    engine = Engine(deps)
    runtime = Runtime(
        settings=settings,
        database=database,
        nlu=client,
        engine=engine,
        keyring=keyring,
        pepper=pepper,
        transcript=transcript,
        channel_events=ChannelEvents(deps),
        knowledge=knowledge,
        events=events,
    )
    runtime.resident_notices = ResidentNotices(
        database=database,
        transcript=transcript,
        config=handoff_config,
        texts=notice_texts,
        hotlines=lambda language, categories: responses.always_open_block(
            language, tuple(SafetyCategory(c) for c in categories)
        ),
        events=events,
        # A LINE notice is in the outbox: wake this process's sender (others poll).
        on_outbox=runtime.wake_workers,
    )
    return runtime
