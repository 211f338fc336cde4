"""The remediation record: how the business responded, what it agreed to do, what it owes.

Three parts, all on one ticket:
- the business response timeline: four dates (first response, action plan agreed,
  actions done, resolved), which the indicators score for timeliness;
- actions, each with what is to be done and who owns it (both sealed: free text) and
  a due date;
- money owed to workers and repaid (recruitment fees, wages), in integer minor units
  with an ISO 4217 currency, and how many workers were affected, eligible and repaid.

A repayment counts as repaid unless the worker disputed it: the worker's latest answer
covers every repayment as it stood when they were asked (`Repayment.validation_id`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, list_currencies
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.errors import Invalid
from intake.models import (
    Remediation,
    RemediationAction,
    Repayment,
    RepaymentKind,
    Ticket,
    User,
    Validation,
    ValidationStatus,
)
from safeguards import audit
from safeguards.access import require
from safeguards.sealing import KeyRing, binding
from translations.i18n import N_

MILESTONES = ("first_response_on", "plan_agreed_on", "actions_done_on", "resolved_on")
MAX_TEXT = 1000
CURRENCIES = frozenset(list_currencies())


def _audit(session: Session, user: User, ticket: Ticket, action: str, **detail: object) -> None:
    audit.record(
        session, actor=f"user:{user.id}", action=action, target=f"ticket:{ticket.ref}", **detail
    )
    ticket.updated_at = utcnow()


# --- the timeline ------------------------------------------------------------------------


def timeline_of(session: Session, ticket: Ticket) -> Remediation:
    """The ticket's timeline (an empty one, not stored, when nothing is recorded yet)."""
    return session.get(Remediation, ticket.id) or Remediation(ticket_id=ticket.id)


def set_timeline(
    session: Session, user: User, ticket: Ticket, dates: dict[str, dt.date | None]
) -> Remediation:
    """Record when the business responded, agreed a plan, acted and resolved the issue."""
    require(user, "tickets.remediate", ticket)
    unknown = set(dates) - set(MILESTONES)
    if unknown:
        raise Invalid(N_("Unknown step of the business response."))
    timeline = session.get(Remediation, ticket.id)
    if timeline is None:
        timeline = Remediation(ticket_id=ticket.id)
        session.add(timeline)
    merged = {name: dates.get(name, getattr(timeline, name)) for name in MILESTONES}
    today = dt.date.today() + dt.timedelta(days=1)  # a day's grace for time zones
    if any(day is not None and day > today for day in merged.values()):
        raise Invalid(N_("The business response dates cannot be in the future."))
    known = [day for day in merged.values() if day is not None]
    if known != sorted(known) or any(day < ticket.created_at.date() for day in known):
        raise Invalid(
            N_(
                "The business response dates come after the ticket opened, in this order: "
                "first response, action plan agreed, actions done, resolved."
            )
        )
    changed = {name: day.isoformat() if day else None for name, day in merged.items()
               if getattr(timeline, name) != day}  # fmt: skip
    for name, day in merged.items():
        setattr(timeline, name, day)
    timeline.updated_by = user.id
    timeline.updated_at = utcnow()
    if changed:
        _audit(session, user, ticket, "remediation.timeline", **changed)
    return timeline


# --- actions -------------------------------------------------------------------------------


def action_binding(action_id: uuid.UUID, column: str) -> bytes:
    return binding("remediation_actions", column, action_id)


@dataclass(frozen=True)
class ActionView:
    id: uuid.UUID
    text: str
    owner: str
    due_on: dt.date
    done_on: dt.date | None


