"""Which organisation's queue a ticket goes to: admin-edited rules, then a fallback.

Rules are tried by position; the first whose every set criterion matches wins. A rule
with no criterion is a catch-all. With no rule matching, a ticket goes to the first
organisation serving its language, else the oldest organisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake import tickets
from intake.db import utcnow
from intake.errors import Conflict, Invalid
from intake.models import Organisation, RoutingRule, Ticket, TicketStatus, User, Worker
from safeguards import audit
from safeguards.access import require
from translations.i18n import N_


class NoOrganisation(RuntimeError):
    """There is no organisation to route a ticket to; create one with `voicedesk org create`."""


@dataclass(frozen=True)
class TicketFacts:
    """What routing may look at: nothing about the worker beyond language and country."""

    language: str | None = None
    country: str | None = None
    channel: str | None = None
    category_ids: frozenset[int] = frozenset()
    business_ids: frozenset[int] = frozenset()


# Channels whose address is a phone number, which tells the worker's country.
PHONE_CHANNELS = ("sms", "whatsapp", "voice")


def country_of_address(channel: str, address: str) -> str | None:
    """The country of a worker's phone number (ISO 3166 alpha-2), if the channel has one."""
    if channel not in PHONE_CHANNELS:
        return None
    try:
        number = phonenumbers.parse(address.removeprefix("whatsapp:"))
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(number) or None


def _matches(rule: RoutingRule, facts: TicketFacts) -> bool:
    return (
        (rule.language is None or rule.language == facts.language)
        and (rule.country is None or rule.country == facts.country)
        and (rule.channel is None or rule.channel == facts.channel)
        and (rule.category_id is None or rule.category_id in facts.category_ids)
        and (rule.business_id is None or rule.business_id in facts.business_ids)
    )


def rules(session: Session) -> list[RoutingRule]:
    return list(session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)))


def route_ticket(
    session: Session,
    language: str | None,
    *,
    country: str | None = None,
    channel: str | None = None,
    category_ids: Iterable[int] = (),
    business_ids: Iterable[int] = (),
) -> int:
    """Return the organisation id for a new ticket with these facts."""
    facts = TicketFacts(
        language, country, channel, frozenset(category_ids), frozenset(business_ids)
    )
    for rule in rules(session):
        if _matches(rule, facts):
            return rule.organisation_id
    organisations = list(session.scalars(select(Organisation).order_by(Organisation.id)))
    if not organisations:
        raise NoOrganisation("no organisation exists to receive tickets")
    for organisation in organisations:
        if language and language in (organisation.languages or []):
            return organisation.id
    return organisations[0].id


def open_routed_ticket(session: Session, worker: Worker, channel: str, address: str) -> Ticket:
    """Open a ticket for a worker who wrote or called, in the queue the rules choose."""
    country = country_of_address(channel, address)
    organisation_id = route_ticket(session, worker.language, country=country, channel=channel)
    return tickets.create_ticket(
        session, worker, channel, worker.language, organisation_id, country=country
    )


def route_by_language_once_known(session: Session, ticket: Ticket, language: str) -> None:
    """Give a ticket its language, and its queue by that language while nobody has worked it.

    A hotline caller presses a digit, or a chat worker picks from the menu, after the
    ticket was opened: it belongs with the organisation that serves that language.
    """
    if ticket.language is not None:
        return
    ticket.language = language
    if ticket.status == TicketStatus.NEW.value:
        ticket.organisation_id = route_ticket(
            session, language, country=ticket.country, channel=ticket.channel
        )


# --- editing the rules (admins) -------------------------------------------------------


def add_rule(
    session: Session,
    user: User,
    organisation_id: int,
    *,
    language: str | None = None,
    country: str | None = None,
    channel: str | None = None,
    category_id: int | None = None,
    business_id: int | None = None,
    position: int | None = None,
) -> RoutingRule:
    """Add a rule (at the end unless a position is given)."""
    require(user, "routing.edit")
    if session.get(Organisation, organisation_id) is None:
        raise Invalid(N_("Unknown organisation."))
    if organisation_id != user.organisation_id:
        require(user, "routing.edit_all")
    if position is None:
        position = (session.scalar(select(func.max(RoutingRule.position))) or 0) + 10
    rule = RoutingRule(
        position=position,
        language=language or None,
        country=(country or "").upper() or None,
        channel=channel or None,
        category_id=category_id,
        business_id=business_id,
        organisation_id=organisation_id,
        created_at=utcnow(),
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="routing.rule_added",
        target=f"rule:{rule.id}",
        organisation=organisation_id,
        language=rule.language,
        country=rule.country,
        channel=rule.channel,
        category=category_id,
        business=business_id,
        position=position,
    )
    return rule


def delete_rule(session: Session, user: User, rule_id: int) -> None:
    require(user, "routing.edit")
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise Invalid(N_("Unknown rule."))
    if rule.organisation_id != user.organisation_id:
        require(user, "routing.edit_all")
    session.delete(rule)
    audit.record(
        session, actor=f"user:{user.id}", action="routing.rule_deleted", target=f"rule:{rule_id}"
    )


# --- re-routing (supervisors) ---------------------------------------------------------


def reroute(session: Session, user: User, ticket: Ticket, organisation_id: int) -> None:
    """Move a misrouted new ticket to another organisation's queue.

    Only while it is new: once someone has worked a case, it changes hands only by
    referral, with the worker's consent on record.
    """
    require(user, "tickets.reroute", ticket)
    if ticket.status != TicketStatus.NEW.value:
        raise Conflict(N_("Only a new ticket is re-routed; refer a worked ticket instead."))
    if session.get(Organisation, organisation_id) is None:
        raise Invalid(N_("Unknown organisation."))
    previous = ticket.organisation_id
    if previous == organisation_id:
        return
    ticket.organisation_id = organisation_id
    ticket.assignee_id = None
    ticket.updated_at = utcnow()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="ticket.rerouted",
        target=f"ticket:{ticket.ref}",
        previous=previous,
        organisation=organisation_id,
    )
