"""Who may see what: the one place every ticket query is scoped."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false

from intake.models import Role, Ticket, User

STAFF_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CASEWORKER, Role.HOTLINE})


def ticket_scope(user: User) -> ColumnElement[bool]:
    """Return the condition a ticket must meet for this user to see it at all.

    Staff see their own organisation's tickets; a partner (brand, supplier) sees none.
    """
    if not user.active or user.role not in STAFF_ROLES:
        return false()
    return Ticket.organisation_id == user.organisation_id
