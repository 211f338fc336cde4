"""The jobs: each takes one id, opens its own session, and is idempotent."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bots.base import Outgoing, Unreachable
from intake import conversation, tickets
from intake.db import utcnow
from intake.envelopes import open_envelope
from intake.models import DeliveryStatus, InboundEnvelope, Message, Ticket, Worker
from safeguards.redaction import sensitive
from safeguards.vault import address_for
from workers import runtime

logger = logging.getLogger(__name__)


def process_envelope(envelope_id: str) -> str:
    """Turn one stored envelope into a message in its worker's ticket.

    Idempotent: a processed envelope is skipped, and the unique envelope id on
    messages stops a concurrent second run from storing the message twice.
    """
    rt = runtime.current()
    replies: list[Message] = []
    with rt.session() as session:
        envelope = session.get(InboundEnvelope, uuid.UUID(envelope_id), with_for_update=True)
        if envelope is None or envelope.processed_at is not None:
            return "done before"
        channel = rt.channels.get(envelope.channel)
        if channel is None:
            logger.warning(
                "envelope %s: channel %s is off; left for later", envelope.id, envelope.channel
            )
            return "channel off"
        payload = open_envelope(envelope, rt.envelope_keys)
        inbound = channel.parse(payload)
        try:
            if inbound is None:
                envelope.outcome = "no message"
            else:
                sensitive.add([inbound.address, inbound.text or ""])
                replies = conversation.receive(session, rt.keys, inbound, envelope.id)
                envelope.outcome = "stored"
            envelope.processed_at = utcnow()
            session.commit()
        except IntegrityError:
            session.rollback()
            logger.info("envelope %s was stored by another run", envelope_id)
            return "done before"
        finally:
            sensitive.clear()
    for reply in replies:
        rt.dispatcher.enqueue("send_outbound", str(reply.id))
    logger.info("envelope %s processed: %s", envelope_id, envelope.outcome)
    return envelope.outcome or ""


def send_outbound(message_id: str) -> str:
    """Send one queued outbound message to its worker.

    Idempotent: only a message still queued is sent; its row stays locked while
    sending so two runs cannot both send it.
    """
    rt = runtime.current()
    with rt.session() as session:
        message = session.get(Message, uuid.UUID(message_id), with_for_update=True)
        if message is None or message.delivery_status != DeliveryStatus.QUEUED.value:
            return "done before"
        ticket = session.get_one(Ticket, message.ticket_id)
        worker = session.get_one(Worker, ticket.worker_id)
        channel = rt.channels.get(message.channel)
        address = address_for(session, rt.keys.vault, worker.id, message.channel)
        if channel is None or address is None:
            logger.warning("message %s: no channel or address to send it to", message_id)
            message.delivery_status = DeliveryStatus.FAILED.value
            session.commit()
            return "undeliverable"
        text = tickets.message_text(rt.keys.content, message) or ""
        sensitive.add([address, text])
        try:
            provider_id = channel.send(address, Outgoing(text, tuple(message.options)))
        except Unreachable:
            logger.warning("worker %s unreachable on %s", worker.pseudonym, message.channel)
            message.delivery_status = DeliveryStatus.FAILED.value
            session.commit()
            return "unreachable"
        finally:
            sensitive.clear()
        message.provider_message_id = provider_id
        message.delivery_status = DeliveryStatus.SENT.value
        message.sent_at = utcnow()
        session.commit()
    logger.info("message %s sent to worker %s", message_id, worker.pseudonym)
    return "sent"


def sweep(older_than_seconds: int | None = None) -> int:
    """Queue again what was stored but not handled in time: envelopes and queued replies."""
    rt = runtime.current()
    wait = rt.settings.sweep_after_seconds if older_than_seconds is None else older_than_seconds
    cutoff = utcnow() - dt.timedelta(seconds=wait)
    with rt.session() as session:
        envelopes = list(
            session.scalars(
                select(InboundEnvelope.id)
                .where(
                    InboundEnvelope.processed_at.is_(None), InboundEnvelope.received_at <= cutoff
                )
                .order_by(InboundEnvelope.received_at)
                .limit(1000)
            )
        )
        replies = list(
            session.scalars(
                select(Message.id)
                .where(
                    Message.delivery_status == DeliveryStatus.QUEUED.value,
                    Message.created_at <= cutoff,
                )
                .order_by(Message.created_at)
                .limit(1000)
            )
        )
    queued = sum(rt.dispatcher.enqueue("process_envelope", str(i)) for i in envelopes)
    queued += sum(rt.dispatcher.enqueue("send_outbound", str(i)) for i in replies)
    if queued:
        logger.info("sweeper queued %d envelopes and %d replies", len(envelopes), len(replies))
    return queued
