"""Referrals between organisations: those waiting for our answer, and those we made."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from console.context import content_ring, db
from console.guard import allows, signed_in_user
from console.i18n import _
from intake import referral
from intake.errors import Conflict, NotAllowed

blueprint = Blueprint("referrals", __name__)


@blueprint.get("/referrals")
@allows("referrals.decide")
def index() -> str:
    user = signed_in_user()
    incoming = referral.incoming(db(), content_ring(), user)
    outgoing = referral.outgoing(db(), content_ring(), user)
    db().commit()  # keep the audit entry for the reasons opened
    return render_template("referrals.html", user=user, incoming=incoming, outgoing=outgoing)


def _decide(referral_id: uuid.UUID, accept: bool) -> Response:
    user = signed_in_user()
    try:
        decided = referral.decide(db(), user, referral_id, accept)
        db().commit()
    except NotAllowed:
        abort(404)  # another organisation's referral: as if it did not exist
    except Conflict:
        db().rollback()
        # TRANSLATORS: someone else already accepted or declined this referral.
        flash(_("This referral was answered already."), "error")
        return redirect(url_for("referrals.index"), code=303)
    if accept:
        # TRANSLATORS: after accepting a referral; the ticket is now in this organisation's queue.
        flash(_("Referral accepted: the ticket is in your queue."), "info")
        return redirect(url_for("tickets.show", ref=decided.ticket.ref), code=303)
    # TRANSLATORS: after declining a referral.
    flash(_("Referral declined."), "info")
    return redirect(url_for("referrals.index"), code=303)


@blueprint.post("/referrals/<uuid:referral_id>/accept")
@allows("referrals.decide")
def accept(referral_id: uuid.UUID) -> Response:
    return _decide(referral_id, True)


@blueprint.post("/referrals/<uuid:referral_id>/decline")
@allows("referrals.decide")
def decline(referral_id: uuid.UUID) -> Response:
    return _decide(referral_id, False)
