"""A worker's right to be forgotten: erase what they sent and how to reach them."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.envelopes import envelope_binding
from intake.models import Attachment, InboundEnvelope, Message, Ticket, VaultEntry, Worker
from safeguards import audit
from safeguards.sealing import EnvelopeKeys

logger = logging.getLogger(__name__)
ERASED_PAYLOAD = b'{"erased": true}'


def erase_worker(session: Session, envelopes: EnvelopeKeys, worker: Worker) -> None:
    """Erase every message text, file and raw delivery of the worker, and their addresses.

    What stays: the tickets' bare facts (dates, status, language), so the network's
    counts stay true, and the pseudonym, which names no one without the pepper.
    The caller commits.
    """
    ticket_ids = select(Ticket.id).where(Ticket.worker_id == worker.id)
    message_ids = select(Message.id).where(Message.ticket_id.in_(ticket_ids))
    session.execute(delete(Attachment).where(Attachment.message_id.in_(message_ids)))
    envelope_ids = list(
        session.scalars(
            select(Message.envelope_id).where(
                Message.ticket_id.in_(ticket_ids), Message.envelope_id.is_not(None)
            )
        )
    )
    for envelope in session.scalars(
        select(InboundEnvelope).where(InboundEnvelope.id.in_(envelope_ids))
    ):
        envelope.payload_sealed = envelopes.current().seal(
            ERASED_PAYLOAD, envelope_binding(envelope.id)
        )
        envelope.outcome = "erased"
    session.execute(
        update(Message)
        .where(Message.ticket_id.in_(ticket_ids))
        .values(text_sealed=None, options=[])
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(VaultEntry).where(VaultEntry.worker_id == worker.id))
    worker.erased_at = utcnow()
    worker.awaiting = None
    # What they told us about themselves for the reach counts goes with the rest.
    worker.gender = worker.nationality = worker.profile_consent_at = None
    audit.record(
        session,
        actor=f"worker:{worker.pseudonym}",
        action="worker.erase",
        target=f"worker:{worker.pseudonym}",
    )
    logger.info("worker %s erased at their request", worker.pseudonym)
