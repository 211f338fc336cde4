"""The triage queue and the ticket page, with every action a caseworker takes on a ticket."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from console import incidents, remediation
from console.auth import current_user, public
from console.casework import acting, back, ticket_actions, visible
from console.context import content_ring, db, dispatcher
from console.guard import allows, signed_in_user
from console.i18n import _
from intake import businesses, notes, referral, replies, routing, tickets, triage
from intake import queue as ticket_queue
from intake.errors import Invalid
from intake.models import Organisation, Ticket, TicketStatus, User
from safeguards.access import can_work, may
from translations import prompts
from translations.scripts import WORKER_LANGUAGES

blueprint = Blueprint("tickets", __name__)
PAGE_SIZE = 50
CHANNELS = ("telegram", "whatsapp", "viber", "sms", "voice", "simulator")


@blueprint.get("/")
@public
def home() -> Response | str:
    """Staff land on the queue; partners, who never see a ticket, on their dashboard."""
    user = current_user()
    if user is not None and user.role == "partner":
        return redirect(url_for("partner.dashboard"))
    return redirect(url_for("tickets.queue"))


def _filters() -> ticket_queue.QueueFilters:
    args = request.args
    urgent = args.get("urgent")
    return ticket_queue.QueueFilters(
        status=args.get("status")
        if args.get("status") in TicketStatus.__members__.values()
        else None,
        language=args.get("language") or None,
        channel=args.get("channel") or None,
        urgent=None if urgent not in ("0", "1") else urgent == "1",
        assignee=args.get("assignee") or None,
        age=args.get("age") if args.get("age") in ticket_queue.AGES else None,
    )


@blueprint.get("/tickets")
@allows("tickets.read")
def queue() -> str:
    user = signed_in_user()
    filters = _filters()
    try:
        page = ticket_queue.queue_page(
            db(), user, filters, after=request.args.get("after"), limit=PAGE_SIZE
        )
    except ticket_queue.BadCursor:
        abort(400)
    counts = ticket_queue.queue_counts(db(), user)
    sent = incidents.queue_reports(db(), page.rows)
    return render_template(
        "tickets.html",
        page=page,
        rows=page.rows,
        counts=counts,
        filters=filters,
        user=user,
        colleagues=triage.assignable_users(db(), user),
        statuses=[s.value for s in TicketStatus],
        languages=WORKER_LANGUAGES,
        channels=CHANNELS,
        ages=list(ticket_queue.AGES),
        clocks=lambda t: triage.clocks(t, reported=bool(sent.get(t.id))),
        reports_overdue=incidents.overdue_reports(page.rows, sent),
        may=lambda action: may(user, action),
    )


def _ids(name: str) -> list[int]:
    try:
        return [int(value) for value in request.form.getlist(name) if value]
    except ValueError:
        abort(400)


@blueprint.post("/tickets/assign")
@allows("tickets.assign")
def bulk_assign() -> Response:
    """Give the ticked tickets of the queue to one colleague (or to nobody)."""
    user = signed_in_user()
    refs = request.form.getlist("ref")
    assignee = request.form.get("assignee", "")
    assignee_id = None if assignee in ("", "none") else int(assignee) if assignee.isdigit() else -1
    if assignee_id == -1:
        abort(400)
    chosen = [visible(user, ref).ticket for ref in refs]
    with acting():
        count = triage.bulk_assign(db(), user, chosen, assignee_id)
        # TRANSLATORS: after bulk assignment; %(count)s is a number of tickets.
        flash(_("%(count)s tickets assigned.") % {"count": count}, "info")
    return redirect(
        request.referrer if _same_site(request.referrer) else url_for("tickets.queue"), code=303
    )


def _same_site(url: str | None) -> bool:
    return bool(url) and url is not None and url.startswith(request.host_url)


@blueprint.get("/tickets/<ref>")
@allows("tickets.read")
def show(ref: str) -> str:
    user = signed_in_user()
    summary = visible(user, ref)
    ticket = summary.ticket
    session, ring = db(), content_ring()
    thread = tickets.read_thread(session, ring, user, ticket, via="console")
    ticket_notes = notes.notes_of(session, ring, ticket, user)
    # Keep the read's audit entry now: the audit log's lock is the whole desk's, so it
    # is held for the read alone, not while the rest of the page is gathered and drawn.
    session.commit()
    calls, open_tasks = tickets.calls_and_tasks(session, ticket)
    workable = can_work(user, ticket)
    chosen = {c.id for c in triage.categories_of(session, [ticket.id])[ticket.id]}
    context: dict[str, Any] = {
        "summary": summary,
        "ticket": ticket,
        "thread": thread,
        "notes": ticket_notes,
        "calls": calls,
        "open_tasks": open_tasks,
        "user": user,
        "workable": workable,
        "may": lambda action: workable and may(user, action),
        "categories": triage.active_categories(session),
        "chosen": chosen,
        "linked": triage.businesses_of(session, ticket),
        "directory": businesses.directory(session),
        "next_steps": triage.next_steps(session, ticket) if workable else [],
        "colleagues": triage.assignable_users(session, user),
        "clocks": lambda t: triage.clocks(
            t, reported=any(r.sent_at for r in context["incident_reports"])
        ),
        "pending_referral": referral.pending_referral(session, ticket),
        "organisations": referral.organisations_to_refer_to(session, user),
        "consents": referral.CONSENT,
        "saved_replies": prompts.saved_replies(ticket.language),
        **remediation.page_context(session, ring, ticket, thread),
        **incidents.page_context(session, ring, ticket),
    }
    return render_template("ticket.html", **context)


def _reply(user: User, ticket: Ticket) -> None:
    saved = request.form.get("saved")
    text = dict(prompts.saved_replies(ticket.language)).get(saved or "") if saved else None
    message = replies.send_reply(
        db(),
        content_ring(),
        user,
        ticket,
        text if text is not None else request.form.get("text", ""),
    )
    db().commit()
    queued = dispatcher()
    if queued is not None:
        queued.enqueue("send_outbound", str(message.id))
    # TRANSLATORS: after a caseworker's reply is queued for the worker's chat.
    flash(_("Reply queued for the worker's chat."), "info")


def _note(user: User, ticket: Ticket) -> None:
    notes.add_note(db(), content_ring(), user, ticket, request.form.get("text", ""))


def _triage(user: User, ticket: Ticket) -> None:
    triage.set_categories(db(), user, ticket, _ids("category"))
    wanted = request.form.get("urgent") == "1"
    if wanted or not triage.has_indicator(db(), ticket):  # an indicator keeps it urgent
        triage.set_urgent(db(), user, ticket, wanted)


def _status(user: User, ticket: Ticket) -> None:
    triage.change_status(db(), user, ticket, request.form.get("status", ""))


def _assign(user: User, ticket: Ticket) -> None:
    value = request.form.get("assignee", "")
    if value == "me":
        assignee: int | None = user.id
    elif value in ("", "none"):
        assignee = None
    elif value.isdigit():
        assignee = int(value)
    else:
        raise Invalid("choose a colleague")
    triage.assign(db(), user, ticket, assignee)


def _link_business(user: User, ticket: Ticket) -> None:
    (business_id,) = _ids("business") or [0]
    triage.link_business(db(), user, ticket, business_id)


def _refer(user: User, ticket: Ticket) -> None:
    (organisation_id,) = _ids("organisation") or [0]
    referral.refer(
        db(),
        content_ring(),
        user,
        ticket,
        organisation_id,
        request.form.get("consent", ""),
        request.form.get("reason", ""),
    )
    # TRANSLATORS: after referring a ticket; the other organisation must accept it.
    flash(_("Referral sent. The other organisation sees the ticket once it accepts."), "info")


def _reroute(user: User, ticket: Ticket) -> None:
    (organisation_id,) = _ids("organisation") or [0]
    routing.reroute(db(), user, ticket, organisation_id)
    flash(
        # TRANSLATORS: after moving a ticket to another organisation's queue; %(ref)s is its number.
        _("Ticket %(ref)s moved to %(organisation)s's queue.")
        % {"ref": ticket.ref, "organisation": db().get_one(Organisation, organisation_id).name},
        "info",
    )


ticket_actions(
    blueprint,
    (
        ("reply", "reply", _reply, "tickets.reply"),
        ("note", "notes", _note, "tickets.note"),
        ("triage", "triage", _triage, "tickets.triage"),
        ("status", "status", _status, "tickets.status"),
        ("assign", "assign", _assign, "tickets.take"),
        ("link_business", "businesses", _link_business, "tickets.triage"),
        ("refer", "referrals", _refer, "tickets.refer"),
        ("reroute", "reroute", _reroute, "tickets.reroute"),
    ),
)


@blueprint.post("/tickets/<ref>/businesses/<int:business_id>/remove")
@allows("tickets.triage")
def unlink_business(ref: str, business_id: int) -> Response:
    user = signed_in_user()
    ticket = visible(user, ref).ticket
    with acting():
        triage.unlink_business(db(), user, ticket, business_id)
    return back(ticket)


# Files a browser may show inline; anything else is a download, never a page of ours.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "audio/mpeg",
                          "audio/ogg", "audio/wav", "audio/x-wav", "audio/mp4", "audio/aac",
                          "video/mp4"})  # fmt: skip


@blueprint.get("/tickets/<ref>/attachments/<uuid:attachment_id>")
@allows("tickets.read")
def attachment(ref: str, attachment_id: uuid.UUID) -> Response:
    user = signed_in_user()
    summary = visible(user, ref)
    try:
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
