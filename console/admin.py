"""Admin and supervisor pages: routing rules, the taxonomy, the business directory, audit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.casework import acting
from console.context import content_ring, db, settings
from console.guard import allows, signed_in_user
from console.i18n import _
from intake import businesses, indicators, routing, taxonomy, tickets, triage
from intake.models import AuditEntry, BusinessKind, Category, Organisation, User
from safeguards import audit
from safeguards.access import audit_actors, may
from translations.scripts import WORKER_LANGUAGES

blueprint = Blueprint("admin", __name__)
CHANNELS = ("telegram", "whatsapp", "viber", "sms", "voice", "simulator")


def _int_or_none(name: str) -> int | None:
    value = request.form.get(name, "")
    if not value:
        return None
    if not value.isdigit():
        abort(400)
    return int(value)


def _act(action: Callable[[], object], done: str, back: str) -> Response:
    with acting():
        action()
        flash(done, "info")
    return redirect(url_for(back), code=303)


# --- routing rules ------------------------------------------------------------------


@blueprint.get("/admin/routing")
@allows("routing.edit")
def routing_rules() -> str:
    session = db()
    user = signed_in_user()
    return render_template(
        "routing.html",
        user=user,
        edits_all=may(user, "routing.edit_all"),
        rules=routing.rules(session),
        organisations={
            o.id: o for o in session.scalars(select(Organisation).order_by(Organisation.name))
        },
        categories={c.id: c for c in session.scalars(select(Category).order_by(Category.position))},
        directory={b.id: b for b in businesses.directory(session)},
        languages=WORKER_LANGUAGES,
        channels=CHANNELS,
    )


@blueprint.post("/admin/routing")
@allows("routing.edit")
def add_rule() -> Response:
    user = signed_in_user()
    organisation_id = _int_or_none("organisation")
    if organisation_id is None:
        abort(400)
    form = request.form
    return _act(
        lambda: routing.add_rule(
            db(),
            user,
            organisation_id,
            language=form.get("language") or None,
            country=form.get("country") or None,
            channel=form.get("channel") or None,
            category_id=_int_or_none("category"),
            business_id=_int_or_none("business"),
            position=_int_or_none("position"),
        ),
        # TRANSLATORS: after adding a routing rule.
        _("Rule added."),
        "admin.routing_rules",
    )


@blueprint.post("/admin/routing/<int:rule_id>/delete")
@allows("routing.edit")
def delete_rule(rule_id: int) -> Response:
    user = signed_in_user()
    # TRANSLATORS: after deleting a routing rule.
    return _act(
        lambda: routing.delete_rule(db(), user, rule_id), _("Rule deleted."), "admin.routing_rules"
    )


# --- the taxonomy ---------------------------------------------------------------------


@blueprint.get("/admin/categories")
@allows("taxonomy.edit")
def categories() -> str:
    session = db()
    return render_template(
        "categories.html",
        user=signed_in_user(),
        categories=list(session.scalars(select(Category).order_by(Category.position))),
        groups=list(taxonomy.GROUPS),
    )


@blueprint.post("/admin/categories")
@allows("taxonomy.edit")
def add_category() -> Response:
    user = signed_in_user()
    form = request.form
    return _act(
        lambda: taxonomy.add_category(
            db(), user, form.get("code", ""), form.get("group", ""), form.get("name", "")
        ),
        # TRANSLATORS: after adding a category to the taxonomy.
        _("Category added."),
        "admin.categories",
    )


@blueprint.post("/admin/categories/<int:category_id>/active")
@allows("taxonomy.edit")
def set_category_active(category_id: int) -> Response:
    user = signed_in_user()
    active = request.form.get("active") == "1"
    return _act(
        lambda: taxonomy.set_category_active(db(), user, category_id, active),
        # TRANSLATORS: after retiring or restoring a category.
        _("Category saved."),
        "admin.categories",
    )


# --- the business directory ------------------------------------------------------------


@blueprint.get("/directory")
@allows("tickets.read")
def directory() -> str:
    user = signed_in_user()
    session = db()
    kind = request.args.get("kind") or None
    found = businesses.directory(session, kind=kind, query=request.args.get("q", ""))
    return render_template(
        "directory.html",
        user=user,
        found=found,
        kinds=[k.value for k in BusinessKind],
        brands=businesses.directory(session, kind=BusinessKind.BRAND.value),
        suppliers=businesses.directory(session, kind=BusinessKind.SUPPLIER.value),
        suppliers_of={
            b.id: businesses.suppliers_of(session, b.id) for b in found if b.kind == "brand"
        },
        can_edit=may(user, "directory.edit"),
        query=request.args.get("q", ""),
        kind=kind,
    )


@blueprint.post("/directory")
@allows("directory.edit")
def add_business() -> Response:
    user = signed_in_user()
    form = request.form
    return _act(
        lambda: businesses.add_business(
            db(),
            user,
            form.get("name", ""),
            form.get("kind", ""),
            form.get("country"),
            form.get("sector"),
        ),
        # TRANSLATORS: after adding a business to the directory.
        _("Business added."),
        "admin.directory",
    )


@blueprint.post("/directory/links")
@allows("directory.edit")
def link_supplier() -> Response:
    user = signed_in_user()
    brand, supplier = _int_or_none("brand"), _int_or_none("supplier")
    if brand is None or supplier is None:
        abort(400)
    return _act(
        lambda: businesses.link_supplier(db(), user, brand, supplier),
        # TRANSLATORS: after recording that a brand buys from a supplier.
        _("Supply link saved."),
        "admin.directory",
    )


# --- the audit log ----------------------------------------------------------------------


def _close_reasons(session: Session, user: User, entries: list[AuditEntry]) -> dict[int, str]:
    """The written reasons of supervisor closes, for tickets this reader may open.

    The audit entry holds the reason's SHA-256, the ticket the sealed words: shown
    together, a reason changed after the fact would not match its entry.
    """
    reasons: dict[int, str] = {}
    for entry in entries:
        if entry.action != "ticket.closed" or "reason_sha256" not in entry.detail:
            continue
        try:
            ticket = tickets.get_ticket(session, user, (entry.target or "")[len("ticket:") :])
        except tickets.TicketNotFound:
            continue
        reason = triage.close_reason(content_ring(), ticket.ticket) or ""
        if hashlib.sha256(reason.encode()).hexdigest() == entry.detail["reason_sha256"]:
            reasons[entry.id] = reason
        else:
            # TRANSLATORS: the reason stored on the ticket no longer matches the audit entry.
            reasons[entry.id] = _("The reason on the ticket does not match this entry.")
    return reasons


@blueprint.get("/audit")
@allows("audit.read")
def audit_log() -> str:
    user = signed_in_user()
    session = db()
    before = request.args.get("before", "")
    entries = audit.browse(
        session,
        audit_actors(session, user),
        action=request.args.get("action") or None,
        target=request.args.get("target") or None,
        before_id=int(before) if before.isdigit() else None,
        limit=100,
    )
    ids = {
        int(e.actor.split(":", 1)[1])
        for e in entries
        if e.actor.startswith("user:") and e.actor[5:].isdigit()
    }
    names = {
        row.id: row.email
        for row in session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    }
    return render_template(
        "audit.html",
        user=user,
        entries=entries,
        reasons=_close_reasons(session, user, entries),
        names={f"user:{k}": v for k, v in names.items()},
        next_before=entries[-1].id if len(entries) == 100 else None,
        action=request.args.get("action", ""),
        target=request.args.get("target", ""),
    )


# --- the network's reports --------------------------------------------------------------


@blueprint.get("/reports")
@allows("indicators.network")
def reports() -> str:
    """Reach of the network and each business's indicators, published as partners see them."""
    session = db()
    config = settings()
    rows = []
    for business in businesses.directory(session, limit=500):
        if business.kind == "agency":
            continue
        chain = indicators.supply_chain(session, business)
        rows.append((business, indicators.impact_of(session, chain, config)))
    return render_template(
        "reports.html",
        user=signed_in_user(),
        reach=indicators.reach(session),
        rows=rows,
        axes=list(indicators.AXES),
        publish=lambda figure: indicators.publish(figure, config),
    )
