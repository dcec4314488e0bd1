"""Alembic environment: runs migrations with the blocking driver for the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import handoff.models  # noqa: F401  (registers the cases table)
import storage.models  # noqa: F401  (registers the core tables)
from storage.db import Base

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Emits SQL without a connection (``alembic upgrade --sql``)."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Applies migrations over a real connection."""
    connectable = engine_from_config(
        context.config.get_section(context.config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        # Batch mode lets later migrations ALTER tables on SQLite too.
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
