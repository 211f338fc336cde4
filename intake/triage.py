"""Triage: categories, urgency, assignment, linked businesses, and the ticket lifecycle.

Every change checks the access table first, writes an audit entry, and leaves the
commit to the caller.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.errors import Conflict, Invalid
from intake.models import (
    Business,
    Category,
    Role,
    Ticket,
    TicketBusiness,
    TicketCategory,
    TicketStatus,
    User,
)
from intake.taxonomy import INFORMATION_GROUP, URGENT_GROUP
from safeguards import audit
from safeguards.access import may, require
from safeguards.sealing import KeyRing, binding
from translations.i18n import N_

S = TicketStatus
URGENT_CLOCK = dt.timedelta(hours=72)  # incident report to the partner
RESOLUTION_CLOCK = dt.timedelta(days=60)  # the network's resolution target

# The lifecycle of DESIGN.md. Validation moves (request, the worker's answer) belong to
# intake.validation and closing to `close_ticket`; these are the steps taken by hand.
MANUAL_STEPS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.TRIAGED}),
    S.TRIAGED: frozenset({S.IN_REMEDIATION}),
    S.IN_REMEDIATION: frozenset(),  # on to awaiting validation by asking the worker
    S.AWAITING_VALIDATION: frozenset(),  # the worker's answer moves it
    S.VALIDATED: frozenset(),
    S.CLOSED: frozenset(),
}


class ClosedAs(enum.StrEnum):
    VALIDATED = "validated"
    INFORMATION_ONLY = "information_only"
    # No answer by the deadline; a supervisor closed it with a written reason.
    UNVALIDATED = "unvalidated"


def _actor(user: User) -> str:
    return f"user:{user.id}"


def _target(ticket: Ticket) -> str:
    return f"ticket:{ticket.ref}"


# --- categories and urgency ------------------------------------------------------


def active_categories(session: Session) -> list[Category]:
    return list(
        session.scalars(
            select(Category).where(Category.active.is_(True)).order_by(Category.position)
        )
    )


def categories_of(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[Category]]:
    """Each ticket's categories, in taxonomy order (one query for a whole page)."""
    found: dict[int, list[Category]] = {ticket_id: [] for ticket_id in ticket_ids}
    if not ticket_ids:
        return found
    for ticket_id, category in session.execute(
        select(TicketCategory.ticket_id, Category)
        .join(Category, Category.id == TicketCategory.category_id)
        .where(TicketCategory.ticket_id.in_(ticket_ids))
        .order_by(Category.position)
    ):
        found[ticket_id].append(category)
    return found


def set_categories(
    session: Session, user: User, ticket: Ticket, category_ids: Iterable[int]
) -> list[Category]:
    """Replace the ticket's categories; a forced-labour indicator makes it urgent."""
    require(user, "tickets.triage", ticket)
    wanted = set(category_ids)
    chosen = list(
        session.scalars(select(Category).where(Category.id.in_(wanted)).order_by(Category.position))
    )
    if len(chosen) != len(wanted):
        raise Invalid(N_("Unknown category."))
    session.execute(delete(TicketCategory).where(TicketCategory.ticket_id == ticket.id))
    session.add_all(TicketCategory(ticket_id=ticket.id, category_id=c.id) for c in chosen)
    audit.record(
        session,
        actor=_actor(user),
        action="ticket.categories",
        target=_target(ticket),
        categories=[c.code for c in chosen],
    )
    if any(c.group == URGENT_GROUP for c in chosen) and not ticket.urgent:
        _mark_urgent(session, user, ticket, True, reason="indicator")
    ticket.updated_at = utcnow()
    return chosen


def has_indicator(session: Session, ticket: Ticket) -> bool:
    """Whether the ticket carries one of the ILO's forced-labour indicators."""
    return (
        session.scalar(
            select(Category.id)
            .join(TicketCategory, TicketCategory.category_id == Category.id)
            .where(TicketCategory.ticket_id == ticket.id, Category.group == URGENT_GROUP)
            .limit(1)
        )
        is not None
    )


def set_urgent(session: Session, user: User, ticket: Ticket, urgent: bool) -> None:
    """Flag or unflag a ticket as urgent; flagging starts the 72-hour clock.

    A ticket with a forced-labour indicator stays urgent: DESIGN.md makes those urgent.
    """
    require(user, "tickets.triage", ticket)
    if not urgent and ticket.urgent and has_indicator(session, ticket):
        raise Conflict(N_("A ticket with a forced-labour indicator stays urgent."))
    if urgent != ticket.urgent:
        _mark_urgent(session, user, ticket, urgent, reason="by hand")


