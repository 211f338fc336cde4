"""Which organisation's queue a new ticket goes to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.models import Organisation


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
