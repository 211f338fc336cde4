"""Hotline calls: each step of the IVR lands here, in order or not, and builds one ticket."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.base import InboundMessage, Media
from intake import tickets
from intake.conversation import IntakeKeys, worker_for
from intake.db import utcnow
from intake.models import Call, Direction, Message, Task, Ticket, Worker
from intake.routing import route_by_language_once_known, route_ticket
from safeguards.pseudonyms import pseudonym_for
from safeguards.vault import remember_address

logger = logging.getLogger(__name__)

CALL_BACK = "call_back"


class CallNotStartedYet(LookupError):
    """A step without the caller's number came before the call's first step; retry later."""


def _call_for(
    session: Session, keys: IntakeKeys, inbound: InboundMessage, call_id: str
) -> tuple[Call, Ticket]:
    """Return the call and its ticket, opening both on the first step seen."""
    call = session.scalar(select(Call).where(Call.provider_call_id == call_id))
    if call is not None:
        return call, session.get_one(Ticket, call.ticket_id)
    if not inbound.address:
        # Twilio's recording callback names no caller; the call's first step will.
        raise CallNotStartedYet(call_id)
    worker = worker_for(
        session, pseudonym_for(keys.pepper, inbound.channel, inbound.address), inbound.channel
    )
    remember_address(session, keys.vault, worker.id, inbound.channel, inbound.address)
    ticket = tickets.open_ticket_of(session, worker)
    if ticket is None:
        ticket = tickets.create_ticket(
            session,
            worker,
            inbound.channel,
            worker.language,
            route_ticket(session, worker.language),
        )
    call = Call(
        id=uuid.uuid4(),
        ticket_id=ticket.id,
        provider_call_id=call_id,
        language=worker.language,
        started_at=utcnow(),
    )
    session.add(call)
    tickets.add_message(
        session,
        keys.content,
        ticket,
        direction=Direction.IN,
        text=None,
        kind="call",
        language=worker.language,
    )
    session.flush()
    logger.info("call %s on ticket %s from worker %s", call.id, ticket.ref, worker.pseudonym)
    return call, ticket


def _voicemail(session: Session, keys: IntakeKeys, call: Call, ticket: Ticket) -> Message:
    found = session.scalar(
        select(Message).where(
            Message.ticket_id == ticket.id,
            Message.kind == "voicemail",
            Message.provider_message_id == call.provider_call_id,
        )
    )
    if found is not None:
        return found
    return tickets.add_message(
        session,
        keys.content,
        ticket,
        direction=Direction.IN,
        text=None,
        kind="voicemail",
        language=call.language,
        provider_message_id=call.provider_call_id,
    )


def receive(
    session: Session,
    keys: IntakeKeys,
    inbound: InboundMessage,
    media: list[Media | str],
) -> None:
    """Apply one IVR step to the call's ticket. Steps may arrive out of order."""
    event = inbound.call
    if event is None:
        raise ValueError("a call step carries a CallEvent")
    call, ticket = _call_for(session, keys, inbound, event.call_id)
    worker = ticket.worker_id
    if event.language:
        call.language = event.language
        route_by_language_once_known(session, ticket, event.language)
        session.get_one(Worker, worker).language = event.language
    if event.step == "dial_result" and event.answered:
        call.outcome = "answered"
    elif event.step == "voicemail_left" and call.outcome != "answered":
        call.outcome = "voicemail"
        _voicemail(session, keys, call, ticket)
    elif event.step == "recording":
        call.outcome = "voicemail" if call.outcome != "answered" else call.outcome
        message = _voicemail(session, keys, call, ticket)
        for item in media:
            tickets.attach(session, keys.content, message, item)
        _close_call_back(session, ticket)
    elif event.step == "ended":
        call.ended_at = utcnow()
        call.duration_seconds = event.duration_seconds
        if call.outcome == "in_progress":
            call.outcome = "missed"
            session.add(Task(ticket_id=ticket.id, kind=CALL_BACK, created_at=utcnow()))
    ticket.updated_at = utcnow()


def _close_call_back(session: Session, ticket: Ticket) -> None:
    """A voicemail arrived after all: the call was not missed after all."""
    for task in session.scalars(
        select(Task).where(
            Task.ticket_id == ticket.id, Task.kind == CALL_BACK, Task.done_at.is_(None)
        )
    ):
        task.done_at = utcnow()
