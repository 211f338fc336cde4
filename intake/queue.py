"""The triage queue: an organisation's open tickets, urgent first, then oldest.

Pages by keyset (urgent, created_at, id), never by OFFSET, and reads through the
partial index `ix_tickets_open_queue`, so the first page and the hundredth cost the
same at a million tickets. Counts per filter come from one grouped query.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.models import Category, Ticket, TicketStatus, User
from intake.triage import categories_of
from safeguards.access import workable_tickets

# Age filters: older than this many days.
AGES = {"1d": 1, "7d": 7, "30d": 30, "60d": 60}
OPEN = TicketStatus.CLOSED.value  # everything but this status is open


class BadCursor(ValueError):
    """A page cursor that this queue did not make."""


@dataclass(frozen=True)
class QueueFilters:
    status: str | None = None  # None: every open status
    language: str | None = None
    channel: str | None = None
    urgent: bool | None = None
    assignee: str | None = None  # "me", "none", or a user id
    age: str | None = None  # a key of AGES

    def active(self) -> dict[str, str]:
        """The filters that are set, as query-string values."""
        found = {
            key: str(value)
            for key, value in vars(self).items()
            if value is not None and key != "urgent"
        }
        if self.urgent is not None:
            found["urgent"] = "1" if self.urgent else "0"
        return found


@dataclass(frozen=True)
class QueueRow:
    ticket: Ticket
    categories: list[Category]


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None


@dataclass(frozen=True)
class QueueCounts:
    """How many open tickets each filter value would show (for the filter bar)."""

    total: int = 0
    by: dict[str, Counter[str]] = field(default_factory=dict)


def _conditions(user: User, filters: QueueFilters, now: dt.datetime) -> list:  # type: ignore[type-arg]
    conditions = [workable_tickets(user)]
    if filters.status:
        conditions.append(Ticket.status == filters.status)
    else:
        conditions.append(Ticket.status != OPEN)
    if filters.language:
        conditions.append(Ticket.language == filters.language)
    if filters.channel:
        conditions.append(Ticket.channel == filters.channel)
    if filters.urgent is not None:
        conditions.append(Ticket.urgent.is_(filters.urgent))
    if filters.assignee == "me":
        conditions.append(Ticket.assignee_id == user.id)
    elif filters.assignee == "none":
        conditions.append(Ticket.assignee_id.is_(None))
    elif filters.assignee and filters.assignee.isascii() and filters.assignee.isdigit():
        conditions.append(Ticket.assignee_id == int(filters.assignee))
    if filters.age in AGES:
        conditions.append(Ticket.created_at < now - dt.timedelta(days=AGES[filters.age]))
    return conditions


def encode_cursor(ticket: Ticket) -> str:
    raw = f"{int(ticket.urgent)}|{ticket.created_at.isoformat()}|{ticket.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[bool, dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        urgent, at, ticket_id = raw.split("|")
        when = dt.datetime.fromisoformat(at)
        number = int(ticket_id)
        if when.tzinfo is None or urgent not in ("0", "1") or not 0 < number < 2**63:
            raise ValueError(value)
        return urgent == "1", when, number
    except ValueError as exc:
        raise BadCursor(value) from exc


def queue_page(
    session: Session,
    user: User,
    filters: QueueFilters = QueueFilters(),  # noqa: B008 - frozen, so safe as a default
    after: str | None = None,
    limit: int = 50,
) -> QueuePage:
    """One page of the user's queue: urgent first, then oldest first."""
    conditions = _conditions(user, filters, utcnow())
    if after:
        urgent, at, ticket_id = decode_cursor(after)
        later = tuple_(Ticket.created_at, Ticket.id) > tuple_(at, ticket_id)
        if urgent:
            conditions.append(Ticket.urgent.is_(False) | (Ticket.urgent.is_(True) & later))
        else:
            conditions.append(Ticket.urgent.is_(False) & later)
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(*conditions)
            .order_by(Ticket.urgent.desc(), Ticket.created_at, Ticket.id)
            .limit(limit + 1)
        )
    )
    more = len(tickets) > limit
    tickets = tickets[:limit]
    categories = categories_of(session, [t.id for t in tickets])
    return QueuePage(
        rows=[QueueRow(t, categories[t.id]) for t in tickets],
        next_cursor=encode_cursor(tickets[-1]) if more else None,
    )


def queue_counts(session: Session, user: User) -> QueueCounts:
    """Counts of the user's open tickets by status, language, channel, urgency, assignee, age.

    Two queries whatever the queue's size: one row of filtered counts (urgency,
    assignee, age), and one count per value of status, language, channel and assignee
    (GROUPING SETS on PostgreSQL: a few dozen rows, not one per combination).
    """
    now = utcnow()
    scope = (workable_tickets(user), Ticket.status != OPEN)
    older = {key: Ticket.created_at < now - dt.timedelta(days=days) for key, days in AGES.items()}
    flat = session.execute(
        select(
            func.count(),
            func.count().filter(Ticket.urgent.is_(True)),
            func.count().filter(Ticket.assignee_id.is_(None)),
            func.count().filter(Ticket.assignee_id == user.id),
            *[func.count().filter(condition) for condition in older.values()],
        ).where(*scope)
    ).one()
    total, urgent, unassigned, mine, *aged = flat
    by: dict[str, Counter[str]] = {
        "urgent": Counter({"1": urgent, "0": total - urgent}),
        "assignee": Counter({"none": unassigned, "me": mine}),
        "age": Counter(dict(zip(older, aged, strict=True))),
        "status": Counter(),
        "language": Counter(),
        "channel": Counter(),
    }
    facets = {
        "status": Ticket.status,
        "language": Ticket.language,
        "channel": Ticket.channel,
        "assignee": Ticket.assignee_id,
    }
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            select(
                *facets.values(),
                *[func.grouping(column) for column in facets.values()],
                func.count(),
            )
            .where(*scope)
            .group_by(func.grouping_sets(*[tuple_(column) for column in facets.values()]))
        )
        for row in rows:
            values, grouped, count = row[:4], row[4:8], int(row[8] or 0)
            # GROUPING() is 0 for the one column this row counts by.
            name, value = next(
                (name, values[i]) for i, name in enumerate(facets) if grouped[i] == 0
            )
            _tally(by, name, value, count)
    else:  # SQLite (the embedded default): one small GROUP BY per facet
        for name, column in facets.items():
            for value, count in session.execute(
                select(column, func.count()).where(*scope).group_by(column)
            ):
                _tally(by, name, value, count)
    return QueueCounts(total=total, by=by)


def _tally(by: dict[str, Counter[str]], name: str, value: object, count: int) -> None:
    if name == "assignee":
        if value is not None:
            by["assignee"][str(value)] += count
    else:
        by[name][str(value or "")] += count
