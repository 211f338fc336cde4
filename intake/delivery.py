"""What happened to what we sent: delivery status, failures, unreachable workers."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.base import StatusUpdate
from intake.db import utcnow
from intake.models import DeliveryStatus, Direction, Message, Ticket, User, VaultEntry
from safeguards import audit
from safeguards.access import workable_tickets
from safeguards.vault import vault_entry

logger = logging.getLogger(__name__)

# A status only ever moves up this ladder: a late "sent" never overwrites "delivered".
_RANK = {
    DeliveryStatus.QUEUED.value: 0,
    DeliveryStatus.SENT.value: 1,
    DeliveryStatus.FAILED.value: 2,
    DeliveryStatus.DELIVERED.value: 3,
    DeliveryStatus.READ.value: 4,
}


def mark_unreachable(session: Session, worker_id: uuid.UUID, channel: str, reason: str) -> None:
    """Record that the worker cannot be reached on this channel; sends stop there."""
    entry = vault_entry(session, worker_id, channel)
    if entry is not None:
        set_unreachable(entry, reason)


def set_unreachable(entry: VaultEntry, reason: str) -> None:
    if entry.unreachable_at is None:
        entry.unreachable_at = utcnow()
        entry.unreachable_reason = reason[:64]


def set_reachable(entry: VaultEntry) -> None:
    if entry.unreachable_at is not None:
        entry.unreachable_at = None
        entry.unreachable_reason = None


def unreachable_reason(session: Session, worker_id: uuid.UUID, channel: str) -> str | None:
    entry = vault_entry(session, worker_id, channel)
    if entry is None or entry.unreachable_at is None:
        return None
    return entry.unreachable_reason or "unreachable"


def apply_status(session: Session, channels: tuple[str, ...], update: StatusUpdate) -> bool:
    """Move an outbound message's status forward; return False if no message matched."""
    message = session.scalar(
        select(Message).where(
            Message.provider_message_id == update.provider_message_id,
            Message.channel.in_(channels),
        )
    )
    if message is None:
        return False
    current = _RANK.get(message.delivery_status, 0)
    if _RANK.get(update.status, 0) > current:
        message.delivery_status = update.status
        if update.status == DeliveryStatus.FAILED.value:
            message.failure_reason = (update.error or "the provider reported a failure")[:300]
    if update.unreachable:
        ticket = session.get_one(Ticket, message.ticket_id)
        mark_unreachable(session, ticket.worker_id, message.channel, update.error or "opted out")
    logger.info("message %s is now %s", message.id, message.delivery_status)
    return True


@dataclass(frozen=True)
class DeadLetter:
    """An outbound message that could not be delivered, as an admin sees it."""

    message_id: uuid.UUID
    ticket_ref: str
    channel: str
    purpose: str
    attempts: int
    reason: str | None
    at: dt.datetime


def dead_letters(session: Session, user: User, limit: int = 200) -> list[DeadLetter]:
    """Failed outbound messages on tickets this user may see, newest first."""
    rows = session.execute(
        select(Message, Ticket.ref)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(
            workable_tickets(user),
            Message.direction == Direction.OUT.value,
            Message.delivery_status == DeliveryStatus.FAILED.value,
        )
        .order_by(Message.created_at.desc())
        .limit(limit)
    )
    return [
        DeadLetter(m.id, ref, m.channel, m.purpose, m.attempts, m.failure_reason, m.created_at)
        for m, ref in rows
    ]


def retry_dead_letter(session: Session, user: User, message_id: uuid.UUID) -> Message:
    """Queue a failed message again from scratch; the caller enqueues it after commit."""
    message = session.scalar(
        select(Message)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(
            Message.id == message_id,
            workable_tickets(user),
            Message.delivery_status == DeliveryStatus.FAILED.value,
        )
    )
    if message is None:
        raise LookupError(str(message_id))
    message.delivery_status = DeliveryStatus.QUEUED.value
    message.attempts = 0
    message.failure_reason = None
    message.next_attempt_at = None
    audit.record(
        session, actor=f"user:{user.id}", action="message.retry", target=f"message:{message.id}"
    )
    return message
