"""worker self-service: talk to a person, erase my data

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import intake.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("person_requested_at", intake.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", intake.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("person_requested_at")
