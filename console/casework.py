"""What every action on a ticket shares: finding it in the user's scope, refusing, going back."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from console.context import db
from console.guard import allows, signed_in_user
from console.i18n import _
from intake import tickets
from intake.errors import Conflict, Invalid, NotAllowed
from intake.models import Ticket, User
from safeguards.access import can_work


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


TicketAction = Callable[[User, Ticket], None]
Row = TypeVar("Row")


def row_of(ticket: Ticket, model: type[Row], row_id: object) -> Row:
    """A row named in a ticket's URL (an action, a repayment, a report), or 404 when it
    is missing or belongs to another ticket: a route never names what is not on its ticket."""
    public_id = getattr(model, "public_id", None)
    if public_id is not None:  # a row with a sequential id is named by its random one
        found = db().scalar(select(model).where(public_id == row_id))
    else:
        found = db().get(model, row_id)
    if found is None or getattr(found, "ticket_id", None) != ticket.id:
        abort(404)
    return found


def _on_ticket(action: TicketAction) -> Callable[[str], Response]:
    def view(ref: str) -> Response:
        user = signed_in_user()
        ticket = visible(user, ref).ticket
        with acting():
            action(user, ticket)
        if not can_work(user, ticket):  # moved out of this queue (re-routed): back to it
            return redirect(url_for("tickets.queue"), code=303)
        return back(ticket)

    return view


def ticket_actions(
    blueprint: Blueprint, actions: Iterable[tuple[str, str, TicketAction, str]]
) -> None:
    """Register form actions on a ticket: (endpoint, path under /tickets/<ref>/, action,
    permission). Each finds the ticket in the user's scope, shows a refusal as a flash
    message, commits what succeeded and goes back to the ticket page."""
    for name, rule, action, permission in actions:
        blueprint.add_url_rule(
            f"/tickets/<ref>/{rule}",
            endpoint=name,
            view_func=allows(permission)(_on_ticket(action)),
            methods=["POST"],
        )
