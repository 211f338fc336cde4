"""`voicedesk export public`: the network's counts for a public dashboard, no worker in them.

Tickets are seeded through the product's own functions (tickets, messages, links,
categories, the worker's profile, validation, closing, erasure); only when each
ticket opened is set with plain SQL. The command then runs as an operator runs it,
in a subprocess, in both formats. Every expected cell is worked out by hand below.

Workers w01..w30; tickets opened 2024-01-15 (January) or 2024-02-10 (February):

  January
    w01-w12  one ticket each: TH, supplier "seafood", category wages
    w01-w02  a second ticket: TH, suppliers "seafood" and "garments", wages + fees
    w13-w15  one ticket each: MM, linked to a brand ("retail") and an agency only,
             no category
  February
    w16-w28  one ticket each: MY, suppliers "garments" and one with no sector, fees;
             female, MM; validated and closed. w28 then asks to be erased.
    w01-w04  one ticket each: TH, the supplier with no sector, wages
    w29      one ticket: no country, supplier "seafood", wages + fees; male, KH;
             validated and closed
    w30      ten tickets: KH, no business, wages

Published with the defaults: fewer than 10 distinct workers reads "<10"; counts are
rounded to a multiple of 5 (11, 12 -> 10; 13, 14 -> 15; 29 -> 30).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from intake import businesses, indicators, triage, validation
from intake.conversation import worker_for
from intake.erasure import erase_worker
from intake.models import Category, Direction, Ticket, User, Worker
from intake.tickets import add_message, create_ticket

from integration.conftest import Desk

pytestmark = pytest.mark.integration

ORG = "Mekong Migrant Network"
CASEWORKER = "cw@mekong.example"
SUPERVISOR = "sup@mekong.example"
JANUARY = dt.datetime(2024, 1, 15, 9, 0, tzinfo=dt.UTC)
FEBRUARY = dt.datetime(2024, 2, 10, 9, 0, tzinfo=dt.UTC)
BUSINESS_NAMES = (
    "Golden Sea Foods",
    "Siam Knitting",
    "Hidden Valley Works",
    "Northwind Apparel",
    "Bright Path Recruitment",
)
U = "<10"

# (dimension, key, month) -> (tickets, workers), as published.
EXPECTED: dict[tuple[str, str, str], tuple[str, str]] = {
    # country
    ("country", "TH", "2024-01"): ("15", "10"),  # 14 tickets, 12 workers
    ("country", "MM", "2024-01"): (U, U),  # 3 workers
    ("country", "MY", "2024-02"): ("15", "15"),  # 13 and 13, the erased worker too
    ("country", "TH", "2024-02"): (U, U),  # 4 workers
    ("country", "unknown", "2024-02"): (U, U),  # w29
    ("country", "KH", "2024-02"): (U, U),  # 10 tickets, but 1 worker
    # sector: suppliers only; a brand's or an agency's sector never counts
    ("sector", "seafood", "2024-01"): ("15", "10"),  # 14 tickets, 12 workers
    ("sector", "garments", "2024-01"): (U, U),  # w01, w02's second tickets
    ("sector", "unknown", "2024-01"): (U, U),  # w13-w15: a brand and an agency only
    ("sector", "garments", "2024-02"): ("15", "15"),  # 13 and 13
    ("sector", "unknown", "2024-02"): (U, U),  # 4 + 10 tickets, 5 workers
    ("sector", "seafood", "2024-02"): (U, U),  # w29
    # category: a ticket counts under each of its categories
    ("category", "wages", "2024-01"): ("15", "10"),  # 14 tickets, 12 workers
    ("category", "recruitment_fees", "2024-01"): (U, U),  # 2 workers
    ("category", "unknown", "2024-01"): (U, U),  # w13-w15
    ("category", "recruitment_fees", "2024-02"): ("15", "15"),  # 13 + 1: 14 and 14
    ("category", "wages", "2024-02"): (U, U),  # 4 + 1 + 10 = 15 tickets, 6 workers
    # reach: workers only, not by month; the erased worker w28 is not counted
    ("reach_with_access", "all", ""): ("", "30"),  # 29 workers
    ("reach_with_access", "gender:female", ""): ("", "10"),  # 12 (13 with w28: 15)
    ("reach_with_access", "gender:male", ""): ("", U),
    ("reach_with_access", "gender:unknown", ""): ("", "15"),  # 16
    ("reach_with_access", "nationality:MM", ""): ("", "10"),  # 12
    ("reach_with_access", "nationality:KH", ""): ("", U),
    ("reach_with_access", "nationality:unknown", ""): ("", "15"),  # 16
    ("reach_remediated", "all", ""): ("", "15"),  # w16-w27 and w29: 13
    ("reach_remediated", "gender:female", ""): ("", "10"),  # 12
    ("reach_remediated", "gender:male", ""): ("", U),
    ("reach_remediated", "nationality:MM", ""): ("", "10"),  # 12
    ("reach_remediated", "nationality:KH", ""): ("", U),
}


def _pseudonym(number: int) -> str:
    """Shaped like a real pseudonym (hex), so the leak check looks for the real thing."""
    return hashlib.sha256(f"export-worker-{number}".encode()).hexdigest()[:32]


def _passport_text(number: int) -> str:
    return f"Golden Sea Foods kept my passport, please help (worker {number})"


@contextmanager
def _session(desk: Desk) -> Iterator[Session]:
    with desk.rt.session() as session:
        yield session
        session.commit()


def _user(session: Session, email: str) -> User:
    return session.scalars(select(User).where(User.email == email)).one()


def _seed(desk: Desk) -> None:
    organisation_id = desk.organisation(ORG, ["my", "th"])
    desk.token(CASEWORKER, ORG)
    desk.token(SUPERVISOR, ORG, role="supervisor")
    ring = desk.rt.keys.content
    opened: dict[int, dt.datetime] = {}

    with _session(desk) as session:
        cw, supervisor = _user(session, CASEWORKER), _user(session, SUPERVISOR)
        add = businesses.add_business
        seafood = add(session, supervisor, BUSINESS_NAMES[0], "supplier", "TH", "seafood")
        garments = add(session, supervisor, BUSINESS_NAMES[1], "supplier", "MY", "garments")
        no_sector = add(session, supervisor, BUSINESS_NAMES[2], "supplier", "TH", None)
        brand = add(session, supervisor, BUSINESS_NAMES[3], "brand", "US", "retail")
        agency = add(session, supervisor, BUSINESS_NAMES[4], "agency", "MM", "recruitment")
        session.flush()
        code = {
            c.code: c.id
            for c in session.scalars(
                select(Category).where(Category.code.in_(["wages", "recruitment_fees"]))
            )
        }
        wages, fees = code["wages"], code["recruitment_fees"]
        workers = {n: worker_for(session, _pseudonym(n), "telegram") for n in range(1, 31)}

        def ticket(
            n: int,
            when: dt.datetime,
            country: str | None,
            linked: tuple[int, ...],
            categories: tuple[int, ...],
        ) -> Ticket:
            new = create_ticket(session, workers[n], "telegram", "my", organisation_id, country)
            session.flush()
            opened[new.id] = when
            add_message(session, ring, new, direction=Direction.IN, text=_passport_text(n))
            for business_id in linked:
                triage.link_business(session, cw, new, business_id)
            if categories:
                triage.set_categories(session, cw, new, categories)
            return new

        def remediated(done: Ticket) -> None:
            for status in ("triaged", "in_remediation"):
                triage.change_status(session, cw, done, status)
            validation.record_by_phone(session, cw, done, "fixed", 4)
            assert triage.close_ticket(session, ring, cw, done) == "validated"

        # January
        for n in range(1, 13):
            ticket(n, JANUARY, "TH", (seafood.id,), (wages,))
        for n in (1, 2):
            ticket(n, JANUARY, "TH", (seafood.id, garments.id), (wages, fees))
        for n in (13, 14, 15):
            ticket(n, JANUARY, "MM", (brand.id, agency.id), ())
        # February
        for n in range(16, 29):
            done = ticket(n, FEBRUARY, "MY", (garments.id, no_sector.id), (fees,))
            indicators.record_profile(session, cw, done, "female", "MM", consent=True)
            remediated(done)
        for n in range(1, 5):
            ticket(n, FEBRUARY, "TH", (no_sector.id,), (wages,))
        done = ticket(29, FEBRUARY, None, (seafood.id,), (wages, fees))
        indicators.record_profile(session, cw, done, "male", "KH", consent=True)
        remediated(done)
        for _ in range(10):
            ticket(30, FEBRUARY, "KH", (), (wages,))

    # w28 asks to be forgotten: their ticket's bare facts stay, their profile is not counted.
    with _session(desk) as session:
        erase_worker(
            session,
            desk.rt.keys.content,
            desk.rt.envelope_keys,
            session.scalars(select(Worker).where(Worker.pseudonym == _pseudonym(28))).one(),
        )

    # When each ticket opened, which the test cannot wait for.
    with _session(desk) as session:
        for ticket_id, when in opened.items():
            session.execute(
                text("UPDATE tickets SET created_at = :at WHERE id = :id"),
                {"at": when, "id": ticket_id},
            )


def _export(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "export", "public", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _cells(rows: list[dict[str, str]]) -> dict[tuple[str, str, str], tuple[str, str]]:
    cells = {(r["dimension"], r["key"], r["month"]): (r["tickets"], r["workers"]) for r in rows}
    assert len(cells) == len(rows), "a cell appears twice"
    return cells


def test_public_export_shows_only_suppressed_rounded_counts_in_csv_and_json(
    desk: Desk, product_env: dict[str, str], tmp_path: Path
) -> None:
    _seed(desk)
    refs = [ref for (ref,) in desk.sql("SELECT ref FROM tickets")]
    assert len(refs) == 12 + 2 + 3 + 13 + 4 + 1 + 10
    assert desk.sql("SELECT count(*) FROM workers WHERE erased_at IS NOT NULL")[0][0] == 1

    as_csv = _export(product_env)  # CSV to standard output is the default
    assert as_csv.returncode == 0, as_csv.stderr
    assert f"{len(EXPECTED)} rows" in as_csv.stderr
    assert as_csv.stdout.splitlines()[0] == "dimension,key,month,tickets,workers"
    csv_rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert _cells(csv_rows) == EXPECTED
    # Dimensions in a fixed order, months in order within each.
    dimensions = [row["dimension"] for row in csv_rows]
    assert sorted(dimensions, key=dimensions.index) == dimensions
    assert list(dict.fromkeys(dimensions)) == [
        "country",
        "sector",
        "category",
        "reach_with_access",
        "reach_remediated",
    ]

    out = tmp_path / "public.json"
    as_json = _export(product_env, "--format", "json", "--out", str(out))
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.stdout == ""  # the data went to the file
    document = json.loads(out.read_text(encoding="utf-8"))
    assert (document["small_cell"], document["round_counts_to"]) == (10, 5)
    json_rows = document["rows"]
    # Published counts are numbers in JSON, "<10" is a string, absent values null.
    for row in json_rows:
        assert set(row) == {"dimension", "key", "month", "tickets", "workers"}
        for column in ("tickets", "workers"):
            assert row[column] is None or row[column] == U or isinstance(row[column], int)
    # CSV and JSON agree, row for row.
    assert [
        {column: "" if value is None else str(value) for column, value in row.items()}
        for row in json_rows
    ] == csv_rows

    # Nothing that could lead back to a worker or a business is ever written.
    for published in (as_csv.stdout, out.read_text(encoding="utf-8")):
        for secret in (
            *(_pseudonym(n) for n in range(1, 31)),
            *refs,
            *BUSINESS_NAMES,
            "passport",
            "retail",
        ):
            assert secret.lower() not in published.lower()
    worker_ids = [str(worker_id) for (worker_id,) in desk.sql("SELECT id FROM workers")]
    assert not any(worker_id in as_csv.stdout for worker_id in worker_ids)

    # Each export is on the audit log, with no more than its format and size.
    entries = desk.sql("SELECT actor, detail FROM audit_log WHERE action = 'export.public'")
    assert [(actor, detail["format"]) for actor, detail in entries] == [
        ("cli", "csv"),
        ("cli", "json"),
    ]


def test_a_lower_threshold_shows_what_10_would_hide(
    desk: Desk, product_env: dict[str, str]
) -> None:
    _seed(desk)
    five = _export({**product_env, "VOICEDESK_SMALL_CELL": "5"}, "--format", "json")
    assert five.returncode == 0, five.stderr
    cells = _cells(json.loads(five.stdout)["rows"])
    assert cells[("sector", "unknown", "2024-02")] == (15, 5)  # 14 tickets, 5 workers
    assert cells[("category", "wages", "2024-02")] == (15, 5)  # 15 tickets, 6 workers
    assert cells[("country", "KH", "2024-02")] == ("<5", "<5")  # 1 worker
    assert cells[("country", "TH", "2024-02")] == ("<5", "<5")  # 4 workers
