"""public ids: referrals and repayments named in URLs by a random id

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:45:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("referrals", "repayments")


def upgrade() -> None:
    connection = op.get_bind()
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("public_id", sa.Uuid(), nullable=True))
        rows = sa.table(table, sa.column("id", sa.Integer()), sa.column("public_id", sa.Uuid()))
        for (row_id,) in connection.execute(sa.select(rows.c.id)).all():
            connection.execute(
                rows.update().where(rows.c.id == row_id).values(public_id=uuid.uuid4())
            )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("public_id", existing_type=sa.Uuid(), nullable=False)
            batch.create_unique_constraint(op.f(f"uq_{table}_public_id"), ["public_id"])


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"uq_{table}_public_id"), type_="unique")
            batch.drop_column("public_id")
