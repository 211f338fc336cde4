"""message lookups: by the provider's id, and the replies still queued

Twilio's status callbacks (several a message) and the look for a send a killed worker
left unrecorded find a message by its provider id; the sweeper finds replies still
queued. Both read the whole messages table without these (0.4 s and more at 5M rows).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAS_PROVIDER_ID = sa.text("provider_message_id IS NOT NULL")
QUEUED = sa.text("delivery_status = 'queued'")


def upgrade() -> None:
    op.create_index(
        "ix_messages_provider_id",
        "messages",
        ["provider_message_id"],
        postgresql_where=HAS_PROVIDER_ID,
        sqlite_where=HAS_PROVIDER_ID,
    )
    op.create_index(
        "ix_messages_queued",
        "messages",
        ["created_at"],
        postgresql_where=QUEUED,
        sqlite_where=QUEUED,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_queued", table_name="messages")
    op.drop_index("ix_messages_provider_id", table_name="messages")
