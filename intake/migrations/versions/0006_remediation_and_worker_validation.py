"""remediation and worker validation: timeline, actions, repayments, validations, closure

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 02:40:53.321694
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import intake.db
import intake.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remediation_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("text_sealed", intake.models.SealedBytes(), nullable=False),
        sa.Column("owner_sealed", intake.models.SealedBytes(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_remediation_actions_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_remediation_actions_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_actions")),
    )
    op.create_index(
        "ix_remediation_actions_ticket",
        "remediation_actions",
        ["ticket_id", "due_on"],
        unique=False,
    )
    op.create_table(
        "remediations",
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("first_response_on", sa.Date(), nullable=True),
        sa.Column("plan_agreed_on", sa.Date(), nullable=True),
        sa.Column("actions_done_on", sa.Date(), nullable=True),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("updated_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_remediations_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_remediations_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_remediations")),
    )
    op.create_table(
        "validations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("summary_sealed", intake.models.SealedBytes(), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("awaiting", sa.String(length=16), nullable=True),
        sa.Column("unclear_replies", sa.Integer(), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("next_due_at", intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "requested_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("requested_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "recorded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'validated', 'disputed', 'unvalidated', 'withdrawn')",
            name=op.f("ck_validations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_validations_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_validations_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_validations_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validations")),
    )
    op.create_index(
        "ix_validations_ticket", "validations", ["ticket_id", "requested_at"], unique=False
    )
    op.create_index(
        "ix_validations_waiting",
        "validations",
        ["next_due_at"],
        unique=False,
        postgresql_where=sa.text("next_due_at IS NOT NULL"),
        sqlite_where=sa.text("next_due_at IS NOT NULL"),
    )
    op.create_table(
        "repayments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("owed_minor", sa.BigInteger(), nullable=False),
        sa.Column("repaid_minor", sa.BigInteger(), nullable=False),
        sa.Column("workers_affected", sa.Integer(), nullable=False),
        sa.Column("workers_eligible", sa.Integer(), nullable=False),
        sa.Column("workers_repaid", sa.Integer(), nullable=False),
        sa.Column("validation_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('recruitment_fees', 'wages', 'other')", name=op.f("ck_repayments_kind")
        ),
        sa.CheckConstraint(
            "owed_minor >= 0 AND repaid_minor >= 0", name=op.f("ck_repayments_amounts")
        ),
        sa.CheckConstraint(
            "workers_repaid <= workers_eligible AND workers_eligible <= workers_affected",
            name=op.f("ck_repayments_workers"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_repayments_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_repayments_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["validation_id"],
            ["validations.id"],
            name=op.f("fk_repayments_validation_id_validations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repayments")),
    )
    op.create_index(op.f("ix_repayments_ticket_id"), "repayments", ["ticket_id"], unique=False)
    op.create_index(
        op.f("ix_repayments_validation_id"), "repayments", ["validation_id"], unique=False
    )
    # SQLite cannot add a foreign key in place: batch mode copies the table there.
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.add_column(sa.Column("closed_as", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column(
                "closed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("close_reason_sealed", intake.models.SealedBytes(), nullable=True)
        )
        batch_op.add_column(sa.Column("validation_status", sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_tickets_closed_by_users"), "users", ["closed_by"], ["id"]
        )
    _restore_queue_index()


def _restore_queue_index() -> None:
    """Batch mode on SQLite rebuilds indexes without their DESC: put the queue's back."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_tickets_open_queue", table_name="tickets")
    op.create_index(
        "ix_tickets_open_queue",
        "tickets",
        ["organisation_id", sa.literal_column("urgent DESC"), "created_at", "id"],
        sqlite_where=sa.text("status <> 'closed'"),
    )


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_constraint(op.f("fk_tickets_closed_by_users"), type_="foreignkey")
        batch_op.drop_column("validation_status")
        batch_op.drop_column("close_reason_sealed")
        batch_op.drop_column("closed_by")
        batch_op.drop_column("closed_as")
    _restore_queue_index()
    op.drop_index(op.f("ix_repayments_validation_id"), table_name="repayments")
    op.drop_index(op.f("ix_repayments_ticket_id"), table_name="repayments")
    op.drop_table("repayments")
    op.drop_index(
        "ix_validations_waiting",
        table_name="validations",
        postgresql_where=sa.text("next_due_at IS NOT NULL"),
        sqlite_where=sa.text("next_due_at IS NOT NULL"),
    )
    op.drop_index("ix_validations_ticket", table_name="validations")
    op.drop_table("validations")
    op.drop_table("remediations")
    op.drop_index("ix_remediation_actions_ticket", table_name="remediation_actions")
    op.drop_table("remediation_actions")