def add_action(
    session: Session,
    ring: KeyRing,
    user: User,
    ticket: Ticket,
    text: str,
    owner: str,
    due_on: dt.date,
) -> RemediationAction:
    require(user, "tickets.remediate", ticket)
    text, owner = text.strip(), owner.strip()
    if not text or len(text) > MAX_TEXT or not owner or len(owner) > 200:
        raise Invalid(N_("Write what is to be done and who owns it."))
    action_id = uuid.uuid4()
    action = RemediationAction(
        id=action_id,
        ticket_id=ticket.id,
        text_sealed=ring.seal_text(text, action_binding(action_id, "text_sealed")),
        owner_sealed=ring.seal_text(owner, action_binding(action_id, "owner_sealed")),
        due_on=due_on,
        created_by=user.id,
        created_at=utcnow(),
    )
    session.add(action)
    _audit(session, user, ticket, "remediation.action_added", item=str(action_id))
    return action


def mark_action_done(
    session: Session, user: User, ticket: Ticket, action_id: uuid.UUID, done_on: dt.date
) -> None:
    require(user, "tickets.remediate", ticket)
    action = session.get(RemediationAction, action_id)
    if action is None or action.ticket_id != ticket.id:
        raise Invalid(N_("Unknown action."))
    action.done_on = done_on
    _audit(session, user, ticket, "remediation.action_done", item=str(action_id))


def actions_of(session: Session, ring: KeyRing, ticket: Ticket) -> list[ActionView]:
    return [
        ActionView(
            id=action.id,
            text=ring.open_text(action.text_sealed, action_binding(action.id, "text_sealed")),
            owner=ring.open_text(action.owner_sealed, action_binding(action.id, "owner_sealed")),
            due_on=action.due_on,
            done_on=action.done_on,
        )
        for action in session.scalars(
            select(RemediationAction)
            .where(RemediationAction.ticket_id == ticket.id)
            .order_by(RemediationAction.due_on, RemediationAction.created_at)
        )
    ]


# --- money --------------------------------------------------------------------------------


def to_minor(amount: str, currency: str) -> int:
    """Read an amount typed by staff ("12,500.50") as integer minor units of the currency."""
    try:
        value = Decimal(amount.replace(",", "").replace(" ", "").strip() or "0")
    except InvalidOperation:
        raise Invalid(N_("An amount is a number, like 12500 or 12500.50.")) from None
    minor = value.scaleb(get_currency_precision(currency))
    if not value.is_finite() or value < 0 or minor != minor.to_integral_value():
        raise Invalid(N_("An amount is a number, like 12500 or 12500.50."))
    return int(minor)


def from_minor(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-get_currency_precision(currency))


def _check_repayment(
    currency: str, owed: int, repaid: int, affected: int, eligible: int, workers_repaid: int
) -> None:
    if currency not in CURRENCIES:
        raise Invalid(N_("Choose a currency by its three-letter code, like THB or MYR."))
    if owed < 0 or repaid < 0 or not 0 <= workers_repaid <= eligible <= affected or affected < 1:
        raise Invalid(
            N_("Workers repaid cannot exceed workers eligible, nor eligible exceed affected.")
        )


def add_repayment(
    session: Session,
    user: User,
    ticket: Ticket,
    *,
    kind: str,
    currency: str,
    owed_minor: int,
    repaid_minor: int = 0,
    workers_affected: int = 1,
    workers_eligible: int = 1,
    workers_repaid: int = 0,
) -> Repayment:
    """Record money the business owes workers of this ticket, and what it has repaid."""
    require(user, "tickets.remediate", ticket)
    if kind not in RepaymentKind.__members__.values():
        raise Invalid(N_("Choose what the money is for."))
    currency = currency.strip().upper()
    _check_repayment(
        currency, owed_minor, repaid_minor, workers_affected, workers_eligible, workers_repaid
    )
    repayment = Repayment(
        ticket_id=ticket.id,
        kind=kind,
        currency=currency,
        owed_minor=owed_minor,
        repaid_minor=repaid_minor,
        workers_affected=workers_affected,
        workers_eligible=workers_eligible,
        workers_repaid=workers_repaid,
        created_by=user.id,
    )
    session.add(repayment)
    session.flush()
    _audit(session, user, ticket, "remediation.repayment_added", repayment=repayment.id)
    return repayment


