"""Tickets and their messages: create, append, seal, list and open."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass, field

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bots.base import Media
from intake.db import utcnow
from intake.models import (
    Attachment,
    Call,
    DeliveryStatus,
    Direction,
    Message,
    Task,
    Ticket,
    TicketStatus,
    User,
    Worker,
)
from safeguards import audit
from safeguards.access import visible_tickets
from safeguards.sealing import KeyRing, binding

# No 0/O, 1/I/L: a worker reads the reference aloud or copies it by hand.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
OPEN_STATUSES = tuple(s.value for s in TicketStatus if s is not TicketStatus.CLOSED)


def new_ref() -> str:
    chars = "".join(secrets.choice(REF_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def message_binding(message_id: uuid.UUID) -> bytes:
    return binding("messages", "text_sealed", message_id)


def open_ticket_of(session: Session, worker: Worker) -> Ticket | None:
    """Return the worker's newest ticket that is not closed."""
    return session.scalar(
        select(Ticket)
        .where(Ticket.worker_id == worker.id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.created_at.desc())
        .limit(1)
    )


def create_ticket(
    session: Session,
    worker: Worker,
    channel: str,
    language: str | None,
    organisation_id: int,
    country: str | None = None,
) -> Ticket:
    """Open a new ticket with a fresh reference (retrying the rare collision)."""
    for _ in range(5):
        ticket = Ticket(
            ref=new_ref(),
            status=TicketStatus.NEW.value,
            language=language,
            channel=channel,
            organisation_id=organisation_id,
            worker_id=worker.id,
            country=country,
        )
        try:
            with session.begin_nested():
                session.add(ticket)
        except IntegrityError:
            continue
        return ticket
    raise RuntimeError("could not find a free ticket reference")


def add_message(
    session: Session,
    ring: KeyRing,
    ticket: Ticket,
    *,
    direction: Direction,
    text: str | None,
    kind: str = "text",
    language: str | None = None,
    envelope_id: uuid.UUID | None = None,
    provider_message_id: str | None = None,
    options: tuple[str, ...] = (),
    author_user_id: int | None = None,
    purpose: str = "reply",
) -> Message:
    """Append a message to a ticket, its text sealed to this row."""
    message_id = uuid.uuid4()
    message = Message(
        id=message_id,
        ticket_id=ticket.id,
        direction=direction.value,
        kind=kind,
        text_sealed=None if text is None else ring.seal_text(text, message_binding(message_id)),
        language=language,
        channel=ticket.channel,
        envelope_id=envelope_id,
        provider_message_id=provider_message_id,
        options=list(options),
        purpose=purpose,
        delivery_status=(
            DeliveryStatus.RECEIVED.value
            if direction is Direction.IN
            else DeliveryStatus.QUEUED.value
        ),
        author_user_id=author_user_id,
        created_at=utcnow(),
    )
    session.add(message)
    ticket.updated_at = utcnow()
    return message


def attachment_binding(attachment_id: uuid.UUID) -> bytes:
    return binding("attachments", "data_sealed", attachment_id)


def attach(session: Session, ring: KeyRing, message: Message, media: Media | str) -> None:
    """Keep a downloaded file with its message, sealed; or note why it could not be kept."""
    if isinstance(media, str):
        note = f"[attachment not kept: {media}]"
        old = message_text(ring, message)
        new_text = f"{old}\n{note}" if old else note
        message.text_sealed = ring.seal_text(new_text, message_binding(message.id))
        return
    attachment_id = uuid.uuid4()
    session.add(
        Attachment(
            id=attachment_id,
            message=message,
            kind=media.kind,
            content_type=media.content_type[:100],
            size=len(media.content),
            data_sealed=ring.seal(media.content, attachment_binding(attachment_id)),
            created_at=utcnow(),
        )
    )


def open_attachment(
    session: Session, ring: KeyRing, user: User, ticket: Ticket, attachment_id: uuid.UUID
) -> tuple[Attachment, bytes]:
    """Open one file of a ticket this user may see, writing an audit entry first."""
    attachment = session.scalar(
        select(Attachment)
        .join(Message, Message.id == Attachment.message_id)
        .where(Attachment.id == attachment_id, Message.ticket_id == ticket.id)
    )
    if attachment is None:
        raise TicketNotFound(str(attachment_id))
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="attachment.open",
        target=f"ticket:{ticket.ref}",
        attachment=str(attachment.id),
    )
    return attachment, ring.open(attachment.data_sealed, attachment_binding(attachment.id))


def message_text(ring: KeyRing, message: Message) -> str | None:
    if message.text_sealed is None:
        return None
    return ring.open_text(message.text_sealed, message_binding(message.id))


