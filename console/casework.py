"""What every action on a ticket shares: finding it in the user's scope, refusing, going back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import abort, flash, redirect, url_for
from werkzeug.wrappers import Response

from console.context import db
from console.i18n import _
from intake import tickets
from intake.errors import Conflict, Invalid, NotAllowed
from intake.models import Ticket, User


@contextmanager
def acting() -> Iterator[None]:
    """Turn a service's refusal into what the user sees, and commit what succeeded."""
    try:
        yield
        db().commit()
    except NotAllowed:
        db().rollback()
        abort(403)
    except (Invalid, Conflict) as exc:
        db().rollback()
        flash(refusal(exc), "error")


def refusal(exc: Invalid | Conflict) -> str:
    """The service's reason, in the reader's language (its messages are catalog entries)."""
    return _(str(exc))


def visible(user: User, ref: str) -> tickets.TicketSummary:
    try:
        return tickets.get_ticket(db(), user, ref)
    except tickets.TicketNotFound:
        abort(404)


def back(ticket: Ticket) -> Response:
    return redirect(url_for("tickets.show", ref=ticket.ref), code=303)
