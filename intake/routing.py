"""Which organisation's queue a new ticket goes to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.models import Organisation, Ticket, TicketStatus


class NoOrganisation(RuntimeError):
    """There is no organisation to route a ticket to; create one with `voicedesk org create`."""


def route_ticket(session: Session, language: str | None) -> int:
    """Return the organisation for a new ticket: the first serving its language, else the first."""
    organisations = list(session.scalars(select(Organisation).order_by(Organisation.id)))
    if not organisations:
        raise NoOrganisation("no organisation exists to receive tickets")
    for organisation in organisations:
        if language and language in (organisation.languages or []):
            return organisation.id
    return organisations[0].id


def route_by_language_once_known(session: Session, ticket: Ticket, language: str) -> None:
    """Give a ticket its language, and its queue by that language while nobody has worked it.

    A hotline caller presses a digit, or a chat worker picks from the menu, after the
    ticket was opened: it belongs with the organisation that serves that language.
    """
    if ticket.language is not None:
        return
    ticket.language = language
    if ticket.status == TicketStatus.NEW.value:
        ticket.organisation_id = route_ticket(session, language)
