"""Public aggregates: network-wide counts a public dashboard may show, never a worker.

Tickets and distinct workers per month of ticket creation, by country, by sector
(of the ticket's suppliers/employers) and by category, plus the network's reach.
Every cell goes through `indicators.publish`, the same suppression partners get:
"<10" when fewer than `small_cell` distinct workers stand behind it, counts rounded
to a multiple of `round_counts_to`.

Only grouping keys and counts leave the database: no reference, pseudonym, business
name or free text is ever selected. An erased worker's tickets still count (their
bare facts are kept) and nothing else of them does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, Subquery, func, select
from sqlalchemy.orm import Session

from intake.indicators import Figure, publish, reach
from intake.models import Business, BusinessKind, Category, Ticket, TicketBusiness, TicketCategory
from intake.settings import Settings

UNKNOWN = "unknown"
COLUMNS = ("dimension", "key", "month", "tickets", "workers")
# By month: a ticket counts once per key it has (two categories: under each).
DIMENSIONS = ("country", "sector", "category")
# The network's reach (workers only, not by month), keyed "all", "gender:female",
# "nationality:MM"… as indicators.reach gives it.
REACH_WITH_ACCESS, REACH_REMEDIATED = "reach_with_access", "reach_remediated"

Published = str | float | int | None
Row = dict[str, Published]


@dataclass(frozen=True)
class Cell:
    """One cell before publishing: its figures carry the distinct workers behind them."""

    dimension: str
    key: str
    month: str | None
    tickets: Figure | None  # None for reach, which counts workers only
    workers: Figure


def _month(session: Session) -> ColumnElement[str]:
    """YYYY-MM of the ticket's creation, in UTC, on PostgreSQL and SQLite alike."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Ticket.created_at), "YYYY-MM", type_=String)
    # SQLite keeps UTCDateTime as naive UTC text.
    return func.strftime("%Y-%m", Ticket.created_at, type_=String)


def _keyed(dimension: str) -> tuple[Subquery | None, ColumnElement[str | None]]:
    """The rows a ticket is joined to for this dimension, and its key column."""
    if dimension == "country":
        return None, Ticket.country.expression
    if dimension == "sector":
        sectors = (
            select(TicketBusiness.ticket_id, Business.sector.label("key"))
            .join(Business, Business.id == TicketBusiness.business_id)
            .where(Business.kind == BusinessKind.SUPPLIER.value, Business.sector.is_not(None))
            .distinct()
            .subquery()
        )
        return sectors, sectors.c.key
    categories = (
        select(TicketCategory.ticket_id, Category.code.label("key"))
        .join(Category, Category.id == TicketCategory.category_id)
        .subquery()
    )
    return categories, categories.c.key


def _by_month(session: Session, dimension: str) -> list[Cell]:
    joined, key = _keyed(dimension)
    per_ticket = select(
        # No key (no country, no sectored supplier, no category) reads "unknown".
        func.coalesce(func.nullif(key, ""), UNKNOWN).label("key"),
        _month(session).label("month"),
        Ticket.id.label("ticket_id"),
        Ticket.worker_id.label("worker_id"),
    ).select_from(Ticket)
    if joined is not None:
        # Outer: a ticket with no sector or no category still counts, as "unknown".
        per_ticket = per_ticket.outerjoin(joined, joined.c.ticket_id == Ticket.id)
    rows = per_ticket.subquery()
    # Grouped on the subquery's columns, so each expression is written (and bound) once.
    query = (
        select(
            rows.c.key,
            rows.c.month,
            func.count(func.distinct(rows.c.ticket_id)),
            func.count(func.distinct(rows.c.worker_id)),
        )
        .group_by(rows.c.key, rows.c.month)
        .order_by(rows.c.month, rows.c.key)
    )
    return [
        Cell(dimension, found, month, Figure(tickets, workers), Figure(workers, workers))
        for found, month, tickets, workers in session.execute(query)
    ]


def cells(session: Session) -> list[Cell]:
    """Every cell of the public export, with the workers behind each figure."""
    found = [cell for dimension in DIMENSIONS for cell in _by_month(session, dimension)]
    network = reach(session)
    for dimension, figures in (
        (REACH_WITH_ACCESS, network.with_access),
        (REACH_REMEDIATED, network.remediated),
    ):
        found += [Cell(dimension, key, None, None, figure) for key, figure in figures.items()]
    return found


def public_rows(session: Session, settings: Settings) -> list[Row]:
    """The export's rows, published: small cells read "<10", counts are rounded."""
    return [
        {
            "dimension": cell.dimension,
            "key": cell.key,
            "month": cell.month,
            "tickets": None if cell.tickets is None else publish(cell.tickets, settings),
            "workers": publish(cell.workers, settings),
        }
        for cell in cells(session)
    ]


def as_csv(rows: Sequence[Row]) -> str:
    """The rows as CSV with a header line; an absent value (a reach row's month) is empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row[column] is None else row[column] for column in COLUMNS])
    return out.getvalue()


def as_json(rows: Sequence[Row], settings: Settings) -> str:
    """The rows as JSON, with the suppression they were published under."""
    document = {
        "small_cell": settings.small_cell,
        "round_counts_to": settings.round_counts_to,
        "rows": list(rows),
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
