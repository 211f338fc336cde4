"""The incident report clock: the first report 72 hours after the flag, then follow-ups."""

from __future__ import annotations

import datetime as dt

import pytest

from intake.incidents import ReportClock, clock
from intake.models import Ticket, TicketStatus

FLAGGED = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)
DAYS = 14


def _ticket(
    urgent: bool = True, status: TicketStatus = TicketStatus.TRIAGED, since: dt.datetime = FLAGGED
) -> Ticket:
    return Ticket(urgent=urgent, urgent_since=since if urgent else None, status=status)


def test_first_report_is_due_exactly_72_hours_after_the_flag() -> None:
    due = FLAGGED + 72 * HOUR
    assert clock(_ticket(), [], DAYS, now=FLAGGED) == ReportClock("initial", due, False)
    assert clock(_ticket(), [], DAYS, now=due) == ReportClock("initial", due, False)


def test_first_report_is_overdue_just_after_72_hours() -> None:
    due = FLAGGED + 72 * HOUR
    assert clock(_ticket(), [], DAYS, now=due + SECOND) == ReportClock("initial", due, True)


def test_follow_up_is_due_days_after_the_last_report_sent() -> None:
    first, second = FLAGGED + 5 * HOUR, FLAGGED + 20 * 24 * HOUR
    due = first + dt.timedelta(days=DAYS)
    # Sent in time: the 72 hours no longer count, even long past them.
    assert clock(_ticket(), [first], DAYS, now=FLAGGED + 100 * HOUR) == ReportClock(
        "follow_up", due, False
    )
    assert clock(_ticket(), [first], DAYS, now=due) == ReportClock("follow_up", due, False)
    assert clock(_ticket(), [first], DAYS, now=due + SECOND) == ReportClock("follow_up", due, True)
    # The latest report sent sets the next, whatever the order given.
    later = second + dt.timedelta(days=7)
    assert clock(_ticket(), [second, first], 7, now=later) == ReportClock("follow_up", later, False)


def test_a_late_first_report_still_starts_the_follow_ups_from_when_it_was_sent() -> None:
    sent = FLAGGED + 80 * HOUR
    now = sent + HOUR
    assert clock(_ticket(), [sent], DAYS, now=now) == ReportClock(
        "follow_up", sent + dt.timedelta(days=DAYS), False
    )


@pytest.mark.parametrize(
    "ticket",
    [
        _ticket(status=TicketStatus.CLOSED),
        _ticket(urgent=False),
        Ticket(urgent=True, urgent_since=None, status=TicketStatus.NEW),
    ],
    ids=["closed", "not urgent", "urgent without a flag time"],
)
def test_no_report_is_due_on_a_closed_or_not_urgent_ticket(ticket: Ticket) -> None:
    assert clock(ticket, [], DAYS, now=FLAGGED + 100 * HOUR) is None
    assert clock(ticket, [FLAGGED + HOUR], DAYS, now=FLAGGED + 100 * 24 * HOUR) is None


def test_every_open_status_keeps_the_clock_running() -> None:
    late = FLAGGED + 73 * HOUR
    for status in TicketStatus:
        found = clock(_ticket(status=status), [], DAYS, now=late)
        assert (found is None) == (status == TicketStatus.CLOSED)
        assert found is None or found.overdue
