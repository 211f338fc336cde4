"""72-hour incident reports: what the partner is told of a forced-labour or trafficking case.

Flagging a ticket urgent (any ILO indicator) starts a 72-hour clock for the first
report to the partner; once it is sent, a follow-up is due every
`incident_follow_up_days` until the ticket closes. The console drafts a report from
the ticket's facts — the indicators, the businesses, the country, dates, the
remediation steps so far — and never from anything that could single out the worker:
no reference, no pseudonym, no message text, no note. Staff edit the draft, keep it
(sealed, as it is free text) and record when they sent it; sending happens outside
the desk (the partner's own channel), so the desk records the fact, not the e-mail.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake import remediation, triage
from intake.db import utcnow
from intake.errors import Conflict, Invalid
from intake.models import IncidentReport, Ticket, TicketStatus, User
from intake.taxonomy import URGENT_GROUP
from safeguards import audit
from safeguards.access import require
from safeguards.sealing import KeyRing, binding
from translations.i18n import N_

CLOCK = triage.URGENT_CLOCK  # 72 hours for the first report
KINDS = ("initial", "follow_up")
MAX_TEXT = 10_000
# The console's words for a business's kind (the same catalog entries as its labels).
KIND_NAMES = {
    "brand": N_("Brand"),
    "supplier": N_("Supplier or employer"),
    "agency": N_("Recruitment agency"),
}


def report_binding(report_id: uuid.UUID) -> bytes:
    return binding("incident_reports", "text_sealed", report_id)


@dataclass(frozen=True)
class ReportView:
    id: uuid.UUID
    kind: str
    text: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


@dataclass(frozen=True)
class ReportClock:
    """Which report is due next and when; `overdue` once that time has passed."""

    kind: str  # initial or follow_up
    due: dt.datetime
    overdue: bool


def reports_of(session: Session, ring: KeyRing, ticket: Ticket) -> list[ReportView]:
    return [
        ReportView(
            report.id,
            report.kind,
            ring.open_text(report.text_sealed, report_binding(report.id)),
            report.created_at,
            report.sent_at,
        )
        for report in session.scalars(
            select(IncidentReport)
            .where(IncidentReport.ticket_id == ticket.id)
            .order_by(IncidentReport.created_at)
        )
    ]


def clock(
    ticket: Ticket,
    sent: list[dt.datetime],
    follow_up_days: int,
    now: dt.datetime | None = None,
) -> ReportClock | None:
    """The next report due on an urgent ticket (None: not urgent, or closed)."""
    if not ticket.urgent or ticket.urgent_since is None or ticket.status == TicketStatus.CLOSED:
        return None
    now = now or utcnow()
    if not sent:
        due = ticket.urgent_since + CLOCK
        return ReportClock("initial", due, now > due)
    due = max(sent) + dt.timedelta(days=follow_up_days)
    return ReportClock("follow_up", due, now > due)


def sent_times(session: Session, ticket_ids: list[int]) -> dict[int, list[dt.datetime]]:
    """When reports were sent, per ticket (one query for a page of tickets)."""
    found: dict[int, list[dt.datetime]] = {ticket_id: [] for ticket_id in ticket_ids}
    for ticket_id, sent_at in session.execute(
        select(IncidentReport.ticket_id, IncidentReport.sent_at).where(
            IncidentReport.ticket_id.in_(ticket_ids), IncidentReport.sent_at.is_not(None)
        )
    ):
        if sent_at is not None:
            found[ticket_id].append(sent_at)
    return found


def draft(
    session: Session,
    ticket: Ticket,
    translate: Callable[[str], str],
    sent_before: int,
    show_date: Callable[[dt.date | dt.datetime], str] = lambda day: day.isoformat(),
) -> str:
    """A de-identified draft from the ticket's facts, in the reader's language.

    It names the indicators, businesses, country, dates and remediation steps; it
    never names the ticket, the worker, or anything the worker or staff wrote.
    `sent_before` is how many reports went out already (none: the first report);
    `show_date` writes a day as the reader reads it (the console's, in the desk's zone).
    """
    _ = translate
    categories = triage.categories_of(session, [ticket.id])[ticket.id]
    indicators = [c.name for c in categories if c.group == URGENT_GROUP]
    businesses = triage.businesses_of(session, ticket)
    timeline = remediation.timeline_of(session, ticket)
    lines = [
        _(N_("Incident report: forced labour or trafficking indicators"))
        if sent_before == 0
        else _(N_("Follow-up report: forced labour or trafficking indicators")),
        "",
        _(N_("Indicators identified:")) + " " + (", ".join(_(name) for name in indicators) or "–"),
        _(N_("Flagged on:"))
        + " "
        + (show_date(ticket.urgent_since) if ticket.urgent_since else "–"),
        _(N_("Country:")) + " " + (ticket.country or "–"),
        _(N_("Businesses concerned:"))
        + " "
        + (", ".join(f"{b.name} ({_(KIND_NAMES[b.kind])})" for b in businesses) or "–"),
    ]
    steps = [
        (N_("First response"), timeline.first_response_on),
        (N_("Action plan agreed"), timeline.plan_agreed_on),
        (N_("Actions done"), timeline.actions_done_on),
        (N_("Resolved"), timeline.resolved_on),
    ]
    done = [f"{_(label)}: {show_date(day)}" for label, day in steps if day is not None]
    lines.append(_(N_("Remediation so far:")) + " " + ("; ".join(done) or "–"))
    lines += [
        "",
        _(
            N_(
                "The worker's identity is protected. Do not contact the worker or share this "
                "report with the employer without the network's agreement."
            )
        ),
    ]
    return "\n".join(lines)


def _check_reportable(ticket: Ticket) -> None:
    if not ticket.urgent:
        raise Conflict(N_("Incident reports are for tickets with forced-labour indicators."))
    if ticket.status == TicketStatus.CLOSED:
        raise Conflict(N_("The ticket is closed."))


def add_report(
    session: Session, ring: KeyRing, user: User, ticket: Ticket, text: str
) -> IncidentReport:
    """Keep a report (the next one due: the first, or a follow-up)."""
    require(user, "tickets.report", ticket)
    _check_reportable(ticket)
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise Invalid(N_("A report is 1 to 10,000 characters."))
    # The first report is the one that stops the 72-hour clock: until one is sent,
    # whatever is kept is (another draft of) the first report.
    earlier = session.scalar(
        select(IncidentReport.id)
        .where(IncidentReport.ticket_id == ticket.id, IncidentReport.sent_at.is_not(None))
        .limit(1)
    )
    report_id = uuid.uuid4()
    report = IncidentReport(
        id=report_id,
        ticket_id=ticket.id,
        kind="initial" if earlier is None else "follow_up",
        text_sealed=ring.seal_text(text, report_binding(report_id)),
        created_by=user.id,
        created_at=utcnow(),
    )
    session.add(report)
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="incident_report.kept",
        target=f"ticket:{ticket.ref}",
        report=str(report_id),
        kind=report.kind,
    )
    return report


def mark_sent(
    session: Session,
    user: User,
    ticket: Ticket,
    report_id: uuid.UUID,
    when: dt.datetime | None = None,
) -> IncidentReport:
    """Record that the report went to the partner (and when)."""
    require(user, "tickets.report", ticket)
    _check_reportable(ticket)
    report = session.get(IncidentReport, report_id)
    if report is None or report.ticket_id != ticket.id:
        raise Invalid(N_("Unknown report."))
    if report.sent_at is not None:
        raise Conflict(N_("This report was already sent."))
    report.sent_at = when or utcnow()
    report.sent_by = user.id
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="incident_report.sent",
        target=f"ticket:{ticket.ref}",
        report=str(report_id),
        kind=report.kind,
    )
    return report
