"""The public export's cells on the embedded SQLite database, its formats, and its threshold."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake import exports
from intake.db import make_engine, make_sessionmaker
from intake.indicators import Figure
from intake.models import (
    Business,
    Category,
    Organisation,
    Ticket,
    TicketBusiness,
    TicketCategory,
    Worker,
)
from intake.schema import upgrade
from intake.settings import Settings, SettingsError


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'exports.sqlite3'}")
    upgrade(engine)  # the Alembic migrations, as `voicedesk init` runs them
    with make_sessionmaker(engine)() as db:
        yield db
    engine.dispose()


def _ticket(
    session: Session,
    worker: Worker,
    at: dt.datetime,
    country: str | None,
    business_ids: tuple[int, ...] = (),
    category_ids: tuple[int, ...] = (),
) -> None:
    organisation = session.scalars(select(Organisation)).one()
    ticket = Ticket(
        ref=uuid.uuid4().hex[:9],
        channel="telegram",
        organisation_id=organisation.id,
        worker_id=worker.id,
        country=country,
        created_at=at,
    )
    session.add(ticket)
    session.flush()
    session.add_all(TicketBusiness(ticket_id=ticket.id, business_id=b) for b in business_ids)
    session.add_all(TicketCategory(ticket_id=ticket.id, category_id=c) for c in category_ids)
    session.flush()


def test_cells_on_sqlite_count_each_key_of_a_ticket_by_utc_month(session: Session) -> None:
    session.add(Organisation(name="Mae Sot Migrant Centre", languages=["my"]))
    sea = Business(name="Golden Sea Foods", kind="supplier", sector="seafood")
    knit = Business(name="Siam Knitting", kind="supplier", sector="garments")
    brand = Business(name="Northwind Apparel", kind="brand", sector="retail")
    one = Worker(id=uuid.uuid4(), pseudonym="p-one", channel="telegram")
    two = Worker(id=uuid.uuid4(), pseudonym="p-two", channel="telegram")
    session.add_all([sea, knit, brand, one, two])
    session.flush()
    code = {c.code: c.id for c in session.scalars(select(Category))}
    # The last minutes of March in UTC: March, whatever the server's zone.
    march = dt.datetime(2024, 3, 31, 23, 50, tzinfo=dt.UTC)
    april = dt.datetime(2024, 4, 1, 0, 10, tzinfo=dt.UTC)
    both = (code["wages"], code["deception"])
    _ticket(session, one, march, "TH", (sea.id, knit.id, brand.id), both)
    _ticket(session, one, march, "TH", (sea.id,), (code["wages"],))
    _ticket(session, two, march, "", (brand.id,))
    _ticket(session, two, april, None)

    cells = {(c.dimension, c.key, c.month): (c.tickets, c.workers) for c in exports.cells(session)}
    assert {key: value for key, value in cells.items() if not key[0].startswith("reach")} == {
        ("country", "TH", "2024-03"): (Figure(2, 1), Figure(1, 1)),  # one worker, twice
        ("country", "unknown", "2024-03"): (Figure(1, 1), Figure(1, 1)),  # "" as no country
        ("country", "unknown", "2024-04"): (Figure(1, 1), Figure(1, 1)),
        # The brand's "retail" is not a sector of the ticket; no supplier: unknown.
        ("sector", "garments", "2024-03"): (Figure(1, 1), Figure(1, 1)),
        ("sector", "seafood", "2024-03"): (Figure(2, 1), Figure(1, 1)),
        ("sector", "unknown", "2024-03"): (Figure(1, 1), Figure(1, 1)),
        ("sector", "unknown", "2024-04"): (Figure(1, 1), Figure(1, 1)),
        ("category", "deception", "2024-03"): (Figure(1, 1), Figure(1, 1)),
        ("category", "wages", "2024-03"): (Figure(2, 1), Figure(1, 1)),
        ("category", "unknown", "2024-03"): (Figure(1, 1), Figure(1, 1)),
        ("category", "unknown", "2024-04"): (Figure(1, 1), Figure(1, 1)),
    }
    assert cells[("reach_with_access", "all", None)] == (None, Figure(2, 2))


def test_csv_and_json_carry_the_same_published_rows(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    columns = ("dimension", "key", "month", "tickets", "workers")
    rows: list[exports.Row] = [
        dict(zip(columns, values, strict=True))
        for values in (
            ("country", "TH", "2024-03", 15, 10),
            ("sector", "a, b", "2024-03", "<10", "<10"),
            ("reach_with_access", "all", None, None, 30),
        )
    ]
    text = exports.as_csv(rows)
    assert text.splitlines()[0] == "dimension,key,month,tickets,workers"
    assert text.splitlines()[2] == 'sector,"a, b",2024-03,<10,<10'
    assert text.splitlines()[3] == "reach_with_access,all,,,30"
    document = json.loads(exports.as_json(rows, settings))
    assert document == {"small_cell": 10, "round_counts_to": 5, "rows": rows}
    assert list(csv.DictReader(io.StringIO(text))) == [
        {key: "" if value is None else str(value) for key, value in row.items()} for row in rows
    ]


def test_published_rows_suppress_cells_under_the_threshold(
    session: Session, make_settings: Callable[..., Settings]
) -> None:
    session.add(Organisation(name="Mae Sot Migrant Centre", languages=["my"]))
    session.flush()
    at = dt.datetime(2024, 5, 2, 8, 0, tzinfo=dt.UTC)
    for n in range(12):
        worker = Worker(id=uuid.uuid4(), pseudonym=f"p-{n}", channel="telegram")
        session.add(worker)
        session.flush()
        _ticket(session, worker, at, "TH" if n < 11 else "MM")
    rows = {(r["dimension"], r["key"]): r for r in exports.public_rows(session, make_settings())}
    assert rows[("country", "TH")] == {
        "dimension": "country",
        "key": "TH",
        "month": "2024-05",
        "tickets": 10,  # 11 -> 10
        "workers": 10,
    }
    assert (rows[("country", "MM")]["tickets"], rows[("country", "MM")]["workers"]) == (
        "<10",
        "<10",
    )


def test_a_small_cell_threshold_below_5_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="VOICEDESK_SMALL_CELL"):
        Settings.from_env({"VOICEDESK_SMALL_CELL": "4"})


def test_the_export_command_refuses_a_threshold_below_5_and_writes_nothing(
    tmp_path: Path,
) -> None:
    # In a process of its own, as an operator runs it: the command sets up logging.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICEDESK_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "console.cli", "export", "public", "--format", "json"],
        env={**env, "VOICEDESK_INSTANCE": str(tmp_path), "VOICEDESK_SMALL_CELL": "4"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "VOICEDESK_SMALL_CELL" in result.stderr
