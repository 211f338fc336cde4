"""queue counts from the index: the open-queue index carries the filtered columns

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS: list[str | sa.ColumnElement[object]] = [
    "organisation_id",
    sa.literal_column("urgent DESC"),
    "created_at",
    "id",
]
OPEN = sa.text("status <> 'closed'")


def _recreate(include: list[str]) -> None:
    # INCLUDE is PostgreSQL's; SQLite keeps the index as it was.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_tickets_open_queue", table_name="tickets")
    op.create_index(
        "ix_tickets_open_queue",
        "tickets",
        COLUMNS,
        unique=False,
        postgresql_where=OPEN,
        postgresql_include=include,
    )


def upgrade() -> None:
    _recreate(["status", "language", "channel", "assignee_id"])


def downgrade() -> None:
    _recreate([])
