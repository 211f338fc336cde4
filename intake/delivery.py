"""What happened to what we sent: delivery status, failures, unreachable workers."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.base import StatusUpdate
from intake.db import utcnow
from intake.models import DeliveryStatus, Message, Ticket, VaultEntry

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
    entry = session.scalar(
        select(VaultEntry).where(VaultEntry.worker_id == worker_id, VaultEntry.channel == channel)
    )
    if entry is not None and entry.unreachable_at is None:
        entry.unreachable_at = utcnow()
        entry.unreachable_reason = reason[:64]


def mark_reachable(session: Session, worker_id: uuid.UUID, channel: str) -> None:
    entry = session.scalar(
        select(VaultEntry).where(VaultEntry.worker_id == worker_id, VaultEntry.channel == channel)
    )
    if entry is not None:
        entry.unreachable_at = None
        entry.unreachable_reason = None


def unreachable_reason(session: Session, worker_id: uuid.UUID, channel: str) -> str | None:
    entry = session.scalar(
        select(VaultEntry).where(VaultEntry.worker_id == worker_id, VaultEntry.channel == channel)
    )
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
