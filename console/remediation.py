"""The ticket page's remediation record, worker validation and closing: the forms' actions.

Every rule lives in intake/ (remediation, validation, triage.close_ticket); these views
read the form, call the domain, and show its refusal in the reader's language.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Blueprint, flash, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.casework import acting, back, row_of, ticket_actions, visible
from console.context import content_ring, db, dispatcher, settings
from console.guard import allows, signed_in_user
from console.i18n import _
from intake import indicators, remediation, triage, validation
from intake.errors import Invalid
from intake.models import (
    Direction,
    Remediation,
    RemediationAction,
    Repayment,
    RepaymentKind,
    Ticket,
    User,
    Validation,
    Worker,
)
from safeguards.sealing import KeyRing
from translations.i18n import N_

blueprint = Blueprint("remediation", __name__)


def page_context(
    session: Session, ring: KeyRing, ticket: Ticket, thread: list[Any]
) -> dict[str, Any]:
    """What the ticket page shows of remediation, validation and closing."""
    asked = validation.latest(session, ticket)
    words = []
    if asked is not None and asked.method == "chat":
        # The worker's own words since we asked: what a dispute is about.
        words = [m for m in thread if m.direction == Direction.IN and m.at >= asked.requested_at]
    return {
        "timeline": remediation.timeline_of(session, ticket),
        "milestones": remediation.MILESTONES,
        "actions": remediation.actions_of(session, ring, ticket),
        "repayments": remediation.repayments_of(session, ticket),
        "money": sorted(remediation.ticket_money(session, [ticket.id]).items()),
        "repayment_kinds": [kind.value for kind in RepaymentKind],
        "validation": asked,
        "validation_summary": validation.summary_of(ring, asked) if asked else "",
        "worker_words": words,
        "closable_as": triage.closable_as(session, ticket),
        "recorded_scores": indicators.scores_of(session, ticket),
        "computed_scores": _computed_scores(session, ticket, asked),
        "indicator_axes": indicators.AXES,
        "recorded_indicators": indicators.RECORDED,
        "genders": indicators.GENDERS,
        "worker_profile": session.get_one(Worker, ticket.worker_id),
        "close_reason": triage.close_reason(ring, ticket),
        "today": dt.date.today(),
    }


def _computed_scores(
    session: Session, ticket: Ticket, asked: Validation | None
) -> dict[str, int | None]:
    """The scores the desk computes: timeliness from the dates, the worker's satisfaction."""
    scores = indicators.timeliness(
        ticket.created_at.date(),
        session.get(Remediation, ticket.id),
        settings().timeliness_bands,
    )
    satisfied = session.scalar(
        select(Validation.satisfaction)
        .where(Validation.ticket_id == ticket.id, Validation.satisfaction.is_not(None))
        .order_by(Validation.requested_at.desc())
        .limit(1)
    )
    scores["worker_satisfaction_response"] = satisfied
    return scores


def _date(name: str, required: bool = False) -> dt.date | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        if required:
            raise Invalid(N_("Give a date."))
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(N_("Give a date.")) from None


def _whole(name: str, default: int = 0) -> int:
    raw = request.form.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise Invalid(N_("Numbers of workers are whole numbers."))
    return int(raw)


def _timeline(user: User, ticket: Ticket) -> None:
    remediation.set_timeline(
        db(), user, ticket, {name: _date(name) for name in remediation.MILESTONES}
    )


def _add_action(user: User, ticket: Ticket) -> None:
    due = _date("due_on", required=True)
    assert due is not None
    remediation.add_action(
        db(),
        content_ring(),
        user,
        ticket,
        request.form.get("text", ""),
        request.form.get("owner", ""),
        due,
    )


def _add_repayment(user: User, ticket: Ticket) -> None:
    currency = request.form.get("currency", "").strip().upper()
    if currency not in remediation.CURRENCIES:
        raise Invalid(N_("Choose a currency by its three-letter code, like THB or MYR."))
    remediation.add_repayment(
        db(),
        user,
        ticket,
        kind=request.form.get("kind", ""),
        currency=currency,
        owed_minor=remediation.to_minor(request.form.get("owed", ""), currency),
        repaid_minor=remediation.to_minor(request.form.get("repaid", ""), currency),
        workers_affected=_whole("workers_affected", 1),
        workers_eligible=_whole("workers_eligible", 1),
        workers_repaid=_whole("workers_repaid", 0),
    )