def update_repayment(
    session: Session,
    user: User,
    ticket: Ticket,
    public_id: uuid.UUID,
    *,
    repaid_minor: int,
    workers_repaid: int,
) -> Repayment:
    """The business says it repaid more: the worker is asked again at the next validation."""
    require(user, "tickets.remediate", ticket)
    repayment = session.scalar(select(Repayment).where(Repayment.public_id == public_id))
    if repayment is None or repayment.ticket_id != ticket.id:
        raise Invalid(N_("Unknown repayment."))
    _check_repayment(
        repayment.currency,
        repayment.owed_minor,
        repaid_minor,
        repayment.workers_affected,
        repayment.workers_eligible,
        workers_repaid,
    )
    repayment.repaid_minor = repaid_minor
    repayment.workers_repaid = workers_repaid
    repayment.validation_id = None  # a new claim: what the worker said was about the old one
    _audit(session, user, ticket, "remediation.repayment_updated", repayment=repayment.id)
    return repayment


@dataclass(frozen=True)
class RepaymentView:
    repayment: Repayment
    # claimed (not asked yet, or no answer), confirmed, or disputed by the worker
    standing: str


def standing_of(validation_status: str | None) -> str:
    if validation_status == ValidationStatus.VALIDATED:
        return "confirmed"
    if validation_status == ValidationStatus.DISPUTED:
        return "disputed"
    return "claimed"


def repayments_of(session: Session, ticket: Ticket) -> list[RepaymentView]:
    rows = session.execute(
        select(Repayment, Validation.status)
        .outerjoin(Validation, Validation.id == Repayment.validation_id)
        .where(Repayment.ticket_id == ticket.id)
        .order_by(Repayment.created_at, Repayment.id)
    )
    return [RepaymentView(repayment, standing_of(status)) for repayment, status in rows]


@dataclass
class MoneyTotals:
    """What is owed and repaid in one currency for one kind of money (minor units)."""

    owed: int = 0
    repaid: int = 0  # claimed by the business and not disputed by the worker
    confirmed: int = 0  # of which the worker confirmed
    disputed: int = 0  # claimed, but the worker says it did not happen (not counted)
    workers_eligible: int = 0
    workers_repaid: int = 0  # not counting disputed repayments


def money_totals(
    session: Session, where: ColumnElement[bool] | None = None
) -> dict[tuple[str, str], MoneyTotals]:
    """Owed and repaid per (kind, currency) over the tickets `where` selects (or all).

    Currencies are never added together; a repayment the worker disputed counts as
    owed and not repaid.
    """
    query = (
        select(
            Repayment.kind,
            Repayment.currency,
            Repayment.owed_minor,
            Repayment.repaid_minor,
            Repayment.workers_eligible,
            Repayment.workers_repaid,
            Validation.status,
        )
        .join(Ticket, Ticket.id == Repayment.ticket_id)
        .outerjoin(Validation, Validation.id == Repayment.validation_id)
    )
    if where is not None:
        query = query.where(where)
    totals: dict[tuple[str, str], MoneyTotals] = {}
    for kind, currency, owed, repaid, eligible, workers_repaid, status in session.execute(query):
        entry = totals.setdefault((kind, currency), MoneyTotals())
        entry.owed += owed
        entry.workers_eligible += eligible
        standing = standing_of(status)
        if standing == "disputed":
            entry.disputed += repaid
            continue
        entry.repaid += repaid
        entry.workers_repaid += workers_repaid
        if standing == "confirmed":
            entry.confirmed += repaid
    return totals


def ticket_money(session: Session, ticket_ids: Sequence[int]) -> dict[tuple[str, str], MoneyTotals]:
    return money_totals(session, Ticket.id.in_(ticket_ids))
