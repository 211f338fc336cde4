"""The bot's side of a conversation: one inbound message in, the right replies out."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bots.base import InboundMessage
from intake import tickets
from intake.db import utcnow
from intake.delivery import mark_reachable, mark_unreachable
from intake.models import Direction, Message, Worker
from intake.routing import route_by_language_once_known, route_ticket
from safeguards.pseudonyms import pseudonym_for
from safeguards.sealing import KeyRing
from safeguards.vault import remember_address
from translations import prompts
from translations.scripts import WORKER_LANGUAGES, detect_language, normalise_text, parse_number

logger = logging.getLogger(__name__)

AWAITING_LANGUAGE = "language"


@dataclass(frozen=True)
class Received:
    """The worker's message as stored (None for a bare event), and the replies to send."""

    message: Message | None
    replies: list[Message]


@dataclass(frozen=True)
class IntakeKeys:
    """What intake needs to take a message in: content and vault rings and the pepper."""

    content: KeyRing
    vault: KeyRing
    pepper: bytes


def worker_for(session: Session, pseudonym: str, channel: str) -> Worker:
    """Return the worker with this pseudonym, creating it once, locked for this transaction."""
    query = select(Worker).where(Worker.pseudonym == pseudonym).with_for_update()
    worker = session.scalar(query)
    if worker is not None:
        return worker
    try:
        with session.begin_nested():
            session.add(Worker(id=uuid.uuid4(), pseudonym=pseudonym, channel=channel))
    except IntegrityError:
        pass  # another job created the same worker a moment ago
    return session.scalars(query).one()


def _chosen_language(worker: Worker, text: str | None) -> str | None:
    if worker.awaiting != AWAITING_LANGUAGE:
        return None
    number = parse_number(text)
    if number is None or not 1 <= number <= len(prompts.MENU_LANGUAGES):
        return None
    return prompts.MENU_LANGUAGES[number - 1]


def receive(
    session: Session, keys: IntakeKeys, inbound: InboundMessage, envelope_id: uuid.UUID
) -> Received:
    """Take one inbound message into its worker's ticket; return it and the replies to send.

    The caller commits; the replies are queued messages to hand to the sender then.
    A worker who opts out gets no reply at all, and nothing more on that channel.
    """
    worker = worker_for(
        session, pseudonym_for(keys.pepper, inbound.channel, inbound.address), inbound.channel
    )
    remember_address(session, keys.vault, worker.id, inbound.channel, inbound.address)
    worker.last_inbound_at = utcnow()
    if inbound.event == "opt_out":
        mark_unreachable(session, worker.id, inbound.channel, "opted out")
    elif inbound.event == "opt_in" or inbound.channel != "sms":
        # Twilio keeps an SMS sender blocked after STOP until START, UNSTOP or YES;
        # elsewhere a worker who writes can be written to.
        mark_reachable(session, worker.id, inbound.channel)
    if inbound.kind == "event":
        return Received(None, [])  # blocked or unblocked the bot: nothing was said

    text = normalise_text(inbound.text) if inbound.text else None
    detected = detect_language(text)
    chosen = _chosen_language(worker, text)
    language_was_known = worker.language is not None
    if chosen:
        worker.language = chosen
    elif worker.language is None:
        hint = (inbound.language_hint or "")[:2].lower()
        worker.language = detected or (hint if hint in WORKER_LANGUAGES else None)
    if worker.language is not None:
        worker.awaiting = None

    ticket = tickets.open_ticket_of(session, worker)
    is_new = ticket is None
    if ticket is None:
        ticket = tickets.create_ticket(
            session,
            worker,
            inbound.channel,
            worker.language,
            route_ticket(session, worker.language),
        )
        logger.info("ticket %s opened for worker %s", ticket.ref, worker.pseudonym)
    elif worker.language:
        route_by_language_once_known(session, ticket, worker.language)
    message = tickets.add_message(
        session,
        keys.content,
        ticket,
        direction=Direction.IN,
        text=text,
        kind=inbound.kind,
        language=detected or worker.language,
        envelope_id=envelope_id,
        provider_message_id=inbound.provider_message_id,
    )
    session.flush()  # the unique envelope id makes a second run of this job fail here
    if inbound.event == "opt_out":
        return Received(message, [])

    language = worker.language
    if language is None:
        worker.awaiting = AWAITING_LANGUAGE
        prompt, options = prompts.language_menu()
        reply = (prompt, options)
    elif is_new or not language_was_known:
        # The first answer the worker can read: the reference and the privacy note.
        reply = (prompts.acknowledgement(language, ticket.ref), ())
    else:
        reply = (prompts.added_to_case(language, ticket.ref), ())
    outbound = tickets.add_message(
        session,
        keys.content,
        ticket,
        direction=Direction.OUT,
        text=reply[0],
        language=language,
        options=reply[1],
    )
    return Received(message, [outbound])
