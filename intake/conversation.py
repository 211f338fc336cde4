"""The bot's side of a conversation: one inbound message in, the right replies out."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bots.base import InboundMessage
from intake import tickets, validation
from intake.db import utcnow
from intake.delivery import set_reachable, set_unreachable
from intake.models import Direction, Message, Task, Ticket, Worker
from intake.routing import open_routed_ticket, route_by_language_once_known
from safeguards.pseudonyms import pseudonym_for
from safeguards.sealing import KeyRing
from safeguards.vault import remember_address
from translations import prompts
from translations.scripts import WORKER_LANGUAGES, detect_language, normalise_text, parse_number
from translations.words import command_of, yes_or_no

logger = logging.getLogger(__name__)

# The open task that tells staff a worker's messages came faster than the bot answers.
FLOODED = "flooded"
AWAITING_LANGUAGE = "language"
AWAITING_ERASE = "erase"
# The purpose of the bot's last message before erasure: the send job erases after it.
ERASE = "erase"


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
    session: Session,
    keys: IntakeKeys,
    inbound: InboundMessage,
    envelope_id: uuid.UUID,
    flood_per_minute: int = 20,
) -> Received:
    """Take one inbound message into its worker's ticket; return it and the replies to send.

    The caller commits; the replies are queued messages to hand to the sender then.
    A worker who opts out gets no reply at all, and nothing more on that channel. A
    worker who sends more than `flood_per_minute` messages in a minute has every one
    kept, gets no reply until they slow down, and the ticket shows staff why.
    """
    worker = worker_for(
        session, pseudonym_for(keys.pepper, inbound.channel, inbound.address), inbound.channel
    )
    entry = remember_address(session, keys.vault, worker.id, inbound.channel, inbound.address)
    worker.last_inbound_at = utcnow()
    if inbound.event == "opt_out":
        set_unreachable(entry, "opted out")
    elif inbound.event == "opt_in" or inbound.channel != "sms":
        # Twilio keeps an SMS sender blocked after STOP until START, UNSTOP or YES;
        # elsewhere a worker who writes can be written to.
        set_reachable(entry)
    if inbound.kind == "event":
        return Received(None, [])  # blocked or unblocked the bot: nothing was said

    text = normalise_text(inbound.text) if inbound.text else None
    detected = detect_language(text)
    awaiting = worker.awaiting
    chosen = _chosen_language(worker, text)
    language_was_known = worker.language is not None
    if chosen:
        worker.language = chosen
    elif worker.language is None:
        hint = (inbound.language_hint or "")[:2].lower()
        worker.language = detected or (hint if hint in WORKER_LANGUAGES else None)
    if awaiting == AWAITING_LANGUAGE and worker.language is not None:
        worker.awaiting = None

    ticket = tickets.open_ticket_of(session, worker)
    is_new = ticket is None
    if ticket is None:
        ticket = open_routed_ticket(session, worker, inbound.channel, inbound.address)
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
    if not is_new and _flooding(session, ticket, flood_per_minute):
        return Received(message, [])

    text_out, options, purpose = _reply(
        session, worker, ticket, text, awaiting, chosen, is_new, language_was_known
    )
    outbound = tickets.add_message(
        session,
        keys.content,
        ticket,
        direction=Direction.OUT,
        text=text_out,
        language=worker.language,
        options=options,
        purpose=purpose,
    )
    return Received(message, [outbound])


def _flooding(session: Session, ticket: Ticket, most: int) -> bool:
    """More than `most` messages from the worker in the last minute (flagged to staff once)."""
    recent = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.ticket_id == ticket.id,
            Message.direction == Direction.IN.value,
            Message.created_at >= utcnow() - dt.timedelta(minutes=1),
        )
    )
    if (recent or 0) <= most:
        return False
    flagged = session.scalar(
        select(Task.id).where(
            Task.ticket_id == ticket.id, Task.kind == FLOODED, Task.done_at.is_(None)
        )
    )
    if flagged is None:
        session.add(Task(ticket_id=ticket.id, kind=FLOODED, created_at=utcnow()))
        logger.warning("ticket %s: over %d messages a minute; replies paused", ticket.ref, most)
    return True


def _reply(
    session: Session,
    worker: Worker,
    ticket: Ticket,
    text: str | None,
    awaiting: str | None,
    chosen: str | None,
    is_new: bool,
    language_was_known: bool,
) -> tuple[str, tuple[str, ...], str]:
    """What the bot answers: text, options, and purpose ("erase" erases once it is sent)."""
    language = worker.language
    command = command_of(text)
    asked = validation.pending(session, ticket) if language and not is_new else None
    if asked is not None and awaiting != AWAITING_ERASE and command in (None, "person"):
        answered = validation.take_reply(session, worker, ticket, asked, text)
        if answered is not None:
            return answered.text, answered.options, answered.purpose
    if awaiting == AWAITING_ERASE:
        worker.awaiting = None
        answer = yes_or_no(text)
        if answer is True:
            return prompts.erased(language), (), ERASE
        if answer is False:
            return prompts.nothing_erased(language), (), "reply"
    if language is None or command == "language":
        worker.awaiting = AWAITING_LANGUAGE
        prompt, options = prompts.language_menu()
        return prompt, options, "reply"
    if command == "help":
        return prompts.help_text(language), (), "reply"
    if command == "person":
        ticket.person_requested_at = utcnow()
        return prompts.person_requested(language), (), "reply"
    if command == "erase":
        worker.awaiting = AWAITING_ERASE
        return prompts.erase_question(language), prompts.yes_no_options(language), "reply"
    if chosen and language_was_known:
        ticket.language = chosen  # the worker switched language midway
        return prompts.language_changed(language), (), "reply"
    if is_new or not language_was_known:
        # The first answer the worker can read: the reference and the privacy note.
        return prompts.acknowledgement(language, ticket.ref), (), "reply"
    return prompts.added_to_case(language, ticket.ref), (), "reply"
