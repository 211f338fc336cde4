"""retention: when a closed ticket's content was forgotten

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import intake.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TO_PURGE = sa.text("status = 'closed' AND content_purged_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("content_purged_at", intake.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_tickets_to_purge",
        "tickets",
        ["closed_at"],
        unique=False,
        postgresql_where=TO_PURGE,
        sqlite_where=TO_PURGE,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_to_purge", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("content_purged_at")