@dataclass(frozen=True)
class CallSummary:
    outcome: str
    language: str | None
    duration_seconds: int | None
    started_at: dt.datetime


def calls_and_tasks(session: Session, ticket: Ticket) -> tuple[list[CallSummary], list[str]]:
    """The ticket's hotline calls, and the kinds of its open tasks (e.g. call_back)."""
    calls = [
        CallSummary(c.outcome, c.language, c.duration_seconds, c.started_at)
        for c in session.scalars(
            select(Call).where(Call.ticket_id == ticket.id).order_by(Call.started_at)
        )
    ]
    tasks = list(
        session.scalars(
            select(Task.kind).where(Task.ticket_id == ticket.id, Task.done_at.is_(None))
        )
    )
    return calls, tasks


# --- reading, always through the access policy -------------------------------


class TicketNotFound(LookupError):
    """No such ticket, or not one this user may see (the two are never told apart)."""


@dataclass(frozen=True)
class TicketFilters:
    status: str | None = None
    language: str | None = None
    channel: str | None = None
    urgent: bool | None = None


@dataclass(frozen=True)
class TicketSummary:
    ticket: Ticket
    message_count: int


@dataclass(frozen=True)
class AttachmentInfo:
    id: uuid.UUID
    kind: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ThreadMessage:
    direction: str
    kind: str
    text: str | None = field(repr=False)
    language: str | None
    channel: str
    at: dt.datetime
    delivery_status: str
    options: tuple[str, ...] = ()
    failure_reason: str | None = None
    attachments: tuple[AttachmentInfo, ...] = ()


def _message_count() -> ScalarSelect[int]:
    """How many messages a ticket has, as a column of a ticket query."""
    return (
        select(func.count(Message.id))
        .where(Message.ticket_id == Ticket.id)
        .correlate(Ticket)
        .scalar_subquery()
    )


def list_tickets(
    session: Session,
    user: User,
    filters: TicketFilters = TicketFilters(),  # noqa: B008 - frozen, so safe as a default
    limit: int = 50,
    before: tuple[dt.datetime, int] | None = None,
) -> list[TicketSummary]:
    """Return the tickets this user may see, newest first (keyset pagination by `before`)."""
    query = select(Ticket, _message_count()).where(visible_tickets(user))
    if filters.status:
        query = query.where(Ticket.status == filters.status)
    if filters.language:
        query = query.where(Ticket.language == filters.language)
    if filters.channel:
        query = query.where(Ticket.channel == filters.channel)
    if filters.urgent is not None:
        query = query.where(Ticket.urgent.is_(filters.urgent))
    if before is not None:
        at, ticket_id = before
        query = query.where(
            (Ticket.created_at < at) | ((Ticket.created_at == at) & (Ticket.id < ticket_id))
        )
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)
    return [TicketSummary(ticket, count) for ticket, count in session.execute(query)]


def get_ticket(session: Session, user: User, ref: str) -> TicketSummary:
    """Return one ticket this user may see, or raise TicketNotFound."""
    row = session.execute(
        select(Ticket, _message_count()).where(Ticket.ref == ref, visible_tickets(user))
    ).first()
    if row is None:
        raise TicketNotFound(ref)
    return TicketSummary(row[0], row[1])


def read_thread(
    session: Session, ring: KeyRing, user: User, ticket: Ticket, via: str
) -> list[ThreadMessage]:
    """Open every message of a ticket this user may see, writing an audit entry first."""
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="ticket.read",
        target=f"ticket:{ticket.ref}",
        via=via,
    )
    messages = list(
        session.scalars(
            select(Message).where(Message.ticket_id == ticket.id).order_by(Message.created_at)
        )
    )
    files: dict[uuid.UUID, list[AttachmentInfo]] = {}
    for row in session.execute(
        select(
            Attachment.message_id,
            Attachment.id,
            Attachment.kind,
            Attachment.content_type,
            Attachment.size,
        )
        .where(Attachment.message_id.in_([m.id for m in messages]))
        .order_by(Attachment.created_at)
    ):
        files.setdefault(row.message_id, []).append(
            AttachmentInfo(row.id, row.kind, row.content_type, row.size)
        )
    return [
        ThreadMessage(
            direction=m.direction,
            kind=m.kind,
            text=message_text(ring, m),
            language=m.language,
            channel=m.channel,
            at=m.created_at,
            delivery_status=m.delivery_status,
            options=tuple(m.options or ()),
            failure_reason=m.failure_reason,
            attachments=tuple(files.get(m.id, ())),
        )
        for m in messages
    ]
