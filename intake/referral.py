"""Referral of a ticket to another organisation, with the worker's consent on record.

The receiving organisation sees only the referral (reference, language, categories,
the referrer's reason) until it accepts; then the ticket is in its queue, and the
organisation that referred it keeps a read-only view (see safeguards.access).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.errors import Conflict, Invalid, NotAllowed
from intake.models import Organisation, Referral, ReferralStatus, Ticket, TicketStatus, User
from safeguards import audit
from safeguards.access import require
from safeguards.sealing import KeyRing, binding
from translations.i18n import N_

# How the worker said yes to being referred.
CONSENT = ("chat", "call", "in_person")
MAX_REASON = 4000


def reason_binding(referral_id: int) -> bytes:
    return binding("referrals", "reason_sealed", referral_id)


def pending_referral(session: Session, ticket: Ticket) -> Referral | None:
    return session.scalar(
        select(Referral).where(
            Referral.ticket_id == ticket.id, Referral.status == ReferralStatus.PENDING.value
        )
    )


def refer(
    session: Session,
    ring: KeyRing,
    user: User,
    ticket: Ticket,
    to_organisation_id: int,
    consent: str,
    reason: str,
) -> Referral:
    """Offer a ticket to another organisation; the worker must have agreed."""
    require(user, "tickets.refer", ticket)
    if consent not in CONSENT:
        raise Invalid(N_("Record how the worker agreed to the referral."))
    if to_organisation_id == ticket.organisation_id:
        raise Invalid(N_("A ticket can only be referred to another organisation."))
    if session.get(Organisation, to_organisation_id) is None:
        raise Invalid(N_("Unknown organisation."))
    if ticket.status == TicketStatus.CLOSED.value:
        raise Conflict(N_("The ticket is closed."))
    if pending_referral(session, ticket) is not None:
        raise Conflict(N_("The ticket already waits for another organisation's answer."))
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise Invalid(N_("The reason is at most 4,000 characters."))
    referral = Referral(
        ticket_id=ticket.id,
        from_organisation_id=ticket.organisation_id,
        to_organisation_id=to_organisation_id,
        status=ReferralStatus.PENDING.value,
        consent=consent,
        created_by=user.id,
        created_at=utcnow(),
    )
    session.add(referral)
    session.flush()
    if reason:
        referral.reason_sealed = ring.seal_text(reason, reason_binding(referral.id))
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="referral.made",
        target=f"ticket:{ticket.ref}",
        referral=referral.id,
        to=to_organisation_id,
        consent=consent,
    )
    return referral


def decide(session: Session, user: User, public_id: uuid.UUID, accept: bool) -> Referral:
    """Accept (the ticket moves to this organisation's queue) or decline a referral."""
    require(user, "referrals.decide")
    # Lock the referral row only: its joined organisations and ticket are not locked
    # (PostgreSQL refuses FOR UPDATE on the nullable side of their outer joins).
    referral = session.scalar(
        select(Referral).where(Referral.public_id == public_id).with_for_update(of=Referral)
    )
    if referral is None or referral.to_organisation_id != user.organisation_id:
        raise NotAllowed("not a referral to this organisation")
    if referral.status != ReferralStatus.PENDING.value:
        raise Conflict(N_("This referral was answered already."))
    referral.status = (ReferralStatus.ACCEPTED if accept else ReferralStatus.DECLINED).value
    referral.decided_by = user.id
    referral.decided_at = utcnow()
    ticket = referral.ticket
    if accept:
        ticket.organisation_id = referral.to_organisation_id
        ticket.assignee_id = None
        ticket.updated_at = utcnow()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="referral.accepted" if accept else "referral.declined",
        target=f"ticket:{ticket.ref}",
        referral=referral.id,
    )
    return referral


@dataclass(frozen=True)
class ReferralView:
    id: int
    public_id: uuid.UUID
    ref: str
    language: str | None
    channel: str
    urgent: bool
    status: str
    consent: str
    from_organisation: str
    to_organisation: str
    created_at: dt.datetime
    reason: str | None = field(repr=False)


def _view(ring: KeyRing, referral: Referral) -> ReferralView:
    return ReferralView(
        id=referral.id,
        public_id=referral.public_id,
        ref=referral.ticket.ref,
        language=referral.ticket.language,
        channel=referral.ticket.channel,
        urgent=referral.ticket.urgent,
        status=referral.status,
        consent=referral.consent,
        from_organisation=referral.from_organisation.name,
        to_organisation=referral.to_organisation.name,
        created_at=referral.created_at,
        reason=(
            None
            if referral.reason_sealed is None
            else ring.open_text(referral.reason_sealed, reason_binding(referral.id))
        ),
    )


def incoming(session: Session, ring: KeyRing, user: User) -> list[ReferralView]:
    """Referrals waiting for this user's organisation to answer (audited: reasons are opened)."""
    require(user, "referrals.decide")
    found = list(
        session.scalars(
            select(Referral)
            .where(
                Referral.to_organisation_id == user.organisation_id,
                Referral.status == ReferralStatus.PENDING.value,
            )
            .order_by(Referral.created_at)
        )
    )
    if found:
        audit.record(
            session,
            actor=f"user:{user.id}",
            action="referral.read",
            target=None,
            referrals=[r.id for r in found],
        )
    return [_view(ring, r) for r in found]


def outgoing(session: Session, ring: KeyRing, user: User, limit: int = 100) -> list[ReferralView]:
    """Referrals this user's organisation made, newest first."""
    require(user, "tickets.read")
    return [
        _view(ring, r)
        for r in session.scalars(
            select(Referral)
            .where(Referral.from_organisation_id == user.organisation_id)
            .order_by(Referral.created_at.desc())
            .limit(limit)
        )
    ]


def organisations_to_refer_to(session: Session, user: User) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation)
            .where(Organisation.id != user.organisation_id)
            .order_by(Organisation.name)
        )
    )