def _mark_urgent(session: Session, user: User, ticket: Ticket, urgent: bool, reason: str) -> None:
    ticket.urgent = urgent
    ticket.urgent_since = utcnow() if urgent else None
    ticket.updated_at = utcnow()
    audit.record(
        session,
        actor=_actor(user),
        action="ticket.urgent" if urgent else "ticket.not_urgent",
        target=_target(ticket),
        reason=reason,
    )


def is_information_only(session: Session, ticket: Ticket) -> bool:
    """A question, no grievance: every category it carries is a request for information."""
    groups = set(
        session.scalars(
            select(Category.group)
            .join(TicketCategory, TicketCategory.category_id == Category.id)
            .where(TicketCategory.ticket_id == ticket.id)
        )
    )
    return groups == {INFORMATION_GROUP}


# --- the lifecycle -----------------------------------------------------------------


def next_steps(session: Session, ticket: Ticket) -> list[str]:
    """The statuses a caseworker may move this ticket to by hand (closing apart)."""
    return [s.value for s in TicketStatus if s.value in MANUAL_STEPS[ticket.status]]


def change_status(session: Session, user: User, ticket: Ticket, status: str) -> None:
    """Move a ticket one step along the lifecycle, or refuse with Conflict."""
    require(user, "tickets.status", ticket)
    if status == S.CLOSED:
        raise Conflict(
            N_("Close a ticket with the Close button: it checks the worker's validation.")
        )
    if status not in next_steps(session, ticket):
        raise Conflict(N_("That is not the next step of this ticket's lifecycle."))
    previous = ticket.status
    ticket.status = status
    ticket.updated_at = utcnow()
    audit.record(
        session,
        actor=_actor(user),
        action="ticket.status",
        target=_target(ticket),
        previous=previous,
        status=status,
    )


def close_reason_binding(ticket_id: int) -> bytes:
    return binding("tickets", "close_reason_sealed", ticket_id)


def closable_as(session: Session, ticket: Ticket) -> ClosedAs | None:
    """How this ticket may close now, if at all: the closure rules of DESIGN.md.

    Validated by the worker; a question with no grievance (information-only, triaged);
    or, past the validation deadline with no answer, unvalidated, which only a
    supervisor may close, with a written reason.
    """
    if ticket.status == S.VALIDATED:
        return ClosedAs.VALIDATED
    if ticket.status == S.TRIAGED and is_information_only(session, ticket):
        return ClosedAs.INFORMATION_ONLY
    if ticket.status == S.AWAITING_VALIDATION and ticket.validation_status == "unvalidated":
        return ClosedAs.UNVALIDATED
    return None


def close_ticket(
    session: Session, ring: KeyRing, user: User, ticket: Ticket, reason: str | None = None
) -> ClosedAs:
    """Close a ticket, or refuse with Conflict: the one way any ticket closes."""
    require(user, "tickets.status", ticket)
    if ticket.status == S.CLOSED:
        raise Conflict(N_("The ticket is closed."))
    closed_as = closable_as(session, ticket)
    if closed_as is None:
        raise Conflict(
            N_(
                "A ticket closes only once the worker has confirmed the fix, "
                "or when it was only a question."
            )
        )
    reason = " ".join((reason or "").split())
    detail: dict[str, str] = {"closed_as": closed_as.value, "previous": ticket.status}
    if closed_as is ClosedAs.UNVALIDATED:
        if not may(user, "tickets.close_unvalidated"):
            raise Conflict(N_("Only a supervisor may close a ticket the worker has not confirmed."))
        if not reason:
            raise Conflict(N_("Write why you close this ticket without the worker's confirmation."))
        ticket.close_reason_sealed = ring.seal_text(reason[:2000], close_reason_binding(ticket.id))
        # The chain pins the words without holding them; the ticket keeps them sealed.
        detail["reason_sha256"] = hashlib.sha256(reason[:2000].encode()).hexdigest()
    ticket.status = S.CLOSED.value
    ticket.closed_as = closed_as.value
    ticket.closed_by = user.id
    ticket.closed_at = ticket.updated_at = utcnow()
    audit.record(
        session, actor=_actor(user), action="ticket.closed", target=_target(ticket), **detail
    )
    return closed_as


