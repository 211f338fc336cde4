"""Who may see and do what: the one place the console and the JSON API ask.

Two questions, answered here and nowhere else:
- which tickets a user may see (`visible_tickets`) or change (`workable_tickets`), as
  SQL conditions every ticket query carries;
- which actions a role may take (`may`), from the table below, which mirrors the
  roles in DESIGN.md.

A partner (brand, supplier) sees no ticket at all, only indicators.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, or_, select
from sqlalchemy.orm import Session

from intake.errors import NotAllowed
from intake.models import Referral, ReferralStatus, Role, Ticket, User

STAFF_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CASEWORKER, Role.HOTLINE})
_CASEWORK = frozenset({Role.SUPERVISOR, Role.CASEWORKER})

# action -> the roles that may take it. Scope (which tickets) is a separate question.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "tickets.read": STAFF_ROLES,  # opening text writes an audit entry, whoever reads it
    "tickets.note": STAFF_ROLES,
    "tickets.reply": _CASEWORK,
    "tickets.triage": _CASEWORK | {Role.HOTLINE},  # categories, urgency, businesses
    "tickets.status": _CASEWORK,
    "tickets.take": _CASEWORK,  # assign to oneself
    "tickets.assign": frozenset({Role.SUPERVISOR}),  # assign to anyone, in bulk
    "tickets.reroute": frozenset({Role.SUPERVISOR}),
    "tickets.refer": _CASEWORK,
    # Remediation record; asking the worker to validate through the bot.
    "tickets.remediate": _CASEWORK,
    "tickets.validate": _CASEWORK,
    # Staff who call the worker record the answer given on the phone.
    "tickets.validate_by_phone": _CASEWORK | {Role.HOTLINE},
    # 72-hour incident reports to the partner: drafted, kept and marked sent by casework.
    "tickets.report": _CASEWORK,
    # The partner's own indicators: only partners (staff read tickets, not dashboards).
    "indicators.partner": frozenset({Role.PARTNER}),
    # The network's reach and every business's indicators.
    "indicators.network": frozenset({Role.ADMIN, Role.SUPERVISOR}),
    # Closing a ticket the worker never validated (with a written reason).
    "tickets.close_unvalidated": frozenset({Role.SUPERVISOR}),
    "referrals.decide": _CASEWORK,
    "calls.log": _CASEWORK | {Role.HOTLINE},
    "directory.edit": frozenset({Role.ADMIN, Role.SUPERVISOR}),
    # Supervisors edit the rules that send tickets to their own queue; admins, every rule.
    "routing.edit": frozenset({Role.ADMIN, Role.SUPERVISOR}),
    "routing.edit_all": frozenset({Role.ADMIN}),
    "taxonomy.edit": frozenset({Role.ADMIN}),
    "audit.read": frozenset({Role.ADMIN, Role.SUPERVISOR}),
    "audit.read_all": frozenset({Role.ADMIN}),
}


def may(user: User | None, action: str) -> bool:
    """Whether this user's role allows the action at all (unknown actions: never)."""
    if user is None or not user.active:
        return False
    return user.role in PERMISSIONS.get(action, frozenset())


def require(user: User, action: str, ticket: Ticket | None = None) -> None:
    """Raise NotAllowed unless the role allows the action (on a ticket of the user's queue)."""
    if not may(user, action):
        raise NotAllowed(action)
    if ticket is not None and not can_work(user, ticket):
        raise NotAllowed(f"{action} on a ticket of another organisation")


def roles_for(action: str) -> frozenset[Role]:
    return PERMISSIONS[action]


def workable_tickets(user: User) -> ColumnElement[bool]:
    """Tickets this user may change: those in their own organisation's queue."""
    if not user.active or user.role not in STAFF_ROLES:
        return false()
    return Ticket.organisation_id == user.organisation_id


def visible_tickets(user: User) -> ColumnElement[bool]:
    """Tickets this user may open: their organisation's, and those it referred away.

    A referral accepted elsewhere leaves the sender a read-only view of the case it
    handed over; a pending referral shows the receiver only the referral, not the case.
    """
    if not user.active or user.role not in STAFF_ROLES:
        return false()
    referred_away = exists(
        select(Referral.id).where(
            Referral.ticket_id == Ticket.id,
            Referral.from_organisation_id == user.organisation_id,
            Referral.status == ReferralStatus.ACCEPTED.value,
        )
    )
    return or_(Ticket.organisation_id == user.organisation_id, referred_away)


def can_work(user: User, ticket: Ticket) -> bool:
    """Whether this user may change this (already visible) ticket."""
    return (
        user.active and user.role in STAFF_ROLES and ticket.organisation_id == user.organisation_id
    )


def audit_actors(session: Session, user: User) -> list[str] | None:
    """Whose audit entries this user may browse: everyone's (admins) or their colleagues'."""
    if may(user, "audit.read_all"):
        return None
    if not may(user, "audit.read"):
        return []
    ids = session.scalars(select(User.id).where(User.organisation_id == user.organisation_id))
    return [f"user:{user_id}" for user_id in ids]
