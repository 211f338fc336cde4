"""Forgetting: a worker's right to be erased, and the retention policy for closed tickets.

Both forget the same things through `forget_content`, so neither can miss a column
the other remembers: every free text on a ticket (the worker's messages and files,
the raw deliveries, staff's notes, remediation actions, validation summaries, close
and referral reasons, incident reports). What stays is what the network counts by:
dates, status, language, categories, businesses, scores and repayment amounts.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Select, and_, delete, exists, select, update
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.envelopes import envelope_binding
from intake.models import (
    Attachment,
    InboundEnvelope,
    IncidentReport,
    Message,
    Note,
    Referral,
    RemediationAction,
    Ticket,
    TicketStatus,
    Validation,
    VaultEntry,
    Worker,
)
from safeguards import audit
from safeguards.sealing import EnvelopeKeys, KeyRing, binding

logger = logging.getLogger(__name__)
ERASED_PAYLOAD = b'{"erased": true}'
# Closed tickets forgotten in one transaction: a pass stays short however many are due.
PURGE_BATCH = 200


def forget_content(
    session: Session, ring: KeyRing, envelopes: EnvelopeKeys, ticket_ids: Select[Any]
) -> None:
    """Erase every free text and file of these tickets, keeping their countable facts.

    Nullable sealed columns become NULL; a sealed column that must hold a value holds
    the empty text sealed to its row, so the row (a due date, a sent report) still
    counts. The caller commits.
    """
    message_ids = select(Message.id).where(Message.ticket_id.in_(ticket_ids))
    session.execute(delete(Attachment).where(Attachment.message_id.in_(message_ids)))
    for envelope in session.scalars(
        select(InboundEnvelope).where(
            InboundEnvelope.id.in_(
                select(Message.envelope_id).where(
                    Message.ticket_id.in_(ticket_ids), Message.envelope_id.is_not(None)
                )
            ),
            InboundEnvelope.outcome.is_distinct_from("erased"),
        )
    ):
        envelope.payload_sealed = envelopes.current().seal(
            ERASED_PAYLOAD, envelope_binding(envelope.id)
        )
        envelope.outcome = "erased"
    for model, column in (
        (Message, Message.text_sealed),
        (Validation, Validation.summary_sealed),
        (Referral, Referral.reason_sealed),
    ):
        session.execute(
            update(model)
            .where(model.ticket_id.in_(ticket_ids))
            .values({column: None})
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(Message)
        .where(Message.ticket_id.in_(ticket_ids))
        .values(options=[])
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Ticket)
        .where(Ticket.id.in_(ticket_ids))
        .values(close_reason_sealed=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Note).where(Note.ticket_id.in_(ticket_ids)))
    for action in session.scalars(
        select(RemediationAction).where(RemediationAction.ticket_id.in_(ticket_ids))
    ):
        action.text_sealed = ring.seal_text(
            "", binding("remediation_actions", "text_sealed", action.id)
        )
        action.owner_sealed = ring.seal_text(
            "", binding("remediation_actions", "owner_sealed", action.id)
        )
    for report in session.scalars(
        select(IncidentReport).where(IncidentReport.ticket_id.in_(ticket_ids))
    ):
        report.text_sealed = ring.seal_text(
            "", binding("incident_reports", "text_sealed", report.id)
        )


def erase_worker(session: Session, ring: KeyRing, envelopes: EnvelopeKeys, worker: Worker) -> None:
    """Erase every message text, file and raw delivery of the worker, and their addresses.

    What stays: the tickets' bare facts (dates, status, language), so the network's
    counts stay true, and the pseudonym, which names no one without the pepper.
    The caller commits.
    """
    forget_content(session, ring, envelopes, select(Ticket.id).where(Ticket.worker_id == worker.id))
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


@dataclass(frozen=True)
class Purged:
    tickets: int
    addresses: int


def purge_expired(
    session: Session,
    ring: KeyRing,
    envelopes: EnvelopeKeys,
    retention_days: int,
    now: dt.datetime | None = None,
) -> Purged:
    """Forget the content of up to PURGE_BATCH tickets closed more than retention_days ago.

    A worker's addresses go too once none of their tickets is open: nobody can be
    written to about a case that no longer holds what was said. The caller commits;
    call again until it purges nothing.
    """
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    due = list(
        session.execute(
            select(Ticket.id, Ticket.worker_id)
            .where(
                Ticket.status == TicketStatus.CLOSED.value,
                Ticket.closed_at < cutoff,
                Ticket.content_purged_at.is_(None),
            )
            .order_by(Ticket.closed_at)
            .limit(PURGE_BATCH)
        )
    )
    if not due:
        return Purged(0, 0)
    ticket_ids = [ticket_id for ticket_id, _ in due]
    forget_content(session, ring, envelopes, select(Ticket.id).where(Ticket.id.in_(ticket_ids)))
    session.execute(
        update(Ticket)
        .where(Ticket.id.in_(ticket_ids))
        .values(content_purged_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    workers = {worker_id for _, worker_id in due}
    still_open = exists().where(
        and_(Ticket.worker_id == VaultEntry.worker_id, Ticket.status != TicketStatus.CLOSED.value)
    )
    gone = session.execute(
        delete(VaultEntry)
        .where(VaultEntry.worker_id.in_(workers), ~still_open)
        .execution_options(synchronize_session=False)
    )
    addresses = cast(CursorResult[Any], gone).rowcount
    audit.record(
        session,
        actor="system:retention",
        action="retention.purge",
        target=f"tickets:{len(ticket_ids)}",
        retention_days=retention_days,
        addresses=addresses,
    )
    logger.info(
        "retention: forgot %d closed tickets' content and %d addresses", len(ticket_ids), addresses
    )
    return Purged(len(ticket_ids), addresses)
