"""The Alembic migrations build exactly the schema the models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

import handoff.models  # noqa: F401  (registers the cases table)
import storage.models  # noqa: F401
from storage.db import Base, Database, sync_url


async def test_migrations_match_models(database: Database) -> None:
    engine = create_engine(sync_url(database.url))
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], "models changed without a migration: " + repr(diff)
