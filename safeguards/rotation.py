"""Re-seal every ciphertext under the newest key of its ring (`voicedesk keys rotate`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from intake.models import (
    Attachment,
    InboundEnvelope,
    IncidentReport,
    Message,
    Note,
    Referral,
    RemediationAction,
    SimulatorLine,
    Ticket,
    User,
    Validation,
    VaultEntry,
)
from safeguards.sealing import EnvelopeKeys, KeyRing, Sealed, binding

BATCH = 500


@dataclass(frozen=True)
class SealedColumn:
    model: Any
    column: InstrumentedAttribute[Any]
    open: Callable[[bytes, bytes], bytes]
    seal: Callable[[bytes, bytes], Sealed]
    stale: Callable[[bytes], bool]

    @property
    def name(self) -> str:
        return f"{self.model.__tablename__}.{self.column.key}"


def sealed_columns(content: KeyRing, vault: KeyRing, envelopes: EnvelopeKeys) -> list[SealedColumn]:
    """Every sealed column in the schema, with the ring that seals it."""

    def envelope_seal(plain: bytes, aad: bytes) -> Sealed:
        return envelopes.current().seal(plain, aad)

    return [
        SealedColumn(
            Message, Message.text_sealed, content.open, content.seal, content.needs_resealing
        ),
        SealedColumn(
            Attachment, Attachment.data_sealed, content.open, content.seal, content.needs_resealing
        ),
        SealedColumn(
            SimulatorLine,
            SimulatorLine.text_sealed,
            content.open,
            content.seal,
            content.needs_resealing,
        ),
        SealedColumn(Note, Note.text_sealed, content.open, content.seal, content.needs_resealing),
        SealedColumn(
            Referral,
            Referral.reason_sealed,
            content.open,
            content.seal,
            content.needs_resealing,
        ),
        SealedColumn(
            Ticket,
            Ticket.close_reason_sealed,
            content.open,
            content.seal,
            content.needs_resealing,
        ),
        SealedColumn(
            IncidentReport,
            IncidentReport.text_sealed,
            content.open,
            content.seal,
            content.needs_resealing,
        ),
        SealedColumn(
            Validation,
            Validation.summary_sealed,
            content.open,
            content.seal,
            content.needs_resealing,
        ),
        SealedColumn(
            RemediationAction,
            RemediationAction.text_sealed,
            content.open,
            content.seal,
            content.needs_resealing,
        ),
        SealedColumn(
            RemediationAction,
            RemediationAction.owner_sealed,
            content.open,
            content.seal,
            content.needs_resealing,
        ),
        SealedColumn(
            User, User.totp_secret_sealed, content.open, content.seal, content.needs_resealing
        ),
        SealedColumn(
            VaultEntry, VaultEntry.address_sealed, vault.open, vault.seal, vault.needs_resealing
        ),
        SealedColumn(
            InboundEnvelope,
            InboundEnvelope.payload_sealed,
            envelopes.open,
            envelope_seal,
            envelopes.needs_resealing,
        ),
    ]


def _batches(session: Session, target: SealedColumn) -> Iterator[list[Any]]:
    last = None
    while True:
        query = select(target.model).where(target.column.is_not(None)).order_by(target.model.id)
        if last is not None:
            query = query.where(target.model.id > last)
        rows = list(session.scalars(query.limit(BATCH)))
        if not rows:
            return
        yield rows
        last = rows[-1].id


def reseal(
    session: Session,
    columns: list[SealedColumn],
    progress: Callable[[str, int, int], None] = lambda name, done, total: None,
) -> dict[str, int]:
    """Re-seal every value not under its ring's newest key; commit batch by batch."""
    counts: dict[str, int] = {}
    for target in columns:
        total = (
            session.scalar(
                select(func.count()).select_from(target.model).where(target.column.is_not(None))
            )
            or 0
        )
        done = changed = 0
        for rows in _batches(session, target):
            for row in rows:
                blob = getattr(row, target.column.key)
                if target.stale(blob):
                    aad = binding(target.model.__tablename__, target.column.key, row.id)
                    setattr(row, target.column.key, target.seal(target.open(blob, aad), aad))
                    changed += 1
            session.commit()
            done += len(rows)
            progress(target.name, done, total)
        counts[target.name] = changed
    return counts