def close_reason(ring: KeyRing, ticket: Ticket) -> str | None:
    if ticket.close_reason_sealed is None:
        return None
    return ring.open_text(ticket.close_reason_sealed, close_reason_binding(ticket.id))


# --- assignment ----------------------------------------------------------------------

ASSIGNABLE_ROLES = (Role.CASEWORKER.value, Role.SUPERVISOR.value, Role.HOTLINE.value)


def assignable_users(session: Session, user: User) -> list[User]:
    """Colleagues a ticket of this user's organisation may be given to."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.organisation_id == user.organisation_id,
                User.active.is_(True),
                User.role.in_(ASSIGNABLE_ROLES),
            )
            .order_by(User.email)
        )
    )


def assign(session: Session, user: User, ticket: Ticket, assignee_id: int | None) -> None:
    """Give a ticket to a colleague (supervisors), or take or drop it oneself."""
    # Taking a free ticket or giving back one's own; anything else is assigning.
    taking_or_dropping_own = ticket.assignee_id in (None, user.id) and assignee_id in (
        None,
        user.id,
    )
    require(user, "tickets.take" if taking_or_dropping_own else "tickets.assign", ticket)
    if assignee_id is not None:
        assignee = session.get(User, assignee_id)
        if (
            assignee is None
            or not assignee.active
            or assignee.organisation_id != ticket.organisation_id
            or assignee.role not in ASSIGNABLE_ROLES
        ):
            raise Invalid(N_("That colleague cannot take tickets of this queue."))
    if ticket.assignee_id == assignee_id:
        return
    ticket.assignee_id = assignee_id
    ticket.updated_at = utcnow()
    audit.record(
        session,
        actor=_actor(user),
        action="ticket.assign",
        target=_target(ticket),
        assignee=assignee_id,
    )


def bulk_assign(
    session: Session, user: User, tickets: Sequence[Ticket], assignee_id: int | None
) -> int:
    """Assign several tickets at once; all or none (a refusal rolls back with the caller)."""
    for ticket in tickets:
        assign(session, user, ticket, assignee_id)
    return len(tickets)


# --- businesses ------------------------------------------------------------------------


def businesses_of(session: Session, ticket: Ticket) -> list[Business]:
    return list(
        session.scalars(
            select(Business)
            .join(TicketBusiness, TicketBusiness.business_id == Business.id)
            .where(TicketBusiness.ticket_id == ticket.id)
            .order_by(Business.kind, Business.name)
        )
    )


def link_business(session: Session, user: User, ticket: Ticket, business_id: int) -> Business:
    """Link the employer, agency or brand a ticket is about."""
    require(user, "tickets.triage", ticket)
    business = session.get(Business, business_id)
    if business is None:
        raise Invalid(N_("Unknown business."))
    if session.get(TicketBusiness, (ticket.id, business.id)) is None:
        session.add(TicketBusiness(ticket_id=ticket.id, business_id=business.id))
        audit.record(
            session,
            actor=_actor(user),
            action="ticket.business_linked",
            target=_target(ticket),
            business=business.id,
        )
        ticket.updated_at = utcnow()
    return business


def unlink_business(session: Session, user: User, ticket: Ticket, business_id: int) -> None:
    require(user, "tickets.triage", ticket)
    link = session.get(TicketBusiness, (ticket.id, business_id))
    if link is not None:
        session.delete(link)
        audit.record(
            session,
            actor=_actor(user),
            action="ticket.business_unlinked",
            target=_target(ticket),
            business=business_id,
        )
        ticket.updated_at = utcnow()


# --- clocks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """A deadline and how it stands: `left` is negative once it has passed."""

    due: dt.datetime
    left: dt.timedelta

    @property
    def overdue(self) -> bool:
        return self.left < dt.timedelta(0)


def clocks(
    ticket: Ticket, now: dt.datetime | None = None, reported: bool = False
) -> dict[str, Clock]:
    """The urgent ticket's 72 hours and every open ticket's 60 days, as they stand now.

    The 72 hours are for the first incident report to the partner: once one is sent
    (`reported`), that clock has been met and follow-ups are intake.incidents' to time.
    """
    now = now or utcnow()
    found: dict[str, Clock] = {}
    if ticket.status == S.CLOSED:
        return found
    if ticket.urgent and ticket.urgent_since is not None and not reported:
        due = ticket.urgent_since + URGENT_CLOCK
        found["urgent"] = Clock(due, due - now)
    due = ticket.created_at + RESOLUTION_CLOCK
    found["resolution"] = Clock(due, due - now)
    return found
