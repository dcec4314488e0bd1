"""Builds the engine and its collaborators from settings (shared by the app and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine import Engine, EngineDeps
from bot.responses import Responses
from bot.safety.assessment import SafetyAssessor
from bot.safety.lexicon import CrisisLexicon
from core.config import Settings
from handoff.queue import PoolRouter
from nlu.client import NluClient, RasaClient
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

    async def aclose(self) -> None:
        """Closes the NLU client and the database pool."""
        close = getattr(self.nlu, "aclose", None)
        if close is not None:
            await close()
        await self.database.dispose()


def build_runtime(settings: Settings, *, nlu_url: str, nlu: NluClient | None = None) -> Runtime:
    """Loads content, keys and the database (migrated), and wires the engine.

    Blocking (migrations, file reads): call before the event loop serves requests.
    """
    database = Database(settings.resolved_database_url)
    database.migrate()
    client: NluClient = nlu or RasaClient(nlu_url, timeout_seconds=settings.nlu_timeout_seconds)
    engine = Engine(
        EngineDeps(
            database=database,
            transcript=Transcript(load_keyring(settings)),
            nlu=client,
            assessor=SafetyAssessor(CrisisLexicon.load()),
            responses=Responses.load(),
            router=PoolRouter.load(),
            pepper=load_pepper(settings),
            nlu_timeout_seconds=settings.nlu_timeout_seconds,
        )
    )
    return Runtime(settings=settings, database=database, nlu=client, engine=engine)
