"""Alembic environment: the engine comes from the caller (intake.schema) or the config URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import intake.models  # noqa: F401 - registers every table on Base.metadata
from intake.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run_with(conn)
    engine.dispose()
