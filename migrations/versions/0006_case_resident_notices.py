"""cases: what the resident was last told (queue position, wait, session notices)

The columns are compare-and-set guards: a worker sends a queue update or a session notice
only if its ``UPDATE … WHERE <old value>`` wins, so several app workers never send the same
notice twice.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 15:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notified_position", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("notified_wait_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("session_warned_for", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("session_closed_for", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("session_closed_for")
        batch_op.drop_column("session_warned_for")
        batch_op.drop_column("notified_at")
        batch_op.drop_column("notified_wait_minutes")
        batch_op.drop_column("notified_position")
