"""72-hour incident reports on the ticket page: keep the next report, record that it was sent.

The clock, the de-identified draft and every rule live in intake/incidents.py; these views
read the form, call the domain, and show its refusal in the reader's language.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, flash, request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.casework import acting, back, row_of, ticket_actions, visible
from console.context import content_ring, db, settings
from console.guard import allows, signed_in_user
from console.i18n import _, local_date
from intake import incidents
from intake.models import IncidentReport, Ticket, User
from intake.queue import QueueRow
from safeguards.sealing import KeyRing

blueprint = Blueprint("incidents", __name__)


def page_context(session: Session, ring: KeyRing, ticket: Ticket) -> dict[str, Any]:
    """What the ticket page shows of the incident reports to the partner."""
    if not ticket.urgent:
        return {"incident_reports": [], "incident_clock": None, "incident_draft": ""}
    reports = incidents.reports_of(session, ring, ticket)
    sent = [report.sent_at for report in reports if report.sent_at is not None]
    return {
        "incident_reports": reports,
        "incident_clock": incidents.clock(ticket, sent, settings().incident_follow_up_days),
        # The console's own gettext: the draft comes in the reader's language.
        "incident_draft": incidents.draft(session, ticket, _, len(sent), local_date),
    }


def queue_reports(session: Session, rows: Iterable[QueueRow]) -> dict[int, list[dt.datetime]]:
    """When reports were sent, for the urgent tickets of a queue page (one query)."""
    urgent = [row.ticket.id for row in rows if row.ticket.urgent]
    return incidents.sent_times(session, urgent) if urgent else {}


def overdue_reports(rows: Iterable[QueueRow], sent: dict[int, list[dt.datetime]]) -> set[int]:
    """The urgent tickets of a queue page whose next report is late."""
    days = settings().incident_follow_up_days
    return {
        row.ticket.id
        for row in rows
        if row.ticket.id in sent
        and (found := incidents.clock(row.ticket, sent[row.ticket.id], days)) is not None
        and found.overdue
    }


def _keep(user: User, ticket: Ticket) -> None:
    incidents.add_report(db(), content_ring(), user, ticket, request.form.get("text", ""))
    # TRANSLATORS: after keeping an incident report; it still has to be sent to the partner.
    flash(_("Report kept. Send it to the partner, then mark it as sent."), "info")


ticket_actions(
    blueprint,
    (("keep", "incident-reports", _keep, "tickets.report"),),
)


@blueprint.post("/tickets/<ref>/incident-reports/<uuid:report_id>/sent")
@allows("tickets.report")
def sent(ref: str, report_id: uuid.UUID) -> Response:
    user = signed_in_user()
    ticket = visible(user, ref).ticket
    row_of(ticket, IncidentReport, report_id)
    with acting():
        incidents.mark_sent(db(), user, ticket, report_id)
        # TRANSLATORS: after recording that an incident report went to the partner.
        flash(_("Recorded as sent to the partner."), "info")
    return back(ticket)
