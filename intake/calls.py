"""Hotline calls: each step of the IVR lands here, in order or not, and builds one ticket."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, dataclass, field

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.base import InboundMessage, Media
from intake import tickets, triage
from intake.conversation import IntakeKeys, worker_for
from intake.db import utcnow
from intake.models import Call, Direction, Message, Task, Ticket, User, Worker
from intake.routing import country_of_address, open_routed_ticket, route_by_language_once_known
from safeguards import audit
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
        ticket = open_routed_ticket(session, worker, inbound.channel, inbound.address)
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


# --- calls logged by hand in the console --------------------------------------------
#
# Staff on the phone type the caller's number into a form. The console holds neither
# the pepper nor the vault keys, so it seals the whole form into an inbound envelope,
# exactly as a webhook does, and a worker process pseudonymises, vaults and files it.

CALL_LOG_CHANNEL = "call_log"
MAX_SUMMARY = 10_000


class BadNumber(ValueError):
    """The typed phone number is not a number any country dials."""


def normalise_number(typed: str, default_region: str) -> str:
    """The caller's number in E.164, as Twilio reports it for an IVR call (+66812345678)."""
    try:
        number = phonenumbers.parse(typed, default_region)
    except phonenumbers.NumberParseException as exc:
        raise BadNumber(str(exc)) from exc
    if not phonenumbers.is_possible_number(number):
        raise BadNumber("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class CallLog:
    """What the call-logging form holds; travels only inside a sealed envelope."""

    user_id: int
    number: str | None = field(repr=False)  # E.164, or None for an anonymous caller
    language: str | None
    duration_seconds: int | None
    summary: str = field(repr=False)
    category_ids: tuple[int, ...] = ()
    urgent: bool = False

    def to_payload(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_payload(cls, payload: bytes) -> CallLog:
        fields = json.loads(payload)
        fields["category_ids"] = tuple(fields.get("category_ids") or ())
        return cls(**fields)


def log_call(session: Session, keys: IntakeKeys, envelope_id: uuid.UUID, log: CallLog) -> Ticket:
    """File a call logged by staff: the caller's open ticket in their queue, or a new one.

    A caller's open ticket in another organisation is left alone: saying it exists
    would tell this organisation that the caller went elsewhere.
    """
    user = session.get_one(User, log.user_id)
    country = None
    if log.number:
        worker = worker_for(session, pseudonym_for(keys.pepper, "voice", log.number), "voice")
        remember_address(session, keys.vault, worker.id, "voice", log.number)
        country = country_of_address("voice", log.number)
    else:
        # Anonymous: a worker of its own, whom nobody can write to or recognise again.
        worker = worker_for(session, f"A{uuid.uuid4().hex[:20].upper()}", "voice")
    if log.language and worker.language is None:
        worker.language = log.language
    ticket = tickets.open_ticket_of(session, worker)
    if ticket is None or ticket.organisation_id != user.organisation_id:
        ticket = tickets.create_ticket(
            session, worker, "voice", log.language, user.organisation_id, country=country
        )
    elif ticket.language is None and log.language:
        ticket.language = log.language
    session.add(
        Call(
            id=uuid.uuid4(),
            ticket_id=ticket.id,
            provider_call_id=f"log:{envelope_id}",
            language=log.language,
            outcome="answered",
            duration_seconds=log.duration_seconds,
            started_at=utcnow(),
            ended_at=utcnow(),
        )
    )
    tickets.add_message(
        session,
        keys.content,
        ticket,
        direction=Direction.IN,
        text=log.summary,
        kind="call_log",
        language=log.language,
        envelope_id=envelope_id,
        author_user_id=user.id,
    )
    session.flush()
    existing = {c.id for c in triage.categories_of(session, [ticket.id])[ticket.id]}
    if log.category_ids and not set(log.category_ids) <= existing:
        triage.set_categories(session, user, ticket, existing | set(log.category_ids))
    if log.urgent and not ticket.urgent:
        triage.set_urgent(session, user, ticket, True)
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="call.logged",
        target=f"ticket:{ticket.ref}",
        anonymous=log.number is None,
    )
    logger.info("call logged on ticket %s by user %s", ticket.ref, user.id)
    return ticket


def logged_call_ticket(session: Session, user: User, envelope_id: uuid.UUID) -> str | None:
    """The reference of the ticket a logged call went to, once filed (None until then)."""
    return session.scalar(
        select(Ticket.ref)
        .join(Message, Message.ticket_id == Ticket.id)
        .where(Message.envelope_id == envelope_id, Message.author_user_id == user.id)
    )
