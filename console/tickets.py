"""The ticket queue and the ticket page."""

from __future__ import annotations

import uuid

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


# Files a browser may show inline; anything else is a download, never a page of ours.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "audio/mpeg",
                          "audio/ogg", "audio/wav", "audio/x-wav", "audio/mp4", "audio/aac",
                          "video/mp4"})  # fmt: skip


@blueprint.get("/tickets/<ref>/attachments/<uuid:attachment_id>")
@roles(*STAFF)
def attachment(ref: str, attachment_id: uuid.UUID) -> Response:
    user = current_user()
    assert user is not None
    try:
        summary = tickets.get_ticket(db(), user, ref)
        found, data = tickets.open_attachment(
            db(), content_ring(), user, summary.ticket, attachment_id
        )
    except tickets.TicketNotFound:
        abort(404)
    db().commit()  # keep the audit entry
    inline = found.content_type in INLINE_TYPES
    response = Response(data, mimetype=found.content_type if inline else "application/octet-stream")
    response.headers["Content-Disposition"] = (
        "inline" if inline else f'attachment; filename="{found.kind}-{found.id}"'
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


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
    calls, open_tasks = tickets.calls_and_tasks(db(), summary.ticket)
    db().commit()  # keep the audit entry
    return render_template(
        "ticket.html",
        summary=summary,
        thread=thread,
        calls=calls,
        open_tasks=open_tasks,
        user=user,
    )
