"""The migrations build exactly the schema the models describe, on PostgreSQL and SQLite,
and the newest one steps down and up again without losing what it must keep."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from intake.db import Base, make_engine
from intake.schema import alembic_config, upgrade

from integration.conftest import PG_ADMIN_URL, _sqlalchemy_url

NEWEST, BEFORE = "0009", "0008"
# The migration that rebuilt the tickets table on SQLite (to add a foreign key).
REBUILT_TICKETS = "0006"


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


@pytest.fixture
def fresh_postgres(database_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own (the run's shared one stays at head)."""
    name = f"voicedesk_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield _sqlalchemy_url(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migrated_postgresql_schema_is_what_the_models_describe(database_url: str) -> None:
    engine = make_engine(_sqlalchemy_url(database_url))
    try:
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_the_newest_migration_steps_down_and_up_on_postgresql(fresh_postgres: str) -> None:
    config = alembic_config(fresh_postgres)
    command.upgrade(config, NEWEST)
    command.downgrade(config, BEFORE)
    engine = make_engine(fresh_postgres)
    try:
        with engine.connect() as connection:
            tables = set(
                connection.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            )
        assert "key_checks" not in tables
        assert "tickets" in tables
        command.upgrade(config, "head")
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_sqlite_migrations_keep_the_queue_index_in_urgent_first_order(tmp_path: Path) -> None:
    """SQLite rebuilds a table to add a foreign key; the queue's index must survive it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    try:
        upgrade(engine)
        with engine.connect() as connection:
            index = connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'ix_tickets_open_queue'")
            )
        assert index is not None
        assert "urgent DESC" in index
        assert "WHERE status <> 'closed'" in index
        command.downgrade(alembic_config(str(engine.url)), f"{int(REBUILT_TICKETS) - 1:04d}")
        command.upgrade(alembic_config(str(engine.url)), "head")
        with engine.connect() as connection:
            again = connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'ix_tickets_open_queue'")
            )
        assert again == index
    finally:
        engine.dispose()