def _request_validation(user: User, ticket: Ticket) -> None:
    message = validation.request_validation(
        db(),
        content_ring(),
        user,
        ticket,
        request.form.get("summary", ""),
        settings().validation_schedule,
    )
    db().commit()
    queued = dispatcher()
    if queued is not None:
        queued.enqueue("send_prompt", str(message.id))
    # TRANSLATORS: after asking the worker, through the bot, whether the fix happened.
    flash(_("The worker is asked in their chat whether it is really fixed."), "info")


def _by_phone(user: User, ticket: Ticket) -> None:
    raw = request.form.get("satisfaction", "")
    validation.record_by_phone(
        db(),
        user,
        ticket,
        request.form.get("answer", ""),
        int(raw) if raw.isdigit() else None,
    )


def _scores(user: User, ticket: Ticket) -> None:
    raw = request.form.get("business", "")
    if not raw.isdigit():
        raise Invalid(N_("Choose a business."))
    scores: dict[str, int | None] = {}
    for code in indicators.RECORDED:
        value = request.form.get(code, "")
        if value == "na" or value == "":
            scores[code] = None
        elif value.isdigit():
            scores[code] = int(value)
        else:
            raise Invalid(N_("A score is 1 to 5, or n/a."))
    indicators.record_scores(db(), user, ticket, int(raw), scores)
    # TRANSLATORS: after saving the Ethical Performance Scores of a business on a ticket.
    flash(_("Scores saved."), "info")


def _profile(user: User, ticket: Ticket) -> None:
    indicators.record_profile(
        db(),
        user,
        ticket,
        request.form.get("gender") or None,
        (request.form.get("nationality") or "").strip() or None,
        consent=request.form.get("consent") == "1",
    )


def _close(user: User, ticket: Ticket) -> None:
    triage.close_ticket(db(), content_ring(), user, ticket, request.form.get("reason"))
    # TRANSLATORS: after closing a ticket.
    flash(_("Ticket closed."), "info")


ticket_actions(
    blueprint,
    (
        ("timeline", "remediation/timeline", _timeline, "tickets.remediate"),
        ("add_action", "remediation/actions", _add_action, "tickets.remediate"),
        ("add_repayment", "remediation/repayments", _add_repayment, "tickets.remediate"),
        ("request_validation", "validation", _request_validation, "tickets.validate"),
        ("by_phone", "validation/phone", _by_phone, "tickets.validate_by_phone"),
        ("close", "close", _close, "tickets.status"),
        ("scores", "scores", _scores, "tickets.remediate"),
        ("profile", "worker-profile", _profile, "tickets.triage"),
    ),
)


@blueprint.post("/tickets/<ref>/remediation/actions/<uuid:action_id>/done")
@allows("tickets.remediate")
def action_done(ref: str, action_id: uuid.UUID) -> Response:
    user = signed_in_user()
    ticket = visible(user, ref).ticket
    row_of(ticket, RemediationAction, action_id)
    with acting():
        remediation.mark_action_done(
            db(), user, ticket, action_id, _date("done_on") or dt.date.today()
        )
    return back(ticket)


@blueprint.post("/tickets/<ref>/remediation/repayments/<uuid:repayment_id>")
@allows("tickets.remediate")
def update_repayment(ref: str, repayment_id: uuid.UUID) -> Response:
    user = signed_in_user()
    ticket = visible(user, ref).ticket
    found = row_of(ticket, Repayment, repayment_id)
    with acting():
        remediation.update_repayment(
            db(),
            user,
            ticket,
            repayment_id,
            repaid_minor=remediation.to_minor(request.form.get("repaid", ""), found.currency),
            workers_repaid=_whole("workers_repaid", 0),
        )
    return back(ticket)
