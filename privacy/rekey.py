"""Re-wrapping live data keys under the newest master key, so old master keys can be destroyed.

This is what makes crypto-shredding reach backups: a backup taken before a shred still holds
the wrapped data key, but once every live key is re-wrapped under a new master key version
and the old version is removed from ``TSUNAGU_MASTER_KEY`` (after the last backup that
needs it has expired), nothing can unwrap the keys in that backup any more.

Steps: add a version (``1:<old>,2:<new>``), run ``tsunagu keys rewrap``, and later, when no
backup from before the rewrap is kept, drop ``1:<old>``.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.crypto import Keyring
from storage.db import Database
from storage.models import ConversationKey

BATCH_SIZE = 200


async def rewrap_data_keys(database: Database, keyring: Keyring) -> int:
    """Re-wraps every live data key not yet under the current master version; idempotent."""
    current = keyring.current_version
    total = 0
    while True:
        async with database.session() as session:
            rows = (
                await session.scalars(
                    select(ConversationKey)
                    .where(
                        ConversationKey.wrapped_key.is_not(None),
                        ConversationKey.master_version != current,
                    )
                    .limit(BATCH_SIZE)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                assert row.wrapped_key is not None
                data_key = keyring.unwrap(row.wrapped_key, row.conversation_id, row.master_version)
                row.wrapped_key, row.master_version = keyring.wrap(data_key, row.conversation_id)
        total += len(rows)
        if len(rows) < BATCH_SIZE:
            return total
