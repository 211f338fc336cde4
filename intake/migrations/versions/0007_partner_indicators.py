"""partner indicators: ethical performance scores, incident reports, reach, partners' businesses

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 03:28:00.522322
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import intake.db
import intake.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ethical_scores",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "business_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("indicator", sa.String(length=40), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column(
            "recorded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("recorded_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "score IS NULL OR score BETWEEN 1 AND 5", name=op.f("ck_ethical_scores_score")
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_ethical_scores_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_ethical_scores_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ethical_scores_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ethical_scores")),
        sa.UniqueConstraint("ticket_id", "business_id", "indicator", name="uq_ethical_scores"),
    )
    op.create_index(
        "ix_ethical_scores_business", "ethical_scores", ["business_id", "indicator"], unique=False
    )
    op.create_table(
        "incident_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text_sealed", intake.models.SealedBytes(), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint(
            "kind IN ('initial', 'follow_up')", name=op.f("ck_incident_reports_kind")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_incident_reports_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["sent_by"], ["users.id"], name=op.f("fk_incident_reports_sent_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_incident_reports_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_reports")),
    )
    op.create_index(
        "ix_incident_reports_ticket", "incident_reports", ["ticket_id", "created_at"], unique=False
    )
    # SQLite cannot add a foreign key in place: batch mode copies the table there.
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column(
                "business_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_foreign_key(
            op.f("fk_users_business_id_businesses"), "businesses", ["business_id"], ["id"]
        )
    op.add_column("workers", sa.Column("gender", sa.String(length=16), nullable=True))
    op.add_column("workers", sa.Column("nationality", sa.String(length=2), nullable=True))
    op.add_column(
        "workers",
        sa.Column("profile_consent_at", intake.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("workers", "profile_consent_at")
    op.drop_column("workers", "nationality")
    op.drop_column("workers", "gender")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(op.f("fk_users_business_id_businesses"), type_="foreignkey")
        batch_op.drop_column("business_id")
    op.drop_index("ix_incident_reports_ticket", table_name="incident_reports")
    op.drop_table("incident_reports")
    op.drop_index("ix_ethical_scores_business", table_name="ethical_scores")
    op.drop_table("ethical_scores")
