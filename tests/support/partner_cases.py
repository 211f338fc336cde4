"""Cases worked from report to close through the domain, for the partner indicators' tests.

Each `Case` says how one worker's issue went (when it opened, when the business
responded, what the worker said, how caseworkers scored the response, what money was
owed and repaid); `work_case` takes a ticket there with the same service calls the
console makes, then dates it with plain data updates (the lifecycle itself runs in the
present). Every free text it writes (note, action, owner, validation summary, close
reason) is given by the caller, so a test can look for it where it must never be.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from intake import indicators, notes, remediation, triage, validation
from intake.db import utcnow
from intake.models import Ticket, User
from intake.settings import ValidationSchedule
from safeguards.sealing import KeyRing

FEES, WAGES = "THB", "MYR"  # recruitment fees in baht, wages in ringgit


@dataclass(frozen=True)
class Words:
    """The free text written on one ticket: none of it may ever reach a partner."""

    note: str
    action: str
    owner: str
    summary: str
    close_reason: str

    def all(self) -> list[str]:
        return [self.note, self.action, self.owner, self.summary, self.close_reason]


@dataclass(frozen=True)
class Case:
    """How one worker's issue went. Days count from the ticket's opening (responses and
    plan from the step before); None leaves a date out (its timeliness score n/a)."""

    opened: dt.date
    responded: int | None = 2
    plan: int | None = 10  # days after the first response
    resolved: int | None = 29
    closed: int = 30  # the worker confirmed the fix that day, and the ticket closed
    satisfaction: int | None = 5  # the worker's 1-5 answer to the validation prompt
    scores: dict[str, int | None] = field(default_factory=dict)  # recorded by caseworkers
    fees: tuple[int, int] | None = None  # THB owed, repaid (minor units); one worker
    wages: tuple[int, int] | None = None  # MYR owed, repaid (minor units); one worker
    unvalidated: bool = False  # no answer by the deadline: a supervisor closes it


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def work_case(
    session: Session,
    ring: KeyRing,
    schedule: ValidationSchedule,
    caseworker: User,
    supervisor: User,
    ticket: Ticket,
    business_id: int,
    case: Case,
    words: Words,
) -> None:
    """Take a new ticket through triage, remediation, validation and closing, as `case` says."""
    ticket.created_at = at(case.opened)
    session.flush()
    notes.add_note(session, ring, caseworker, ticket, words.note)
    triage.link_business(session, caseworker, ticket, business_id)
    triage.change_status(session, caseworker, ticket, "triaged")
    triage.change_status(session, caseworker, ticket, "in_remediation")
    dates: dict[str, dt.date | None] = {}
    if case.responded is not None:
        dates["first_response_on"] = case.opened + dt.timedelta(days=case.responded)
        if case.plan is not None:
            dates["plan_agreed_on"] = dates["first_response_on"] + dt.timedelta(days=case.plan)
    if case.resolved is not None:
        dates["resolved_on"] = case.opened + dt.timedelta(days=case.resolved)
    if dates:
        remediation.set_timeline(session, caseworker, ticket, dates)
    remediation.add_action(
        session, ring, caseworker, ticket, words.action, words.owner, case.opened
    )
    for currency, kind, money in (
        (FEES, "recruitment_fees", case.fees),
        (WAGES, "wages", case.wages),
    ):
        if money is not None:
            owed, repaid = money
            remediation.add_repayment(
                session,
                caseworker,
                ticket,
                kind=kind,
                currency=currency,
                owed_minor=owed,
                repaid_minor=repaid,
                workers_repaid=1 if repaid else 0,
            )
    if case.scores:
        indicators.record_scores(session, caseworker, ticket, business_id, case.scores)
    validation.request_validation(session, ring, caseworker, ticket, words.summary, schedule)
    session.flush()
    closed = at(case.opened + dt.timedelta(days=case.closed))
    if case.unvalidated:
        # The deadline passes with no answer: the scheduled round marks it unvalidated.
        later = utcnow() + schedule.deadline + dt.timedelta(days=1)
        validation.run_rounds(session, ring, schedule, now=later)
        triage.close_ticket(session, ring, supervisor, ticket, words.close_reason)
    else:
        answer = validation.record_by_phone(session, caseworker, ticket, "fixed", case.satisfaction)
        triage.close_ticket(session, ring, caseworker, ticket)
        # The worker confirmed the fix on the day the ticket closed.
        answer.requested_at = answer.answered_at = closed
    ticket.closed_at = closed
    session.flush()
