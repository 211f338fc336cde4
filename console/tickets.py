"""The ticket queue and the ticket page."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from console.auth import current_user, public, roles
from console.context import content_ring, db
from intake import tickets

blueprint = Blueprint("tickets", __name__)
STAFF = ("admin", "supervisor", "caseworker", "hotline")


@blueprint.get("/")
@public
def home() -> Response:
    return redirect(url_for("tickets.queue"))


@blueprint.get("/tickets")
@roles(*STAFF)
def queue() -> str:
    user = current_user()
    assert user is not None
    filters = tickets.TicketFilters(
        status=request.args.get("status") or None,
        language=request.args.get("language") or None,
        channel=request.args.get("channel") or None,
    )
    rows = tickets.list_tickets(db(), user, filters, limit=100)
    return render_template("tickets.html", rows=rows, filters=filters, user=user)


@blueprint.get("/tickets/<ref>")
@roles(*STAFF)
def show(ref: str) -> str:
    user = current_user()
    assert user is not None
    try:
        summary = tickets.get_ticket(db(), user, ref)
    except tickets.TicketNotFound:
        abort(404)
    thread = tickets.read_thread(db(), content_ring(), user, summary.ticket, via="console")
    db().commit()  # keep the audit entry
    return render_template("ticket.html", summary=summary, thread=thread, user=user)
