"""A caseworker's reply to the worker, through the ticket's own channel."""

from __future__ import annotations

from sqlalchemy.orm import Session

from intake import tickets
from intake.errors import Conflict, Invalid
from intake.models import Direction, Message, Ticket, TicketStatus, User, Worker
from safeguards import audit
from safeguards.access import require
from safeguards.sealing import KeyRing
from translations.i18n import N_

MAX_REPLY = 4000  # Telegram's limit is 4096; an SMS splits long before that


def send_reply(session: Session, ring: KeyRing, user: User, ticket: Ticket, text: str) -> Message:
    """Queue a reply in the worker's chat; the caller enqueues `send_outbound` after commit."""
    require(user, "tickets.reply", ticket)
    text = text.strip()
    if not text or len(text) > MAX_REPLY:
        raise Invalid(N_("A reply is 1 to 4,000 characters."))
    if ticket.channel == "voice":
        raise Conflict(N_("A hotline caller has no chat; call them back or log the call."))
    if ticket.status == TicketStatus.CLOSED:
        raise Conflict(N_("The ticket is closed."))
    worker = session.get_one(Worker, ticket.worker_id)
    if worker.erased_at is not None:
        raise Conflict(N_("The worker asked us to erase their data; they cannot be written to."))
    message = tickets.add_message(
        session,
        ring,
        ticket,
        direction=Direction.OUT,
        text=text,
        language=ticket.language,
        author_user_id=user.id,
    )
    ticket.person_requested_at = None  # a person has answered
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="ticket.reply",
        target=f"ticket:{ticket.ref}",
        message=str(message.id),
    )
    return message
